"""Offline license activation for the desktop client. No Qt.

The device's request is built and written exactly as ``license_request`` does; a license (file, USB stick
or QR image) is checked with ``licensing.core.verify.verify_license`` against what the device holds
(``licensing.core.device.device_state``: a fresh fingerprint, the CRL, the high-water mark and this
installation's trust-root pin) and, when valid, installed through ``activate_license`` (the same command an
admin runs), so the two paths cannot drift apart. The installed license is judged by
``check_installed_license``, as the daemon judges it. Licenses signed with the development key verify only
with ``OEM_ALLOW_DEVELOPMENT_LICENSES=true`` (``licensing.core.devkeys``), as everywhere else.
"""

from __future__ import annotations

import contextlib
import io
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from audit.trust import paths
from audit.trust.canonical import canonical_bytes
from audit.trust.fsutil import atomic_write_bytes
from audit.trust.keyring import KeyRing, utc_now
from licensing.core import qr
from licensing.core.cli import activate_license_main, system_probe
from licensing.core.device import check_installed_license, device_state
from licensing.core.devkeys import development_licenses_allowed
from licensing.core.fingerprint import build_fingerprint
from licensing.core.license_file import License, LicenseError, parse_license, read_license_qr_png
from licensing.core.pin import installation_pin
from licensing.core.request import build_request
from licensing.core.request import to_qr_text as request_to_qr_text
from licensing.core.verify import verify_license

MAX_LICENSE_FILE = 1 << 20
REMOVABLE_ROOTS = ("/media/", "/run/media/", "/mnt/")
_PSEUDO_FS = {"proc", "sysfs", "tmpfs", "devtmpfs", "devpts", "cgroup", "cgroup2", "overlay", "squashfs"}


def _usb_dongle() -> str | None:
    """The optional dongle that is part of the fingerprint (as the licensing commands read it)."""
    return os.environ.get("OEM_LICENSE_USB_DONGLE") or None


@dataclass(frozen=True)
class Request:
    document: dict
    qr_text: str
    png: bytes

    @property
    def digest(self) -> str:
        return str(self.document["request_digest"])

    def file_stem(self) -> str:
        return f"license_request-{self.digest.split(':')[-1][:12]}"


@dataclass(frozen=True)
class Verdict:
    ok: bool
    line: str
    license: License | None = None


def make_request() -> Request:
    """This device's request, pinned to its installation's trust root (as ``license_request`` writes it)."""
    now = utc_now()
    data_dir = paths.data_dir()
    record = build_fingerprint(
        system_probe(), keyring=KeyRing.load(data_dir), now=now, usb_dongle=_usb_dongle()
    )
    document = build_request(
        record, hostname=socket.gethostname(), now=now, trust_root=installation_pin(data_dir)
    )
    text = request_to_qr_text(document)
    return Request(document, text, qr.render_png(text))


def save_request(request: Request, directory: Path) -> list[Path]:
    """Write ``<stem>.json`` and ``<stem>.png`` into ``directory`` (a USB stick or any folder)."""
    directory = Path(directory).expanduser()
    if not directory.is_dir():
        raise ValueError(f"{directory} is not a directory")
    if not os.access(directory, os.W_OK):
        raise ValueError(f"{directory} is not writable")
    json_path = directory / f"{request.file_stem()}.json"
    png_path = directory / f"{request.file_stem()}.png"
    atomic_write_bytes(json_path, canonical_bytes(request.document) + b"\n")
    atomic_write_bytes(png_path, request.png)
    return [json_path, png_path]


def removable_mounts(
    mounts_file: Path = Path("/proc/mounts"), sys_block: Path = Path("/sys/block")
) -> list[str]:
    """Mounted file systems an operator would plug in: under /media, /run/media, /mnt, or on a block device
    the kernel marks removable."""
    try:
        lines = mounts_file.read_text().splitlines()
    except OSError:
        return []
    found: list[str] = []
    for line in lines:
        parts = line.split()
        if len(parts) < 3 or parts[2] in _PSEUDO_FS:
            continue
        device, target = parts[0], parts[1].replace("\\040", " ")
        removable = False
        if device.startswith("/dev/"):
            name = device[5:].rstrip("0123456789")
            name = name[:-1] if name.endswith("p") and name[:-1].startswith(("nvme", "mmcblk")) else name
            with contextlib.suppress(OSError):
                removable = (sys_block / name / "removable").read_text().strip() == "1"
        if (removable or target.startswith(REMOVABLE_ROOTS)) and target not in found:
            found.append(target)
    return found


def license_files_in(directory: Path) -> list[Path]:
    """License candidates at the top of a mount: ``*.json`` files other than license requests."""
    directory = Path(directory)
    try:
        entries = sorted(directory.iterdir())
    except OSError as exc:
        raise ValueError(f"cannot list {directory}: {exc.strerror}") from None
    return [
        p for p in entries if p.is_file() and p.suffix == ".json" and not p.name.startswith("license_request")
    ]


def read_license(path: Path) -> License:
    path = Path(path)
    if path.suffix.lower() == ".png":
        return read_license_qr_png(path)
    try:
        if path.stat().st_size > MAX_LICENSE_FILE:
            raise LicenseError(f"{path} is larger than {MAX_LICENSE_FILE} bytes")
        return parse_license(path.read_bytes())
    except OSError as exc:
        raise LicenseError(f"cannot read {path}: {exc.strerror}") from None


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def check(path: Path) -> Verdict:
    """The one-line verdict of ``verify_license`` on this machine and installation, now."""
    try:
        lic = read_license(path)
    except LicenseError as exc:
        return Verdict(False, f"refused: {_one_line(exc)}")
    now = utc_now()
    try:
        allow_dev = development_licenses_allowed()
        data_dir = paths.data_dir()
        device = device_state(
            data_dir,
            KeyRing.load(data_dir),
            now=now,
            probe=system_probe(),
            usb_dongle=_usb_dongle(),
            allow_development_keys=allow_dev,
        )
    except (OSError, ValueError) as exc:  # no installation, a tampered CRL or mark, a bad switch value
        return Verdict(False, f"license {lic.serial} refused: {_one_line(exc)}", lic)
    status = verify_license(
        lic,
        fingerprint_record=device.record,
        now=now,
        revoked_serials=device.crl.serials if device.crl else (),
        high_water=device.mark,
        allow_development_keys=allow_dev,
        trust_root=device.pin,
    )
    summary = _one_line(status.summary())
    if not status.valid:
        return Verdict(False, f"license {lic.serial} refused: {summary}", lic)
    return Verdict(True, f"{summary}; stages {','.join(lic.stages)}, expires {lic.expires_at:%Y-%m-%d}", lic)


def installed_status(stage: str | None = None) -> Verdict:
    """The installed license as the daemon judges it (``check_installed_license``), in one line."""
    try:
        allow_dev = development_licenses_allowed()
        data_dir = paths.data_dir()
        status = check_installed_license(
            data_dir,
            KeyRing.load(data_dir),
            stage=stage,
            now=utc_now(),
            probe=system_probe(),
            usb_dongle=_usb_dongle(),
            allow_development_keys=allow_dev,
        )
    except (OSError, ValueError) as exc:
        return Verdict(False, f"no usable license: {_one_line(exc)}")
    summary = _one_line(status.summary())
    return Verdict(status.valid, summary if status.valid else f"no usable license: {summary}")


def development_keys_allowed() -> bool:
    """Whether development-key licenses verify here (the screen then says so in red); a bad value is off."""
    try:
        return development_licenses_allowed()
    except ValueError:
        return False


def install(path: Path) -> Verdict:
    """Check, then install through ``activate_license`` (its first output line, or its one error line)."""
    verdict = check(path)
    if not verdict.ok:
        return verdict
    args = ["--qr", str(path)] if Path(path).suffix.lower() == ".png" else [str(path)]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = activate_license_main(args)
    if code != 0:
        line = (err.getvalue().strip().splitlines() or ["activation failed"])[0]
        return Verdict(False, line.removeprefix("error: "), verdict.license)
    first = (out.getvalue().strip().splitlines() or ["activated"])[0]
    return Verdict(True, first, verdict.license)
