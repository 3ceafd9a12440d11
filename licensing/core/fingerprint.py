"""Hardware fingerprint: components, VM/container detection, the signed record and the matching policy.

Every component is reduced on the machine to SHA-384 over a domain-prefixed canonical value, so raw serials,
MAC addresses and machine ids never leave it. The record lists the hashes, which components were found and
which were not, the detected environment (physical / vm / container, with the evidence), and is signed with
HMAC-SHA384 under the key ring's `fingerprint` key (domain `oem/fingerprint/v1`).

All reads go through `SystemProbe`, which resolves every path under a root directory (default "/"), so tests
build fake /sys, /proc and /etc trees. External commands (lsblk, tpm2_readpublic, systemd-detect-virt) are
run only when probing the real root.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from audit.trust.bounded_cache import BoundedCache
from audit.trust.canonical import DOMAIN_FINGERPRINT, canonical_bytes, domain_prefix, signing_input
from audit.trust.hashing import sha384_bytes
from audit.trust.keyring import KeyRing, format_time
from audit.trust.signatures import SignatureError, VerifyingKey, parse_signature, verify_parsed

FINGERPRINT_FORMAT = "oem-fingerprint/1"

COMPONENT_MACHINE_ID = "machine_id"
COMPONENT_CPU = "cpu"
COMPONENT_MAC = "mac"
COMPONENT_DISK = "disk"
COMPONENT_TPM = "tpm"
COMPONENT_USB_DONGLE = "usb_dongle"
CORE_COMPONENTS = (COMPONENT_MACHINE_ID, COMPONENT_CPU, COMPONENT_MAC, COMPONENT_DISK, COMPONENT_TPM)
ALL_COMPONENTS = (*CORE_COMPONENTS, COMPONENT_USB_DONGLE)

ENV_PHYSICAL, ENV_VM, ENV_CONTAINER = "physical", "vm", "container"

_HASH_PATTERN = re.compile(r"^[0-9a-f]{96}\Z")
_DMI_VM_MARKERS = {
    "kvm": "kvm",
    "qemu": "qemu",
    "vmware": "vmware",
    "virtualbox": "virtualbox",
    "innotek": "virtualbox",
    "xen": "xen",
    "bochs": "bochs",
    "virtual machine": "hyper-v",
    "parallels": "parallels",
    "openstack": "openstack",
    "google compute engine": "gce",
    "amazon ec2": "amazon",
}
_CGROUP_CONTAINER_MARKERS = ("docker", "kubepods", "containerd", "lxc", "libpod", "podman")
_VIRTUAL_BLOCK_PREFIXES = ("loop", "ram", "zram", "dm-", "md", "sr", "nbd", "fd")
_USB_DONGLE_PATTERN = re.compile(r"^([0-9a-fA-F]{4}):([0-9a-fA-F]{4}):(.+)\Z")


class FingerprintError(ValueError):
    """A fingerprint record is malformed or its signature fails. One-line message."""


class SystemProbe:
    """Read-only view of a system tree rooted at `root`. The only place fingerprinting touches the OS."""

    def __init__(self, root: str | os.PathLike[str] = "/", *, run_commands: bool | None = None):
        self.root = Path(root)
        # Commands inspect the real machine, so they make sense only when the root is the real one.
        self.run_commands = (self.root.resolve() == Path("/")) if run_commands is None else run_commands

    def path(self, rel: str) -> Path:
        return self.root / rel.lstrip("/")

    def read_text(self, rel: str, limit: int = 1 << 20) -> str | None:
        data = self.read_bytes(rel, limit)
        return None if data is None else data.decode("utf-8", errors="replace")

    def read_bytes(self, rel: str, limit: int = 1 << 20) -> bytes | None:
        """At most `limit` bytes of a regular file (procfs and sysfs files are); anything else is absent. The
        open never blocks, so a FIFO planted in place of /etc/machine-id cannot hang a command."""
        try:
            fd = os.open(self.path(rel), os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
        except OSError:
            return None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                os.close(fd)
                return None
            with os.fdopen(fd, "rb") as handle:
                return handle.read(limit)
        except OSError:
            return None

    def exists(self, rel: str) -> bool:
        return os.path.lexists(self.path(rel))

    def listdir(self, rel: str) -> list[str]:
        try:
            return sorted(os.listdir(self.path(rel)))
        except OSError:
            return []

    def run(self, argv: list[str], timeout: float = 5.0) -> str | None:
        """stdout of a command when probing the real root and the tool is installed; else None."""
        if not self.run_commands or shutil.which(argv[0]) is None:
            return None
        try:
            done = subprocess.run(argv, capture_output=True, timeout=timeout, check=False)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.decode("utf-8", errors="replace") if done.returncode == 0 else None


# ---- component values (raw; hashed before they leave this module) -----------------------------------------
def _machine_id(probe: SystemProbe) -> str | None:
    for rel in ("etc/machine-id", "var/lib/dbus/machine-id"):
        text = (probe.read_text(rel) or "").strip().lower()
        if re.fullmatch(r"[0-9a-f]{32}", text) and text != "0" * 32:
            return text
    return None


def _cpuinfo_first_block(probe: SystemProbe) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in (probe.read_text("proc/cpuinfo") or "").splitlines():
        if not line.strip():
            if fields:
                break
            continue
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip().lower(), value.strip())
    return fields


def _cpu(probe: SystemProbe) -> dict[str, Any] | None:
    info = _cpuinfo_first_block(probe)
    vendor = info.get("vendor_id") or info.get("cpu implementer") or ""
    model = info.get("model name") or info.get("cpu part") or info.get("hardware") or ""
    flags = sorted(set((info.get("flags") or info.get("features") or "").split()))
    # The hypervisor flag differs between a host and its guests; it is evidence, not identity.
    flags = [f for f in flags if f != "hypervisor"]
    if not (vendor or model):
        return None
    return {"vendor": vendor, "model": " ".join(model.split()), "flags": flags}


def _mac_addresses(probe: SystemProbe) -> list[str] | None:
    macs = []
    for name in probe.listdir("sys/class/net"):
        base = f"sys/class/net/{name}"
        if name == "lo" or not probe.exists(f"{base}/device"):
            continue  # loopback and virtual interfaces (bridges, veth, tun, docker0) have no device
        assign_type = (probe.read_text(f"{base}/addr_assign_type") or "0").strip()
        if assign_type not in ("0", ""):
            continue  # 1 = random, 2 = stolen, 3 = set by userspace
        mac = (probe.read_text(f"{base}/address") or "").strip().lower()
        if not re.fullmatch(r"([0-9a-f]{2}:){5}[0-9a-f]{2}", mac) or mac == "00:00:00:00:00:00":
            continue
        if int(mac[:2], 16) & 0x02:
            continue  # locally administered (randomised, VMs, containers)
        macs.append(mac)
    return sorted(set(macs)) or None


def _root_block_device(probe: SystemProbe) -> str | None:
    for line in (probe.read_text("proc/self/mounts") or probe.read_text("proc/mounts") or "").splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[1] == "/" and parts[0].startswith("/dev/"):
            name = parts[0].rsplit("/", 1)[1]
            if probe.exists(f"sys/block/{name}"):
                return name
            for disk in probe.listdir("sys/block"):
                if probe.exists(f"sys/block/{disk}/{name}"):
                    return disk  # `name` is a partition of `disk`
    return None


def _disk_serial(probe: SystemProbe) -> str | None:
    root = _root_block_device(probe)
    candidates = [root] if root else []
    # No resolvable root disk (overlay root in a container): fall back to the first physical disk.
    candidates += [d for d in probe.listdir("sys/block") if not d.startswith(_VIRTUAL_BLOCK_PREFIXES)]
    for disk in candidates:
        for rel in (
            f"sys/block/{disk}/device/serial",
            f"sys/block/{disk}/device/wwid",
            f"sys/block/{disk}/wwid",
        ):
            text = " ".join((probe.read_text(rel) or "").split())
            if text:
                return text
        text = " ".join((probe.run(["lsblk", "-dno", "SERIAL", f"/dev/{disk}"]) or "").split())
        if text:
            return text
    return None


def _tpm_endorsement_key(probe: SystemProbe) -> str | None:
    for tpm in probe.listdir("sys/class/tpm"):
        for rel in (f"sys/class/tpm/{tpm}/pubek", f"sys/class/tpm/{tpm}/device/pubek"):
            data = probe.read_bytes(rel)
            if data and data.strip():
                return sha384_bytes(data.strip())
    # TPM 2.0 exposes no EK in sysfs: its persistent EK handle's name is a digest of the public area.
    out = probe.run(["tpm2_readpublic", "-c", "0x81010001"]) if probe.listdir("sys/class/tpm") else None
    for line in (out or "").splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "name" and value.strip():
            return value.strip().lower()
    return None


def _usb_dongle(probe: SystemProbe, spec: str | None) -> str | None:
    if not spec:
        return None
    match = _USB_DONGLE_PATTERN.match(spec.strip())
    if not match:
        raise FingerprintError("USB dongle must be given as vendor:product:serial (4 hex digits each id)")
    vendor, product, serial = match.group(1).lower(), match.group(2).lower(), match.group(3)
    for dev in probe.listdir("sys/bus/usb/devices"):
        base = f"sys/bus/usb/devices/{dev}"
        if (
            (probe.read_text(f"{base}/idVendor") or "").strip().lower() == vendor
            and (probe.read_text(f"{base}/idProduct") or "").strip().lower() == product
            and (probe.read_text(f"{base}/serial") or "").strip() == serial
        ):
            return f"{vendor}:{product}:{serial}"
    return None


def component_hash(name: str, value: Any) -> str:
    """SHA-384 hex of the domain-prefixed canonical value: the only form a component ever leaves in."""
    return sha384_bytes(
        domain_prefix(DOMAIN_FINGERPRINT) + canonical_bytes({"component": name, "value": value})
    )


def collect_components(probe: SystemProbe, *, usb_dongle: str | None = None) -> dict[str, str]:
    """Hashed components found on this system (absent ones are simply left out)."""
    raw = {
        COMPONENT_MACHINE_ID: _machine_id(probe),
        COMPONENT_CPU: _cpu(probe),
        COMPONENT_MAC: _mac_addresses(probe),
        COMPONENT_DISK: _disk_serial(probe),
        COMPONENT_TPM: _tpm_endorsement_key(probe),
        COMPONENT_USB_DONGLE: _usb_dongle(probe, usb_dongle),
    }
    return {name: component_hash(name, value) for name, value in raw.items() if value is not None}


# ---- environment ------------------------------------------------------------------------------------------
def detect_environment(probe: SystemProbe) -> dict[str, Any]:
    """{"kind": physical|vm|container, "name": ..., "evidence": [...]}. Reported, never silently accepted."""
    container: list[str] = []
    vm: list[str] = []
    names: list[str] = []
    if probe.exists(".dockerenv"):
        container.append("/.dockerenv exists")
        names.append("docker")
    if probe.exists("run/.containerenv"):
        container.append("/run/.containerenv exists")
        names.append("podman")
    cgroup = (probe.read_text("proc/1/cgroup") or "").lower()
    for marker in _CGROUP_CONTAINER_MARKERS:
        if marker in cgroup:
            container.append(f"/proc/1/cgroup mentions {marker}")
            names.append(marker)
            break
    detected = (probe.run(["systemd-detect-virt"]) or "").strip()
    if detected and detected != "none":
        kind_list = container if (probe.run(["systemd-detect-virt", "--container"]) or "").strip() else vm
        kind_list.append(f"systemd-detect-virt: {detected}")
        names.append(detected)
    for rel in (
        "sys/class/dmi/id/product_name",
        "sys/class/dmi/id/sys_vendor",
        "sys/class/dmi/id/board_vendor",
    ):
        text = " ".join((probe.read_text(rel) or "").split())
        for marker, name in _DMI_VM_MARKERS.items():
            if marker in text.lower():
                vm.append(f"DMI {rel.rsplit('/', 1)[1]}: {text}")
                names.append(name)
                break
    if "hypervisor" in (_cpuinfo_first_block(probe).get("flags") or "").split():
        vm.append("cpu flag hypervisor")
    kind = ENV_CONTAINER if container else ENV_VM if vm else ENV_PHYSICAL
    name = next(iter(names), "unknown") if kind != ENV_PHYSICAL else "none"
    return {"kind": kind, "name": name, "evidence": container + vm}


# ---- the signed record ------------------------------------------------------------------------------------
def record_body(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "signature"}


def build_fingerprint(
    probe: SystemProbe, *, keyring: KeyRing, now: datetime, usb_dongle: str | None = None
) -> dict[str, Any]:
    """Collect, hash, detect the environment and sign with the ring's `fingerprint` HMAC key."""
    components = collect_components(probe, usb_dongle=usb_dongle)
    expected = [*CORE_COMPONENTS, *([COMPONENT_USB_DONGLE] if usb_dongle else [])]
    body = {
        "format": FINGERPRINT_FORMAT,
        "components": components,
        "found": sorted(components),
        "missing": [c for c in expected if c not in components],
        "environment": detect_environment(probe),
        "created_at": format_time(now),
    }
    signer = keyring.hmac_signer("fingerprint")
    return {**body, "signature": signer.sign(DOMAIN_FINGERPRINT, body)}


_RECORD_FIELDS = frozenset(
    {"format", "components", "found", "missing", "environment", "created_at", "signature"}
)
_ENVIRONMENT_FIELDS = frozenset({"kind", "name", "evidence"})


def check_record_shape(record: Any) -> dict[str, str]:
    """Structural check of a fingerprint record; returns its components. Raises FingerprintError."""
    if not isinstance(record, dict):
        raise FingerprintError("fingerprint record is not an object")
    if record.keys() != _RECORD_FIELDS:
        raise FingerprintError(f"fingerprint record fields must be {sorted(_RECORD_FIELDS)}")
    if record["format"] != FINGERPRINT_FORMAT:
        raise FingerprintError(f"unknown fingerprint format {str(record['format'])[:40]!r}")
    components = record["components"]
    check_components(components)
    if record["found"] != sorted(components):
        raise FingerprintError("fingerprint record 'found' does not list its components")
    env = record["environment"]
    if (
        not isinstance(env, dict)
        or env.keys() != _ENVIRONMENT_FIELDS
        or env["kind"] not in (ENV_PHYSICAL, ENV_VM, ENV_CONTAINER)
    ):
        raise FingerprintError("fingerprint record has a malformed environment")
    return components


# a device reports one set of components; a vendor console checks a few requests and licenses in a row
_well_formed: BoundedCache[tuple, bool] = BoundedCache(8)


def check_components(components: Any) -> None:
    if not isinstance(components, dict) or not components:
        raise FingerprintError("fingerprint components must be a non-empty object")
    # Every license check runs this on the device's record: a mapping once found well formed is known by
    # its exact items (only str keys and values are remembered, compared by value). It proves nothing
    # more: the record's signature and the match against the license are checked on every call.
    try:
        items = tuple(components.items())
        if _well_formed.get(items):
            return
    except TypeError:  # an unhashable value: the checks below name it
        items = None
    for name, value in components.items():
        if name not in ALL_COMPONENTS:
            raise FingerprintError(f"unknown fingerprint component {str(name)[:40]!r}")
        if not isinstance(value, str) or not _HASH_PATTERN.match(value):
            raise FingerprintError(f"fingerprint component {name} is not a SHA-384 hex digest")
    if items is not None and all(type(name) is str and type(value) is str for name, value in items):
        _well_formed.put(items, True)


def verify_fingerprint_record(
    record: Any, *, keyring: KeyRing | None = None, key: VerifyingKey | None = None
) -> None:
    """Shape + HMAC of a record, with the ring's fingerprint key (by kid) or an explicit key."""
    check_record_shape(record)
    try:
        if key is not None:
            verify_parsed(
                parse_signature(record["signature"]),
                signing_input(DOMAIN_FINGERPRINT, record_body(record)),
                key,
            )
        elif keyring is not None:
            keyring.verify(
                record["signature"],
                signing_input(DOMAIN_FINGERPRINT, record_body(record)),
                purpose="fingerprint",
            )
        else:
            raise FingerprintError("no key to verify the fingerprint signature with")
    except SignatureError as exc:
        raise FingerprintError(f"fingerprint signature does not verify: {exc}") from None


# ---- matching ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, init=False)
class MatchResult:
    ok: bool
    matched: tuple[str, ...]
    changed: tuple[str, ...]  # bound by the license, different or missing on this device
    reason: str | None = None

    def __init__(
        self, ok: bool, matched: tuple[str, ...], changed: tuple[str, ...], reason: str | None = None
    ) -> None:
        # One write of the instance's fields: a frozen dataclass's own __init__ makes one guarded
        # setattr call per field, and every license check builds one of these.
        object.__setattr__(
            self, "__dict__", {"ok": ok, "matched": matched, "changed": changed, "reason": reason}
        )


@dataclass(frozen=True)
class MatchPolicy:
    """At least `min_matches` of the core components match, every `mandatory` one matches, and a USB dongle
    bound by the license (when `dongle_mandatory_when_bound`) is plugged in. Licenses name their policy
    (signed), so the admin's choice at provisioning is the one the device is held to."""

    min_matches: int = 3
    mandatory: tuple[str, ...] = (COMPONENT_MACHINE_ID,)
    core: tuple[str, ...] = field(default=CORE_COMPONENTS)
    dongle_mandatory_when_bound: bool = True
    name: str = "3-of-5+machine_id"
    # `core` as a set, made once: counting the matched core components is then one C call per check
    _core_set: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_core_set", frozenset(self.core))

    def match(self, licensed: dict[str, str], device: dict[str, str]) -> MatchResult:
        matched: list[str] = []
        changed: list[str] = []
        for c in ALL_COMPONENTS:
            if c in licensed:
                if device.get(c) == licensed[c]:
                    matched.append(c)
                else:
                    changed.append(c)
        core_matched = len(self._core_set.intersection(matched))
        problems = [f"{c} does not match" for c in self.mandatory if c not in matched]
        if self.dongle_mandatory_when_bound and COMPONENT_USB_DONGLE in changed:
            problems.append("the licensed USB dongle is not present")
        if core_matched < self.min_matches:
            problems.append(f"only {core_matched} of the required {self.min_matches} components match")
        reason = None
        if problems:
            reason = f"device fingerprint does not match policy {self.name}: " + "; ".join(problems)
            if changed:
                reason += f" (changed: {', '.join(changed)})"
        return MatchResult(not problems, tuple(matched), tuple(changed), reason)

    def unmet_by(self, components: dict[str, str]) -> str | None:
        """Why a device reporting `components` could never satisfy this policy, or None when it can."""
        core = [c for c in components if c in self.core]
        absent = [c for c in self.mandatory if c not in components]
        if absent or len(core) < self.min_matches:
            return (
                f"device reports {len(core)} stable components ({', '.join(sorted(components)) or 'none'}); "
                f"policy {self.name} needs {self.min_matches} including {', '.join(self.mandatory)}"
            )
        return None


DEFAULT_POLICY = MatchPolicy()
# Containers and small VPSs expose two stable components: the machine id and the CPU.
CONTAINER_POLICY = MatchPolicy(
    min_matches=2, mandatory=(COMPONENT_MACHINE_ID, COMPONENT_CPU), name="machine_id+cpu"
)
POLICIES = {p.name: p for p in (DEFAULT_POLICY, CONTAINER_POLICY)}


def policy_named(name: object) -> MatchPolicy:
    policy = POLICIES.get(name) if isinstance(name, str) else None
    if policy is None:
        raise FingerprintError(f"unknown match policy {str(name)[:40]!r} (known: {', '.join(POLICIES)})")
    return policy
