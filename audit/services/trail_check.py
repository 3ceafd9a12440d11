"""The audit trail checked incrementally, and in full on a schedule.

A page re-checks only the events after the last verified position (seq and MAC of an event whose whole
prefix was verified), plus the head row and the witness, so its cost follows what was appended, not the
trail's age. What an incremental check cannot see - a row before that position rewritten in the database -
is what the full re-check is for: it runs as a job (nightly by beat, and on demand), records its verdict
and time, and only a clean full check or a clean continuation of one moves the verified position.

The position and the last full verdict live in one file under the data dir, sealed with the audit key (the
key that MACs the events); a missing, altered or foreign state file means "start from the first event".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.chain import GENESIS_HASH
from audit.models import AuditEvent
from audit.trust.canonical import StrictJSONError, canonical_bytes, strict_loads
from audit.trust.fsutil import MAX_JSON_FILE, atomic_write_bytes, read_regular_file
from audit.trust.keyring import KeyRing, KeyRingError, format_time
from audit.trust.signatures import SignatureError

from .trail import audit_event_record, audit_trail_report

STATE_FORMAT = "oem-audit-trail-check/1"
_SEAL_DOMAIN = b"oem/audit-trail-check/v1\x00"
_MAX_SHOWN = 20


@dataclass(frozen=True)
class TrailStatus:
    problems: list[str]
    checked_from: int  # first event re-checked now (1 = the whole trail)
    head: int  # last event re-checked
    full: dict | None  # the last full re-check: {"at", "ok", "count", "head", "problems"}
    count: int = 0  # events re-checked now
    keyed: int = 0  # of which MACed with the audit key


def _state_path() -> Path:
    return Path(settings.OEM_DATA_DIR) / "state" / "audit_trail_check.json"


def _keyring() -> KeyRing | None:
    try:
        return KeyRing.load(settings.OEM_DATA_DIR)
    except (KeyRingError, OSError, ValueError):
        return None


def _load(keyring: KeyRing | None) -> dict:
    if keyring is None:
        return {}
    try:
        doc = strict_loads(
            read_regular_file(_state_path(), max_bytes=MAX_JSON_FILE, what="audit trail check")
        )
        body = doc["body"]
        keyring.verify(doc["seal"], _SEAL_DOMAIN + canonical_bytes(body), purpose="audit")
    except (OSError, StrictJSONError, KeyError, TypeError, SignatureError, KeyRingError):
        return {}
    return body if body.get("format") == STATE_FORMAT else {}


def _save(keyring: KeyRing | None, body: dict) -> None:
    if keyring is None:
        return
    try:
        signer = keyring.hmac_signer("audit", create=False)
        body = {**body, "format": STATE_FORMAT}
        seal = signer.sign_bytes(_SEAL_DOMAIN + canonical_bytes(body))
        atomic_write_bytes(
            _state_path(), json.dumps({"body": body, "seal": seal}).encode() + b"\n", mode=0o600
        )
    except (KeyRingError, OSError):
        return


def _resume_point(body: dict) -> tuple[int, str] | None:
    """The verified position, if that event is still stored with the MAC that was verified."""
    position = body.get("verified")
    if not isinstance(position, list) or len(position) != 2 or not position[0]:
        return None
    seq, digest = position
    stored = AuditEvent.objects.filter(seq=seq).values_list("hash", flat=True).first()
    return (seq, digest) if stored == digest else None


def audit_trail_status() -> TrailStatus:
    """What the /audit/ page shows: the events appended since the verified position re-checked now, the
    head row and the witness, and the last full re-check's verdict with its time."""
    keyring = _keyring()
    body = _load(keyring)
    since = _resume_point(body)
    report, problems = audit_trail_report(since=since)
    if not problems and report.last_seq > (since or (0, ""))[0]:
        _save(keyring, {**body, "verified": [report.last_seq, report.last_hash]})
    first = (since or (0, GENESIS_HASH))[0] + 1
    return TrailStatus(problems, first, report.last_seq, body.get("full"), report.count, report.keyed)


def audit_trail_full_check(*, actor=None) -> TrailStatus:
    """Re-check every event from the first, record the verdict and its time (and an audit event); a clean
    check becomes the verified position the pages continue from."""
    report, problems = audit_trail_report()
    keyring = _keyring()
    body = _load(keyring)
    full = {
        "at": format_time(timezone.now()),
        "ok": not problems,
        "count": report.count,
        "head": report.last_seq,
        "problems": problems[:_MAX_SHOWN],
        "problem_count": len(problems),
    }
    body = {**body, "full": full}
    if not problems:
        body["verified"] = [report.last_seq, report.last_hash]
    else:
        body.pop("verified", None)
    _save(keyring, body)
    with transaction.atomic():
        audit_event_record(
            action="audit.trail_full_check",
            actor=actor,
            outcome="ok" if not problems else "error",
            detail={"events": report.count, "problems": len(problems)},
        )
    return TrailStatus(problems, 1, report.last_seq, full, report.count, report.keyed)
