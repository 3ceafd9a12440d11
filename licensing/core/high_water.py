"""Signed high-water mark of the latest time a successful license check saw: catches clock rollback.

File `<data_dir>/licenses/high_water.json`: {"format": "oem-license-high-water/1", "mark": <UTC>,
"signature": "hmac-sha384:<kid>:<b64>"}, HMAC-SHA384 under the key ring's `fingerprint` key (the device's
own integrity key: the mark, like the fingerprint, belongs to this machine). A check at `now` fails when
`now < mark - tolerance` (5 minutes by default, for NTP steps and skew between processes). The mark only moves
forward and is rewritten atomically under a lock after every successful verification.

Signing domain: there is no dedicated `oem/...` domain for the mark in audit.trust yet, so it is signed under
`oem/fingerprint/v1`; the distinct `format` field keeps its canonical bytes disjoint from a fingerprint
record's. (A dedicated domain is requested from the trust core; see docs/licensing.md.)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from audit.trust import paths
from audit.trust.canonical import (
    DOMAIN_FINGERPRINT,
    StrictJSONError,
    canonical_bytes,
    signing_input,
    strict_loads,
)
from audit.trust.fsutil import MAX_KEY_FILE, atomic_write_bytes, exclusive_lock, read_regular_file
from audit.trust.keyring import KeyRing, format_time, parse_time
from audit.trust.signatures import SignatureError
from audit.trust.witness import Mark, Witness, witness_for

HIGH_WATER_FORMAT = "oem-license-high-water/1"
DEFAULT_TOLERANCE = timedelta(minutes=5)


class HighWaterError(ValueError):
    """The high-water file is unreadable, malformed or its signature fails (tampered). One line."""


def high_water_path(data_dir: Path | None = None) -> Path:
    return (data_dir or paths.data_dir()) / "licenses" / "high_water.json"


CLOCK_WITNESS_KEY = "licenses/high_water"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NO_MARK = Mark(0, "clock:none")


def clock_mark(mark: datetime | None) -> Mark:
    """The witness position of a mark: microseconds since the epoch, so a later mark is a higher position."""
    if mark is None:
        return _NO_MARK
    return Mark((mark - _EPOCH) // timedelta(microseconds=1), "clock:" + format_time(mark))


def _witness(keyring: KeyRing, witness: Witness | None) -> Witness:
    return witness if witness is not None else witness_for(keyring.data_dir)


def load_mark(
    keyring: KeyRing, path: Path | None = None, *, witness: Witness | None = None
) -> datetime | None:
    """The verified mark, or None before the first successful check. Tampering raises HighWaterError; a mark
    older than its witness, or a file deleted after first use, raises WitnessError naming both positions."""
    path = path or high_water_path(keyring.data_dir)
    mark = _read_mark(keyring, path)
    _witness(keyring, witness).check(CLOCK_WITNESS_KEY, clock_mark(mark), label=str(path))
    return mark


def _read_mark(keyring: KeyRing, path: Path) -> datetime | None:
    try:
        data = read_regular_file(path, max_bytes=MAX_KEY_FILE, what="high-water mark")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise HighWaterError(f"cannot read high-water mark {path}: {exc}") from None
    try:
        doc = strict_loads(data)
    except StrictJSONError as exc:
        raise HighWaterError(f"high-water mark {path} is not strict JSON: {exc}") from None
    if (
        not isinstance(doc, dict)
        or set(doc) != {"format", "mark", "signature"}
        or doc["format"] != HIGH_WATER_FORMAT
    ):
        raise HighWaterError(f"high-water mark {path} has an unexpected structure")
    body = {"format": doc["format"], "mark": doc["mark"]}
    try:
        keyring.verify(doc["signature"], signing_input(DOMAIN_FINGERPRINT, body), purpose="fingerprint")
        return parse_time(doc["mark"])
    except (SignatureError, ValueError, TypeError) as exc:
        raise HighWaterError(
            f"high-water mark {path} failed its signature check (tampered?): {exc}"
        ) from None


def check_clock(now: datetime, mark: datetime | None, tolerance: timedelta = DEFAULT_TOLERANCE) -> str | None:
    """None when `now` is acceptable, else the one-line refusal."""
    if mark is not None and now < mark - tolerance:
        return (
            f"clock moved back: now {format_time(now)} is before the high-water mark {format_time(mark)} "
            f"(tolerance {int(tolerance.total_seconds())} s)"
        )
    return None


def update_mark(
    keyring: KeyRing, now: datetime, path: Path | None = None, *, witness: Witness | None = None
) -> datetime:
    """Raise the mark to `now` (never lower it), atomically and under a lock, and its witness with it."""
    path = path or high_water_path(keyring.data_dir)
    witness = _witness(keyring, witness)
    with exclusive_lock(path.with_name(".high_water.lock")):
        current = load_mark(keyring, path, witness=witness)
        mark = max(current, now) if current is not None else now
        if current is not None and mark == current:
            return current
        if current is None:  # first use: from now on a missing file is an error, never "no mark"
            witness.begin(CLOCK_WITNESS_KEY, _NO_MARK, label=str(path))
        body = {"format": HIGH_WATER_FORMAT, "mark": format_time(mark)}
        signature = keyring.hmac_signer("fingerprint").sign(DOMAIN_FINGERPRINT, body)
        atomic_write_bytes(path, canonical_bytes({**body, "signature": signature}) + b"\n", mode=0o600)
        witness.advance(CLOCK_WITNESS_KEY, clock_mark(mark), label=str(path))
        return mark
