"""Verification of vendor-signed documents (licenses, CRLs, registry lines) against the compiled-in keys.

The algorithm comes from `trusted_keys` (kid -> (algorithm, base64 public key, kind)), never from the
signature text: a document claiming `hmac-sha384` or anything but the pinned algorithm fails.
"""

from __future__ import annotations

import base64
import binascii
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from audit.trust.canonical import signing_input
from audit.trust.signatures import (
    ALG_ED25519,
    ParsedSignature,
    SignatureError,
    VerifyingKey,
    parse_signature,
    verify_parsed,
)
from licensing.core.devkeys import DEV_SWITCH_ENV, resolve
from licensing.core.trusted_keys import KEY_DEVELOPMENT, KEY_PRODUCTION, TRUSTED

TrustedKeys = dict[str, tuple[str, str, str]]


class TrustError(ValueError):
    """A vendor signature is malformed, by an unknown or refused key, or does not verify. One line."""


@lru_cache(maxsize=64)
def _verifying_key(kid: str, algorithm: str, key_b64: str) -> VerifyingKey:
    if algorithm != ALG_ED25519:
        raise TrustError(f"trusted key {kid} has unsupported algorithm {algorithm}")
    try:
        raw = base64.b64decode(key_b64, validate=True)
        return VerifyingKey(kid, ALG_ED25519, public_key=Ed25519PublicKey.from_public_bytes(raw))
    except (binascii.Error, ValueError) as exc:
        raise TrustError(f"trusted key {kid} is not a valid Ed25519 public key") from exc


def trusted_verifying_key(
    kid: str, *, trusted_keys: TrustedKeys = TRUSTED, allow_development_keys: bool | None = None
) -> VerifyingKey:
    entry = trusted_keys.get(kid)
    if entry is None:
        raise TrustError(f"key {kid} is not a trusted license key")
    algorithm, key_b64, kind = entry
    if kind not in (KEY_DEVELOPMENT, KEY_PRODUCTION):
        raise TrustError(f"trusted key {kid} has unknown kind {kind!r}")
    if kind == KEY_DEVELOPMENT and not resolve(allow_development_keys):
        raise TrustError(f"key {kid} is a development key, refused unless {DEV_SWITCH_ENV}=true")
    return _verifying_key(kid, algorithm, key_b64)


def verify_vendor_bytes(
    signature: Any,
    message: bytes,
    *,
    trusted_keys: TrustedKeys = TRUSTED,
    allow_development_keys: bool | None = None,
) -> str:
    """Verify `signature` over exact `message` bytes; returns the kid. Raises TrustError."""
    try:
        parsed = parse_signature(signature)
    except SignatureError as exc:
        raise TrustError(str(exc)) from None
    return verify_vendor_parsed(
        parsed, message, trusted_keys=trusted_keys, allow_development_keys=allow_development_keys
    )


def verify_vendor_parsed(
    parsed: ParsedSignature,
    message: bytes,
    *,
    trusted_keys: TrustedKeys = TRUSTED,
    allow_development_keys: bool | None = None,
) -> str:
    """verify_vendor_bytes for a signature already parsed strictly; returns the kid. Raises TrustError."""
    try:
        key = trusted_verifying_key(
            parsed.kid, trusted_keys=trusted_keys, allow_development_keys=allow_development_keys
        )
        verify_parsed(parsed, message, key)
    except SignatureError as exc:
        raise TrustError(str(exc)) from None
    return parsed.kid


def verify_vendor_signature(
    signature: Any,
    domain: str,
    body: Any,
    *,
    trusted_keys: TrustedKeys = TRUSTED,
    allow_development_keys: bool | None = None,
) -> str:
    """Verify a vendor signature over signing_input(domain, body); returns the kid. Raises TrustError."""
    return verify_vendor_bytes(
        signature,
        signing_input(domain, body),
        trusted_keys=trusted_keys,
        allow_development_keys=allow_development_keys,
    )
