"""The license registry `<data_dir>/licenses/registry.jsonl`: append-only, hash-chained, every line signed.

Line = canonical JSON {"seq", "kind", "at", "prev_hash", "data", "signature"}; `prev_hash` is
"sha384:" + SHA-384 of the previous line's bytes (without its newline), the first line's is a genesis
hash bound to the registry name. Each line is signed with Ed25519 by the vendor license key over
signing_input("oem/registry/v1", {"registry": name, "entry": line without signature}). Appends hold an
exclusive lock, re-verify the whole file, enforce the policy below, write one line and fsync; a registry
that fails verification is never appended to.

Kinds and the policy replayed from the lines (by appends and by `verify_registry` alike):
- issued {serial, license, device_digest, request_digest}: serial = max serial + 1 (monotonic); a device
  (digest of the licensed components) holds at most one live license: a new one for it is a `reissued`.
- reissued {old_serial, serial, license, device_digest, reason}: the old license is superseded (and listed in
  the CRL); the new serial is again max + 1.
- revoked {serial, reason}: a live license becomes revoked.
- activated {serial, activation_id, device_digest}: only for a live license, at most `max_activations`
  active activations at any time; an activation id cannot be active twice.
- deactivated {serial, activation_id}: frees that activation's slot.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from audit.trust import paths
from audit.trust.canonical import (
    DOMAIN_REGISTRY,
    StrictJSONError,
    canonical_bytes,
    domain_prefix,
    strict_loads,
)
from audit.trust.fsutil import (
    MAX_JSON_FILE,
    MAX_LOG_FILE,
    atomic_write_bytes,
    exclusive_lock,
    fsync_dir,
    read_regular_file,
)
from audit.trust.hashing import sha384_bytes
from audit.trust.keyring import KeyRing, format_time, parse_time
from audit.trust.signatures import Ed25519Signer
from audit.trust.witness import Mark, Witness, WitnessError, witness_for
from licensing.core import intent as intents
from licensing.core.crl import build_crl
from licensing.core.devkeys import resolve
from licensing.core.intent import (
    Intent,
    PlannedWrite,
    apply_writes,
    clear_intent,
    intent_path,
    load_intent,
    operation_key,
    save_intent,
)
from licensing.core.license_file import License, LicenseError, parse_license
from licensing.core.trusted_keys import TRUSTED
from licensing.core.vendor_trust import TrustedKeys, TrustError, verify_vendor_signature

REGISTRY_NAME = "licenses/registry"
KINDS = ("issued", "revoked", "reissued", "activated", "deactivated")
_OPERATION = {
    "issued": "provision",
    "reissued": "provision",
    "revoked": "revoke",
    "activated": "activate",
    "deactivated": "activate",
}
LIVE, REVOKED, SUPERSEDED = "live", "revoked", "superseded"
_DATA_FIELDS = {
    "issued": {"serial", "license", "device_digest", "request_digest"},
    "reissued": {"old_serial", "serial", "license", "device_digest", "reason"},
    "revoked": {"serial", "reason"},
    "activated": {"serial", "activation_id", "device_digest"},
    "deactivated": {"serial", "activation_id"},
}
_ACTIVATION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")


class RegistryError(ValueError):
    """The registry is broken, or an append violates the policy. One-line message."""


def registry_path(data_dir: Path | None = None) -> Path:
    return (data_dir or paths.data_dir()) / "licenses" / "registry.jsonl"


def crl_path(data_dir: Path | None = None) -> Path:
    return (data_dir or paths.data_dir()) / "licenses" / "crl.json"


def genesis_hash(name: str = REGISTRY_NAME) -> str:
    return "sha384:" + sha384_bytes(domain_prefix(DOMAIN_REGISTRY) + b"genesis\x00" + name.encode())


def line_hash(line: bytes) -> str:
    return "sha384:" + sha384_bytes(line)


def device_digest(components: dict[str, str]) -> str:
    return "sha384:" + sha384_bytes(canonical_bytes(components))


def _signed_body(entry: dict[str, Any], name: str) -> dict[str, Any]:
    return {"registry": name, "entry": {k: v for k, v in entry.items() if k != "signature"}}


def checkpoint_path(path: Path) -> Path:
    return path.with_name(path.name.replace(".jsonl", "") + ".checkpoint.json")


def _checkpoint_body(name: str, count: int, head: str) -> dict[str, Any]:
    return {"registry": name, "checkpoint": {"count": count, "head": head}}


def _check_checkpoint(
    path: Path, state: RegistryState, trusted_keys, allow_dev: bool, name: str
) -> list[str]:
    """A vendor-signed (count, head) beside the registry: cutting lines off its end is caught, since no one
    without the vendor key can sign a shorter checkpoint."""
    target = checkpoint_path(path)
    if not target.exists():
        return (
            [f"{target.name}:0: missing checkpoint (the registry's tail cannot be trusted)"]
            if state.seq
            else []
        )
    try:
        doc = strict_loads(read_regular_file(target, max_bytes=MAX_JSON_FILE, what="registry checkpoint"))
        if not isinstance(doc, dict) or set(doc) != {"count", "head", "signature"}:
            raise RegistryError("unexpected checkpoint structure")
        verify_vendor_signature(
            doc["signature"],
            DOMAIN_REGISTRY,
            _checkpoint_body(name, doc["count"], doc["head"]),
            trusted_keys=trusted_keys,
            allow_development_keys=allow_dev,
        )
    except (OSError, StrictJSONError, RegistryError, TrustError) as exc:
        return [f"{target.name}:0: checkpoint does not verify: {exc}"]
    if (doc["count"], doc["head"]) != (state.seq, state.head):
        return [
            f"{target.name}:0: registry has {state.seq} entries but its signed checkpoint says {doc['count']}"
            " (lines removed or added outside the registry)"
        ]
    return []


@dataclass
class LicenseState:
    serial: int
    status: str
    device_digest: str
    max_activations: int
    license: License
    active: set[str] = field(default_factory=set)
    revocation_reason: str | None = None
    revoked_at: str | None = None


@dataclass
class RegistryState:
    """What the lines say, replayed in order."""

    seq: int = 0
    head: str = ""
    licenses: dict[int, LicenseState] = field(default_factory=dict)

    @property
    def max_serial(self) -> int:
        return max(self.licenses, default=0)

    def next_serial(self) -> int:
        return self.max_serial + 1

    def live_for_device(self, digest: str) -> LicenseState | None:
        return next(
            (s for s in self.licenses.values() if s.status == LIVE and s.device_digest == digest), None
        )

    def revoked_list(self) -> list[dict[str, Any]]:
        return [
            {"serial": s.serial, "reason": s.revocation_reason or s.status, "revoked_at": s.revoked_at}
            for s in sorted(self.licenses.values(), key=lambda s: s.serial)
            if s.status != LIVE
        ]

    def apply(self, kind: str, data: dict[str, Any], at: str) -> None:
        """Apply one entry's effect; raises RegistryError when the policy forbids it."""
        if set(data) != _DATA_FIELDS[kind]:
            raise RegistryError(f"{kind} entry fields must be {sorted(_DATA_FIELDS[kind])}")
        if kind in ("issued", "reissued"):
            try:
                lic = parse_license(data["license"])
            except LicenseError as exc:
                raise RegistryError(f"{kind} entry holds a bad license: {exc}") from None
            if lic.serial != data["serial"] or data["serial"] != self.next_serial():
                raise RegistryError(f"serial {data['serial']} is not the next serial {self.next_serial()}")
            if data["device_digest"] != device_digest(lic.components):
                raise RegistryError("device_digest does not match the license's components")
            if kind == "issued":
                live = self.live_for_device(data["device_digest"])
                if live is not None:
                    raise RegistryError(
                        f"device already holds live license {live.serial}: reissue or revoke it first"
                    )
            else:
                old = self._live(data["old_serial"])
                old.status, old.revocation_reason, old.revoked_at = (
                    SUPERSEDED,
                    f"reissued as {lic.serial}",
                    at,
                )
                old.active.clear()
            self.licenses[lic.serial] = LicenseState(
                lic.serial, LIVE, data["device_digest"], lic.max_activations, lic
            )
        elif kind == "revoked":
            state = self._live(data["serial"])
            state.status, state.revocation_reason, state.revoked_at = REVOKED, data["reason"], at
            state.active.clear()
        elif kind == "activated":
            state = self._live(data["serial"])
            activation_id = data["activation_id"]
            if not isinstance(activation_id, str) or not _ACTIVATION_ID.match(activation_id):
                raise RegistryError("activation id must be [A-Za-z0-9._-], at most 64 characters")
            if activation_id in state.active:
                raise RegistryError(f"activation {activation_id} of license {state.serial} is already active")
            if len(state.active) >= state.max_activations:
                raise RegistryError(
                    f"license {state.serial} already has {len(state.active)} of {state.max_activations} "
                    "allowed active activations"
                )
            state.active.add(activation_id)
        elif kind == "deactivated":
            state = self._get(data["serial"])
            if data["activation_id"] not in state.active:
                raise RegistryError(
                    f"activation {data['activation_id']} of license {state.serial} is not active"
                )
            state.active.discard(data["activation_id"])

    def _get(self, serial: Any) -> LicenseState:
        if type(serial) is not int or serial not in self.licenses:
            raise RegistryError(f"license serial {serial!r} was never issued")
        return self.licenses[serial]

    def _live(self, serial: Any) -> LicenseState:
        state = self._get(serial)
        if state.status != LIVE:
            raise RegistryError(f"license {serial} is {state.status}")
        return state


def _check_line(
    raw: bytes, expected_seq: int, expected_prev: str, name: str, trusted_keys: TrustedKeys, allow_dev: bool
) -> dict[str, Any]:
    """Parse and authenticate one line (without its newline). Raises RegistryError."""
    try:
        entry = strict_loads(raw)
    except StrictJSONError as exc:
        raise RegistryError(f"not strict JSON: {exc}") from None
    if not isinstance(entry, dict) or set(entry) != {"seq", "kind", "at", "prev_hash", "data", "signature"}:
        raise RegistryError("entry has unexpected fields")
    if canonical_bytes(entry) != raw:
        raise RegistryError("entry is not in canonical form")
    try:
        verify_vendor_signature(
            entry["signature"],
            DOMAIN_REGISTRY,
            _signed_body(entry, name),
            trusted_keys=trusted_keys,
            allow_development_keys=allow_dev,
        )
    except TrustError as exc:
        raise RegistryError(f"signature: {exc}") from None
    if entry["seq"] != expected_seq:
        raise RegistryError(f"seq {entry['seq']} where {expected_seq} was expected (line deleted or moved?)")
    if entry["prev_hash"] != expected_prev:
        raise RegistryError("prev_hash does not match the previous line (line edited, deleted or moved?)")
    if entry["kind"] not in KINDS or not isinstance(entry["data"], dict):
        raise RegistryError(f"unknown entry kind {str(entry['kind'])[:32]!r}")
    try:
        parse_time(entry["at"])
    except (TypeError, ValueError):
        raise RegistryError("entry time is not a UTC timestamp") from None
    return entry


def _scan(
    path: Path, trusted_keys: TrustedKeys, allow_dev: bool, name: str
) -> tuple[RegistryState, list[str]]:
    return _scan_with_checkpoint(path, trusted_keys, allow_dev, name)


def _scan_lines(
    path: Path, trusted_keys: TrustedKeys, allow_dev: bool, name: str
) -> tuple[RegistryState, list[str]]:
    state = RegistryState(head=genesis_hash(name))
    problems: list[str] = []
    try:
        data = read_regular_file(path, max_bytes=MAX_LOG_FILE, what="license registry")
    except FileNotFoundError:
        return state, problems
    except OSError as exc:
        return state, [f"{path.name}: cannot read: {exc}"]
    if not data:
        return state, problems
    lines = data.split(b"\n")
    if lines[-1] != b"":
        problems.append(f"{path.name}:{len(lines)}: incomplete last line (no newline; interrupted append?)")
    lines = lines[:-1] if lines[-1] == b"" else lines
    for number, raw in enumerate(lines, start=1):
        try:
            entry = _check_line(raw, state.seq + 1, state.head, name, trusted_keys, allow_dev)
            state.apply(entry["kind"], entry["data"], entry["at"])
        except RegistryError as exc:
            problems.append(f"{path.name}:{number}: {exc}")
            # Keep going from this line's own claims so one bad line reports once, plus its neighbour.
            seq = _peek_seq(raw)
            state.seq = seq if seq is not None else state.seq + 1
        else:
            state.seq = entry["seq"]
        state.head = line_hash(raw)
    return state, problems


def _scan_prefix_head(path: Path, count: int, name: str) -> str:
    """Hash of line `count` (the genesis hash for 0)."""
    lines = read_regular_file(path, max_bytes=MAX_LOG_FILE, what="license registry").split(b"\n")
    return line_hash(lines[count - 1]) if count else genesis_hash(name)


def _peek_seq(raw: bytes) -> int | None:
    try:
        value = json.loads(raw).get("seq")
    except (ValueError, AttributeError, RecursionError):  # the line already failed strict parsing
        return None
    return value if type(value) is int else None


def verify_registry(
    path: Path | str,
    trusted_keys: TrustedKeys = TRUSTED,
    *,
    allow_development_keys: bool | None = None,
    name: str = REGISTRY_NAME,
    witness: Witness | bool = True,
) -> list[str]:
    """Every problem as "registry.jsonl:<line>: <reason>"; an empty list means the registry verifies.

    `witness`: True checks the registry against the witness of its data dir (`<data dir>/licenses/...`),
    so an older registry + checkpoint is refused; False only for a copy examined outside its data dir."""
    path = Path(path)
    state, problems = _scan(path, trusted_keys, resolve(allow_development_keys), name)
    chosen = _witness_of(path, witness)
    if not problems and chosen is not None:
        try:
            _check_witness(chosen, path, state, name)
        except WitnessError as exc:
            problems.append(f"{path.name}:0: {exc}")
    return problems


REGISTRY_WITNESS_KEY = "licenses/registry"


def _witness_of(path: Path, witness: Witness | bool) -> Witness | None:
    if witness is False:
        return None
    if witness is True:
        return witness_for(path.parent.parent)
    return witness


def _mark(state: RegistryState) -> Mark:
    return Mark(state.seq, state.head)


def _check_witness(witness: Witness, path: Path, state: RegistryState, name: str) -> None:
    """The registry must be at or beyond the highest (entries, head) ever seen, and extend it."""
    witness.check(
        REGISTRY_WITNESS_KEY,
        _mark(state),
        label=f"{path} (+ {checkpoint_path(path).name})",
        head_at=lambda seq: _scan_prefix_head(path, seq, name),
    )


def _scan_with_checkpoint(path: Path, trusted_keys, allow_dev: bool, name: str):
    state, problems = _scan_lines(path, trusted_keys, allow_dev, name)
    if not problems:
        problems = _check_checkpoint(path, state, trusted_keys, allow_dev, name)
    return state, problems


class Registry:
    def __init__(
        self,
        path: Path | str | None = None,
        *,
        trusted_keys: TrustedKeys = TRUSTED,
        allow_development_keys: bool | None = None,
        name: str = REGISTRY_NAME,
        keyring: KeyRing | None = None,
        witness: Witness | bool = True,
    ):
        self.path = Path(path) if path is not None else registry_path()
        self.keyring = keyring  # signs and checks intents; default: the key ring of the registry's data dir
        self._witness_choice = (
            witness  # True: the witness of the registry's data dir (licenses/registry.jsonl)
        )
        self._witness: Witness | None = witness if isinstance(witness, Witness) else None
        self.trusted_keys = trusted_keys
        self.allow_development_keys = resolve(allow_development_keys)
        self.name = name

    @property
    def _lock_path(self) -> Path:
        return self.path.with_name(f".{self.path.name}.lock")

    @property
    def witness(self) -> Witness | None:
        if self._witness is None and self._witness_choice is not False:
            self._witness = _witness_of(self.path, self._witness_choice)
        return self._witness

    def read_state(self) -> RegistryState:
        """Replay a registry that verifies completely and is not behind its witness; else RegistryError."""
        state, problems = _scan(self.path, self.trusted_keys, self.allow_development_keys, self.name)
        if problems:
            more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
            raise RegistryError(f"registry does not verify: {problems[0]}{more}")
        if self.witness is not None:
            _check_witness(self.witness, self.path, state, self.name)
        return state

    def _finish_interrupted_append(self, signer: Ed25519Signer) -> None:
        """An append writes its line, then the checkpoint. If it died in between, the registry holds exactly
        one valid line more than the checkpoint covers: seal it now (the line itself is vendor-signed)."""
        state, problems = _scan_lines(self.path, self.trusted_keys, self.allow_development_keys, self.name)
        if problems or not state.seq:
            return
        target = checkpoint_path(self.path)
        try:
            doc = (
                strict_loads(read_regular_file(target, max_bytes=MAX_JSON_FILE, what="registry checkpoint"))
                if target.exists()
                else {"count": 0}
            )
        except (OSError, StrictJSONError):
            return
        if not isinstance(doc, dict) or doc.get("count") != state.seq - 1:
            return
        previous = _scan_prefix_head(self.path, state.seq - 1, self.name)
        if state.seq > 1 and doc.get("head") != previous:
            return
        self._write_checkpoint(signer, state)

    def _checkpoint_bytes(self, signer: Ed25519Signer, state: RegistryState) -> bytes:
        checkpoint = dict(_checkpoint_body(self.name, state.seq, state.head)["checkpoint"])
        checkpoint["signature"] = signer.sign(
            DOMAIN_REGISTRY, _checkpoint_body(self.name, state.seq, state.head)
        )
        return canonical_bytes(checkpoint) + b"\n"

    def _write_checkpoint(self, signer: Ed25519Signer, state: RegistryState) -> None:
        atomic_write_bytes(checkpoint_path(self.path), self._checkpoint_bytes(signer, state))

    # ---- intents: an operation completes entirely or leaves no trace (licensing.core.intent) ----
    @property
    def intent_path(self) -> Path:
        return intent_path(self.path.parent)

    def _intent_keyring(self) -> KeyRing:
        if self.keyring is None:
            self.keyring = KeyRing.load(self.path.parent.parent)
        return self.keyring

    def recover(self) -> Intent | None:
        """Finish or drop a pending operation (see licensing.core.intent); returns it when it was finished."""
        with exclusive_lock(self._lock_path):
            return self._recover_locked()

    def _recover_locked(self) -> Intent | None:
        ipath = self.intent_path
        if not os.path.lexists(ipath):
            return None
        intent = load_intent(ipath, self._intent_keyring())
        if intent is None:
            return None
        if intent.line is None or intent.registry_seq is None:
            apply_writes(intent)
            clear_intent(ipath)
            return intent
        try:
            data = read_regular_file(self.path, max_bytes=MAX_LOG_FILE, what="license registry")
        except FileNotFoundError:
            data = b""
        cut = data.rfind(b"\n") + 1
        tail = data[cut:]
        if tail and (intent.line + b"\n").startswith(tail):
            # The append died inside its own line write: the partial line is ours, unsigned garbage; cut it.
            os.truncate(self.path, cut)
            data = data[:cut]
        lines = data.split(b"\n")[:-1] if data else []
        seq = intent.registry_seq
        if len(lines) >= seq and lines[seq - 1] == intent.line:
            writes = intent.writes
            if len(lines) > seq:  # never put an older checkpoint over a newer registry
                writes = tuple(w for w in writes if w.path != checkpoint_path(self.path))
            apply_writes(Intent(intent.op, intent.key, seq, intent.line, writes, intent.summary))
            if len(lines) == seq:
                self._advance_witness(RegistryState(seq=seq, head=line_hash(intent.line)))
            clear_intent(ipath)
            return intent
        if len(lines) == seq - 1:
            clear_intent(ipath)  # it died before its commit point: nothing else was written
            return None
        raise RegistryError(
            f"{ipath.name}: pending {intent.op} names {self.path.name} line {seq}, but the registry holds "
            f"{len(lines)} lines without it; resolve by hand"
        )

    def _append(
        self,
        signer: Ed25519Signer,
        at: datetime,
        make: Callable[[RegistryState], tuple[str, dict[str, Any]]],
        *,
        outputs: Callable[[dict[str, Any], RegistryState], list[PlannedWrite]] | None = None,
        op: str = "",
        key: str = "",
        summary: str | Callable[[dict[str, Any]], str] = "",
    ) -> tuple[dict[str, Any], RegistryState]:
        """Append one line. Every byte the operation writes (line, checkpoint, `outputs(entry, state)`) is
        computed first and stored as an intent, so a crash anywhere is finished or undone by the next run."""
        with exclusive_lock(self._lock_path):
            self._recover_locked()
            self._finish_interrupted_append(signer)
            state = self.read_state()
            kind, data = make(state)
            state.apply(kind, data, format_time(at))  # policy check before anything is written
            entry = {
                "seq": state.seq + 1,
                "kind": kind,
                "at": format_time(at),
                "prev_hash": state.head,
                "data": data,
            }
            entry["signature"] = signer.sign(DOMAIN_REGISTRY, _signed_body(entry, self.name))
            try:  # never write a line this registry's own verifier would reject
                verify_vendor_signature(
                    entry["signature"],
                    DOMAIN_REGISTRY,
                    _signed_body(entry, self.name),
                    trusted_keys=self.trusted_keys,
                    allow_development_keys=self.allow_development_keys,
                )
            except TrustError as exc:
                raise RegistryError(f"refusing to append: {exc}") from None
            line = canonical_bytes(entry)
            state.seq, state.head = entry["seq"], line_hash(line)
            writes = [PlannedWrite(checkpoint_path(self.path), self._checkpoint_bytes(signer, state))]
            writes += outputs(entry, state) if outputs is not None else []
            intent = Intent(
                op or _OPERATION.get(kind, "provision"),
                key or operation_key(op=kind, seq=entry["seq"]),
                entry["seq"],
                line,
                tuple(writes),
                (summary(entry) if callable(summary) else summary)
                or f"{kind} recorded as registry line {entry['seq']}",
            )
            if self.witness is not None and entry["seq"] == 1:
                self.witness.begin(REGISTRY_WITNESS_KEY, Mark(0, entry["prev_hash"]), label=str(self.path))
            save_intent(self.intent_path, intent, self._intent_keyring())
            intents.crash_point("before the registry line")
            created = not self.path.exists()
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line + b"\n")
                os.fsync(fd)
            finally:
                os.close(fd)
            if created:
                fsync_dir(self.path.parent)
            apply_writes(intent)
            self._advance_witness(state)  # before the intent goes: a retry then still finds the operation
            clear_intent(self.intent_path)
            return entry, state

    def _advance_witness(self, state: RegistryState) -> None:
        if self.witness is not None:
            intents.crash_point("before the registry witness")
            self.witness.advance(
                REGISTRY_WITNESS_KEY,
                _mark(state),
                label=str(self.path),
                head_at=lambda seq: _scan_prefix_head(self.path, seq, self.name),
            )

    def issue(
        self,
        build_body: Callable[[int], dict[str, Any]],
        signer: Ed25519Signer,
        *,
        at: datetime,
        request_digest: str | None = None,
        **intent: Any,
    ) -> License:
        """Sign `build_body(next_serial)` and record it as `issued`, all under the registry lock."""
        from licensing.core.license_file import sign_license

        def make(state: RegistryState) -> tuple[str, dict[str, Any]]:
            lic = sign_license(build_body(state.next_serial()), signer)
            digest = device_digest(lic.components)
            return "issued", {
                "serial": lic.serial,
                "license": lic.document,
                "device_digest": digest,
                "request_digest": request_digest,
            }

        entry, _ = self._append(signer, at, make, **intent)
        return parse_license(entry["data"]["license"])

    def reissue(
        self,
        old_serial: int,
        build_body: Callable[[int], dict[str, Any]],
        signer: Ed25519Signer,
        *,
        reason: str,
        at: datetime,
        **intent: Any,
    ) -> License:
        from licensing.core.license_file import sign_license

        def make(state: RegistryState) -> tuple[str, dict[str, Any]]:
            lic = sign_license(build_body(state.next_serial()), signer)
            return "reissued", {
                "old_serial": old_serial,
                "serial": lic.serial,
                "license": lic.document,
                "device_digest": device_digest(lic.components),
                "reason": reason,
            }

        entry, _ = self._append(signer, at, make, **intent)
        return parse_license(entry["data"]["license"])

    def revoke(
        self, serial: int, *, reason: str, signer: Ed25519Signer, at: datetime, **intent: Any
    ) -> RegistryState:
        if not reason.strip():
            raise RegistryError("a revocation needs a reason")
        return self._append(
            signer, at, lambda s: ("revoked", {"serial": serial, "reason": reason}), **intent
        )[1]

    def activate(
        self,
        serial: int,
        activation_id: str,
        *,
        device_digest: str,
        signer: Ed25519Signer,
        at: datetime,
        **intent: Any,
    ) -> RegistryState:
        data = {"serial": serial, "activation_id": activation_id, "device_digest": device_digest}
        return self._append(signer, at, lambda s: ("activated", data), **intent)[1]

    def deactivate(
        self, serial: int, activation_id: str, *, signer: Ed25519Signer, at: datetime
    ) -> RegistryState:
        data = {"serial": serial, "activation_id": activation_id}
        return self._append(signer, at, lambda s: ("deactivated", data))[1]

    def build_crl(self, signer: Ed25519Signer, *, at: datetime) -> dict[str, Any]:
        """A CRL of every revoked or superseded serial, numbered by the registry's sequence number."""
        state = self.read_state()
        return build_crl(state.revoked_list(), number=state.seq, issued_at=at, signer=signer)
