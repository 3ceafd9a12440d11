"""`verify_license`: the one pure function the daemon, the desktop client and the CLIs call.

It reads no files and no clock: the caller passes the license, a fresh fingerprint record of this machine,
the time, the revocation list and the high-water mark. Every failed check adds one line to `reasons`; a
license is valid only when there are none. A failed parse or signature stops there (nothing in an
unauthenticated document is worth reporting on).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from audit.trust.bounded_cache import BoundedCache
from audit.trust.keyring import format_time
from audit.trust.signatures import SignatureError, VerifyingKey
from licensing.core.crl import Crl, CrlError, parse_crl
from licensing.core.devkeys import resolve
from licensing.core.fingerprint import (
    ENV_PHYSICAL,
    FingerprintError,
    MatchPolicy,
    check_record_shape,
    verify_fingerprint_record,
)
from licensing.core.high_water import DEFAULT_TOLERANCE, check_clock
from licensing.core.license_file import License, LicenseError, parse_license
from licensing.core.pin import TrustRootPin, check_pin
from licensing.core.trusted_keys import TRUSTED
from licensing.core.vendor_trust import (
    TrustedKeys,
    TrustError,
    verify_vendor_bytes,
    verify_vendor_parsed,
)


@dataclass(frozen=True, init=False)
class LicenseStatus:
    valid: bool
    reasons: list[str]
    license: License | None = None
    matched: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    environment: dict[str, Any] = field(default_factory=dict)

    def __init__(
        self,
        valid: bool,
        reasons: list[str],
        license: License | None = None,  # noqa: A002 - the field's name
        matched: tuple[str, ...] = (),
        changed: tuple[str, ...] = (),
        environment: dict[str, Any] | None = None,
    ) -> None:
        # One write of the instance's fields: a frozen dataclass's own __init__ makes one guarded setattr
        # call per field, a sizeable part of a license check that is not its signature.
        fields = {
            "valid": valid,
            "reasons": reasons,
            "license": license,
            "matched": matched,
            "changed": changed,
            "environment": {} if environment is None else environment,
        }
        object.__setattr__(self, "__dict__", fields)

    def summary(self) -> str:
        if self.valid:
            changed = f"; changed components: {', '.join(self.changed)}" if self.changed else ""
            return f"license {self.license.serial} valid for {self.license.customer}{changed}"
        return "; ".join(self.reasons)


def _revoked(
    revoked_serials: Iterable[int] | Crl | bytes | str | dict[str, Any],
    trusted_keys: TrustedKeys,
    allow_development_keys: bool,
) -> frozenset[int]:
    if isinstance(revoked_serials, Crl):
        return revoked_serials.serials
    if isinstance(revoked_serials, bytes | bytearray | str | dict):
        return parse_crl(
            revoked_serials, trusted_keys=trusted_keys, allow_development_keys=allow_development_keys
        ).serials
    return frozenset(revoked_serials)


# a device holds one license; a vendor console checks a few in a row
_verified: BoundedCache[tuple, bool] = BoundedCache(8)


def _verify_signature(lic: License, trusted_keys: TrustedKeys, allow_development_keys: bool) -> None:
    """The vendor signature over the license, checked once per (signed bytes, signature, trusted keys,
    switch): the daemon re-verifies the same installed license on every gate tick. Raises TrustError."""
    message = lic.signed_message()
    if not isinstance(lic.signature, str):  # never cached: verify_vendor_bytes gives the one-line refusal
        verify_vendor_bytes(
            lic.signature, message, trusted_keys=trusted_keys, allow_development_keys=allow_development_keys
        )
        return
    # The message itself is the key (a few kB at most, eight of them kept): exact, and no digest to compute.
    # The trusted keys as given, unsorted: the same keys in another order only miss the cache.
    key = (message, lic.signature, tuple(trusted_keys.items()), allow_development_keys)
    if _verified.get(key):
        return
    try:
        parsed = lic.parsed_signature()
    except SignatureError as exc:
        raise TrustError(str(exc)) from None
    verify_vendor_parsed(
        parsed, message, trusted_keys=trusted_keys, allow_development_keys=allow_development_keys
    )
    _verified.put(key, True)


def clear_cache() -> None:
    """Forget every verified license signature (tests that measure the uncached path)."""
    _verified.clear()


def verify_license(
    license_bytes_or_obj: bytes | str | dict[str, Any] | License,
    *,
    fingerprint_record: dict[str, Any],
    now: datetime,
    stage: str | None = None,
    revoked_serials: Iterable[int] | Crl | bytes | str | dict[str, Any] = (),
    high_water: datetime | None = None,
    trusted_keys: TrustedKeys = TRUSTED,
    allow_development_keys: bool | None = None,
    policy: MatchPolicy | None = None,
    trust_root: TrustRootPin | None = None,
    fingerprint_key: VerifyingKey | None = None,
    clock_tolerance: timedelta = DEFAULT_TOLERANCE,
) -> LicenseStatus:
    """Check a license for this machine at `now`.

    `revoked_serials`: serials already taken from a verified CRL, a `Crl`, or the raw `crl.json` (verified
    here against `trusted_keys`; a broken CRL fails closed). `high_water`: the verified mark from
    `licensing.core.high_water.load_mark`. `trust_root`: this installation's pin
    (`licensing.core.pin.installation_pin`); the license's signed pin must equal it, and None refuses.
    `policy`: None holds the device to the policy the license names. `fingerprint_key`: when given, the
    record's HMAC is checked too (callers that collected the record themselves a moment ago may skip it).
    """
    if now.tzinfo is None:
        return LicenseStatus(False, ["now must be a timezone-aware UTC time"])
    try:
        allow_development_keys = resolve(allow_development_keys)
    except ValueError as exc:
        return LicenseStatus(False, [str(exc)])
    try:
        lic = parse_license(license_bytes_or_obj)
    except LicenseError as exc:
        return LicenseStatus(False, [str(exc)])
    try:
        _verify_signature(lic, trusted_keys, allow_development_keys)
    except TrustError as exc:
        return LicenseStatus(False, [f"license signature: {exc}"], lic)

    reasons: list[str] = []
    matched: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    environment: dict[str, Any] = {}
    try:
        if fingerprint_key is not None:
            verify_fingerprint_record(fingerprint_record, key=fingerprint_key)
        device = check_record_shape(fingerprint_record)
    except FingerprintError as exc:
        reasons.append(str(exc))
    else:
        environment = fingerprint_record["environment"]
        result = (policy or lic.match_policy).match(lic.components, device)
        matched, changed = result.matched, result.changed
        if not result.ok:
            reasons.append(result.reason or "device fingerprint does not match")
        if environment["kind"] != ENV_PHYSICAL and not lic.allow_virtual:
            evidence = "; ".join(environment["evidence"][:3])
            reasons.append(
                f"device runs in a {environment['kind']} ({environment['name']}: {evidence}) "
                "and the license does not allow virtual environments"
            )
    pin = check_pin(lic.trust_root, trust_root)
    if pin:
        reasons.append(pin)
    if now < lic.not_before:
        reasons.append(f"license is not valid before {format_time(lic.not_before)}")
    if now >= lic.expires_at:
        reasons.append(f"license expired at {format_time(lic.expires_at)}")
    try:
        if lic.serial in _revoked(revoked_serials, trusted_keys, allow_development_keys):
            reasons.append(f"license serial {lic.serial} is revoked")
    except CrlError as exc:
        reasons.append(str(exc))
    if stage is not None and stage not in lic.stages:
        reasons.append(f"stage {stage} is not licensed (allowed: {', '.join(lic.stages)})")
    clock = check_clock(now, high_water, clock_tolerance)
    if clock:
        reasons.append(clock)
    return LicenseStatus(not reasons, reasons, lic, matched, changed, environment)
