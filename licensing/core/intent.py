"""Intent records: a license operation (provision, activate, revoke) completes entirely or leaves no trace.

Before its first write, an operation computes every byte it will write (the registry line, the registry
checkpoint, the license file, QR code, CRL, activation record) and stores them in `licenses/intent.json`,
HMAC-signed with the device key ring's `fingerprint` key (so a planted intent is refused, never replayed
into arbitrary files). Then it writes the registry line (the commit point) and the files, and deletes the
intent. The next run of any licensing command that appends to the registry (or activates) first recovers:

- the registry holds the planned line: the remaining writes are redone (each is idempotent) – roll forward;
- the registry stops just before it (a crash before the commit point, or inside the line write, whose
  partial tail is cut off): the intent is dropped – roll back, nothing else was written;
- anything else (the registry moved on under another line): refused, naming the intent file.

A retry of the same command (same operation key) after a roll forward reports the completed operation and
succeeds. `crash_point` marks the gaps between writes; tests replace it to stop the process there.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audit.trust.canonical import (
    DOMAIN_FINGERPRINT,
    StrictJSONError,
    canonical_bytes,
    signing_input,
    strict_loads,
)
from audit.trust.fsutil import MAX_JSON_FILE, atomic_write_bytes, fsync_dir, read_regular_file
from audit.trust.hashing import sha384_bytes
from audit.trust.keyring import KeyRing
from audit.trust.signatures import SignatureError

INTENT_FORMAT = "oem-license-intent/1"
INTENT_NAME = "intent.json"
OPERATIONS = ("provision", "activate", "revoke")
_FIELDS = {"format", "op", "key", "registry_seq", "line", "writes", "summary", "signature"}
_KEY = re.compile(r"^sha384:[0-9a-f]{96}\Z")


class IntentError(ValueError):
    """An intent record is unreadable, malformed, tampered or contradicts the registry. One line."""


@dataclass(frozen=True)
class PlannedWrite:
    path: Path
    data: bytes
    mode: int = 0o644


@dataclass(frozen=True)
class Intent:
    op: str
    key: str
    registry_seq: int | None  # the registry line this operation commits with; None: no registry involved
    line: bytes | None
    writes: tuple[PlannedWrite, ...]
    summary: str  # what a retry of the same command prints once the operation is complete


def crash_point(step: str) -> None:
    """A gap between two writes of a license operation (a no-op; tests stop the process here)."""


def intent_path(licenses_dir: Path) -> Path:
    return Path(licenses_dir) / INTENT_NAME


def operation_key(**parts: Any) -> str:
    """Identity of one command invocation, without its time: a retry has the same key."""
    return "sha384:" + sha384_bytes(canonical_bytes({k: str(v) for k, v in parts.items()}))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _body(intent: Intent) -> dict[str, Any]:
    return {
        "format": INTENT_FORMAT,
        "op": intent.op,
        "key": intent.key,
        "registry_seq": intent.registry_seq,
        "line": _b64(intent.line) if intent.line is not None else None,
        "writes": [{"path": str(w.path), "mode": w.mode, "data": _b64(w.data)} for w in intent.writes],
        "summary": intent.summary,
    }


def save_intent(path: Path, intent: Intent, keyring: KeyRing) -> None:
    body = _body(intent)
    signature = keyring.hmac_signer("fingerprint").sign(DOMAIN_FINGERPRINT, body)
    atomic_write_bytes(path, canonical_bytes({**body, "signature": signature}) + b"\n", mode=0o600)


def _unb64(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise IntentError(f"intent {what} is not base64")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise IntentError(f"intent {what} is not base64") from None


def _parse_write(item: Any) -> PlannedWrite:
    if not isinstance(item, dict) or set(item) != {"path", "mode", "data"}:
        raise IntentError("intent write is malformed")
    if not isinstance(item["path"], str) or not os.path.isabs(item["path"]) or "\x00" in item["path"]:
        raise IntentError("intent write path must be absolute")
    if type(item["mode"]) is not int or item["mode"] not in (0o600, 0o644):
        raise IntentError("intent write mode must be 0600 or 0644")
    return PlannedWrite(Path(item["path"]), _unb64(item["data"], "write data"), item["mode"])


def load_intent(path: Path, keyring: KeyRing | None) -> Intent | None:
    """The pending intent at `path`, or None. Unreadable, malformed or unsigned → IntentError."""
    try:
        data = read_regular_file(path, max_bytes=MAX_JSON_FILE, what="license intent")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise IntentError(str(exc)) from None
    try:
        doc = strict_loads(data)
    except StrictJSONError as exc:
        raise IntentError(f"license intent {path} is not strict JSON: {exc}") from None
    if not isinstance(doc, dict) or set(doc) != _FIELDS or doc["format"] != INTENT_FORMAT:
        raise IntentError(f"license intent {path} has an unexpected structure")
    if keyring is None:
        raise IntentError(f"license intent {path} is pending and no key ring was given to check it")
    body = {k: v for k, v in doc.items() if k != "signature"}
    try:
        keyring.verify(doc["signature"], signing_input(DOMAIN_FINGERPRINT, body), purpose="fingerprint")
    except (SignatureError, ValueError, TypeError) as exc:
        raise IntentError(f"license intent {path} failed its signature check (tampered?): {exc}") from None
    if doc["op"] not in OPERATIONS or not isinstance(doc["key"], str) or not _KEY.match(doc["key"]):
        raise IntentError(f"license intent {path} names an unknown operation")
    seq, line = doc["registry_seq"], doc["line"]
    if (seq is None) != (line is None) or (seq is not None and (type(seq) is not int or seq < 1)):
        raise IntentError(f"license intent {path} has a malformed registry line")
    if not isinstance(doc["writes"], list) or not isinstance(doc["summary"], str):
        raise IntentError(f"license intent {path} has malformed writes")
    return Intent(
        doc["op"],
        doc["key"],
        seq,
        _unb64(line, "line") if line is not None else None,
        tuple(_parse_write(w) for w in doc["writes"]),
        doc["summary"],
    )


def apply_writes(intent: Intent) -> None:
    for write in intent.writes:
        crash_point(f"{intent.op}: before writing {write.path.name}")
        atomic_write_bytes(write.path, write.data, mode=write.mode)


def clear_intent(path: Path) -> None:
    crash_point("before removing the intent")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
        fsync_dir(path.parent)


def run_local(path: Path, intent: Intent, keyring: KeyRing) -> None:
    """An operation without a registry line (activation on a device without the registry)."""
    save_intent(path, intent, keyring)
    apply_writes(intent)
    clear_intent(path)


def recover_local(path: Path, keyring: KeyRing) -> Intent | None:
    """Finish a pending operation that has no registry line; others are left to the registry's recovery."""
    intent = load_intent(path, keyring)
    if intent is None or intent.line is not None:
        return None
    apply_writes(intent)
    clear_intent(path)
    return intent
