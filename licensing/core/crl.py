"""The license revocation list `<data_dir>/licenses/crl.json`, signed by the vendor license key.

Document: {"format": "oem-license-crl/1", "number": N, "issued_at": ..., "revoked": [{"serial", "reason",
"revoked_at"}...], "signature": "ed25519:<kid>:<b64>"} signed over signing_input("oem/crl/v1", body). The
number only grows (it is the registry sequence number it was built from), so an older CRL cannot be replayed
over a newer one by a verifier that remembers the number. A CRL that fails to verify fails closed.

A verified CRL is remembered by its exact bytes (with the trusted keys and the development-key switch it
was verified under), so the daemon's periodic license check re-reads the file but verifies its
signature only when its content changes. Only successes are remembered: a bad CRL is refused every time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from audit.trust.bounded_cache import BoundedCache
from audit.trust.canonical import (
    DOMAIN_CRL,
    StrictJSONError,
    canonical_bytes,
    domain_prefix,
    fast_canonical_bytes,
    strict_loads,
)
from audit.trust.fsutil import atomic_write_bytes, read_regular_file
from audit.trust.keyring import format_time, parse_time
from audit.trust.signatures import Ed25519Signer
from licensing.core.devkeys import resolve
from licensing.core.trusted_keys import TRUSTED
from licensing.core.vendor_trust import TrustError, verify_vendor_bytes

CRL_FORMAT = "oem-license-crl/1"
MAX_CRL_BYTES = 8 * 1024 * 1024  # about 60 000 revoked serials
# a device sees one CRL at a time; a few more cover a vendor console's tests and switches
_verified: BoundedCache[tuple, Crl] = BoundedCache(8)


class CrlError(ValueError):
    """The revocation list is malformed or its signature fails. One-line message."""


@dataclass(frozen=True)
class Crl:
    number: int
    issued_at: datetime
    serials: frozenset[int]
    document: dict[str, Any]


def build_crl(
    revoked: list[dict[str, Any]], *, number: int, issued_at: datetime, signer: Ed25519Signer
) -> dict[str, Any]:
    body = {
        "format": CRL_FORMAT,
        "number": number,
        "issued_at": format_time(issued_at),
        "revoked": sorted(revoked, key=lambda r: r["serial"]),
    }
    return {**body, "signature": signer.sign(DOMAIN_CRL, body)}


def write_crl(path: Path, document: dict[str, Any]) -> None:
    atomic_write_bytes(Path(path), canonical_bytes(document) + b"\n")


def parse_crl(
    data: bytes | str | dict[str, Any],
    *,
    trusted_keys: dict[str, tuple[str, str, str]] = TRUSTED,
    allow_development_keys: bool | None = None,
) -> Crl:
    """Strictly parse and verify a CRL against the compiled-in license keys. Raises CrlError.

    Bytes or text already verified under the same trusted keys and switch are answered from the cache."""
    if not isinstance(data, bytes | bytearray | str):
        return _parse_crl(data, trusted_keys, allow_development_keys)
    # Keyed by the content itself: the dict hashes it (cheaper than a digest of a long list) and an equal
    # key is compared byte for byte, so no collision can stand in for a verified list.
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    key = (raw, tuple(sorted(trusted_keys.items())), resolve(allow_development_keys))
    cached = _verified.get(key)
    if cached is not None:
        return cached
    crl = _parse_crl(data, trusted_keys, key[2])
    _verified.put(key, crl)
    return crl


def clear_cache() -> None:
    """Forget every verified CRL (tests that measure the uncached path)."""
    _verified.clear()


def _parse_crl(data: Any, trusted_keys: dict[str, tuple[str, str, str]], allow_development_keys) -> Crl:
    try:
        doc = strict_loads(data) if isinstance(data, bytes | bytearray | str) else data
    except StrictJSONError as exc:
        raise CrlError(f"revocation list is not strict JSON: {exc}") from None
    if not isinstance(doc, dict) or set(doc) != {"format", "number", "issued_at", "revoked", "signature"}:
        raise CrlError("revocation list has unexpected fields")
    if doc["format"] != CRL_FORMAT or type(doc["number"]) is not int or not isinstance(doc["revoked"], list):
        raise CrlError("revocation list has an unknown format")
    serials = set()
    for item in doc["revoked"]:
        if (
            not isinstance(item, dict)
            or set(item) != {"serial", "reason", "revoked_at"}
            or type(item["serial"]) is not int
            or not isinstance(item["reason"], str)
            or not isinstance(item["revoked_at"], str)
        ):
            raise CrlError("revocation list entry is malformed")
        serials.add(item["serial"])
    try:
        issued_at = parse_time(doc["issued_at"])
    except (TypeError, ValueError):
        raise CrlError("revocation list issued_at is not a UTC timestamp") from None
    body = {k: v for k, v in doc.items() if k != "signature"}
    try:
        # Shape checked above (ASCII keys, ints, strings): the fast JCS encoder gives RFC 8785 bytes, and any
        # difference could only make the signature fail (closed), never pass.
        verify_vendor_bytes(
            doc["signature"],
            domain_prefix(DOMAIN_CRL) + fast_canonical_bytes(body),
            trusted_keys=trusted_keys,
            allow_development_keys=allow_development_keys,
        )
    except TrustError as exc:
        raise CrlError(f"revocation list signature: {exc}") from None
    return Crl(doc["number"], issued_at, frozenset(serials), doc)


def load_crl(path: Path, **kwargs: Any) -> Crl | None:
    """The CRL at `path`, or None when there is none yet. A present but broken CRL raises CrlError."""
    try:
        data = read_regular_file(path, max_bytes=MAX_CRL_BYTES, what="revocation list")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CrlError(f"cannot read revocation list {path}: {exc}") from None
    return parse_crl(data, **kwargs)
