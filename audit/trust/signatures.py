"""Signature strings, signers and verifiers (Ed25519 and HMAC-SHA384).

A signature string is `<alg>:<kid>:<base64>`. The algorithm in the text is only a label: verification takes
the algorithm from the key the key ring holds for `kid`, and a text naming any other algorithm fails. That
closes algorithm-confusion attacks (e.g. an HMAC "signature" keyed with an Ed25519 public key).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from audit.trust.canonical import signing_input

ALG_ED25519 = "ed25519"
ALG_HMAC_SHA384 = "hmac-sha384"
ALGORITHMS = (ALG_ED25519, ALG_HMAC_SHA384)
_RAW_LENGTH = {ALG_ED25519: 64, ALG_HMAC_SHA384: 48}

KID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}\Z")
_B64_PATTERN = re.compile(r"^[A-Za-z0-9+/]+={0,2}\Z")


class SignatureError(ValueError):
    """A signature is malformed or does not verify. One-line message."""


@dataclass(frozen=True, slots=True)
class ParsedSignature:
    algorithm: str
    kid: str
    raw: bytes


def format_signature(algorithm: str, kid: str, raw: bytes) -> str:
    if algorithm not in ALGORITHMS:
        raise SignatureError(f"unknown algorithm {algorithm!r}")
    if not KID_PATTERN.match(kid):
        raise SignatureError(f"invalid key id {kid!r}")
    return f"{algorithm}:{kid}:{base64.b64encode(raw).decode('ascii')}"


def parse_signature(text: Any) -> ParsedSignature:
    """Parse `<alg>:<kid>:<base64>` strictly: known algorithm, valid kid, canonical base64, right length."""
    if not isinstance(text, str):
        raise SignatureError("signature is not a string")
    parts = text.split(":")
    if len(parts) != 3:
        raise SignatureError("signature must be <alg>:<kid>:<base64>")
    algorithm, kid, b64 = parts
    if algorithm not in _RAW_LENGTH:
        raise SignatureError(f"unknown signature algorithm {algorithm[:32]!r}")
    if not KID_PATTERN.match(kid):
        raise SignatureError("invalid key id in signature")
    if not _B64_PATTERN.match(b64):
        raise SignatureError("signature is not base64")
    try:
        raw = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureError("signature is not base64") from exc
    # Non-canonical base64 (stray padding bits) would give two texts for one signature.
    if len(raw) != _RAW_LENGTH[algorithm] or base64.b64encode(raw).decode("ascii") != b64:
        raise SignatureError(f"{algorithm} signature has the wrong length or encoding")
    return ParsedSignature(algorithm, kid, raw)


class Ed25519Signer:
    algorithm = ALG_ED25519

    def __init__(self, kid: str, private_key: Ed25519PrivateKey):
        self.kid = kid
        self._private_key = private_key

    def sign_bytes(self, message: bytes) -> str:
        return format_signature(ALG_ED25519, self.kid, self._private_key.sign(message))

    def sign(self, domain: str, obj: Any) -> str:
        return self.sign_bytes(signing_input(domain, obj))

    def __repr__(self) -> str:  # never show key material
        return f"Ed25519Signer(kid={self.kid!r})"


class HmacSigner:
    algorithm = ALG_HMAC_SHA384

    def __init__(self, kid: str, secret: bytes):
        if len(secret) < 32:
            raise SignatureError("HMAC secret must be at least 32 bytes")
        self.kid = kid
        self._secret = secret

    def sign_bytes(self, message: bytes) -> str:
        return format_signature(
            ALG_HMAC_SHA384, self.kid, hmac.new(self._secret, message, hashlib.sha384).digest()
        )

    def sign(self, domain: str, obj: Any) -> str:
        return self.sign_bytes(signing_input(domain, obj))

    def __repr__(self) -> str:
        return f"HmacSigner(kid={self.kid!r})"


@dataclass(frozen=True, slots=True)
class VerifyingKey:
    """What a verifier needs: the pinned algorithm and either the public key or the shared secret."""

    kid: str
    algorithm: str
    public_key: Ed25519PublicKey | None = None
    secret: bytes | None = None

    def __repr__(self) -> str:
        return f"VerifyingKey(kid={self.kid!r}, algorithm={self.algorithm!r})"


def verify_parsed(parsed: ParsedSignature, message: bytes, key: VerifyingKey) -> None:
    """Verify an already parsed signature against `key`; the algorithm comes from `key`, never the text."""
    if parsed.kid != key.kid:
        raise SignatureError(f"signature key id {parsed.kid} does not match key {key.kid}")
    if parsed.algorithm != key.algorithm:
        raise SignatureError(f"signature claims {parsed.algorithm} but key {key.kid} is {key.algorithm}")
    if key.algorithm == ALG_ED25519:
        if key.public_key is None:
            raise SignatureError(f"key {key.kid} has no public key")
        try:
            key.public_key.verify(parsed.raw, message)
        except InvalidSignature as exc:
            raise SignatureError(f"bad ed25519 signature by {key.kid}") from exc
    elif key.algorithm == ALG_HMAC_SHA384:
        if key.secret is None:
            raise SignatureError(f"key {key.kid} has no secret")
        expected = hmac.new(key.secret, message, hashlib.sha384).digest()
        if not hmac.compare_digest(expected, parsed.raw):
            raise SignatureError(f"bad hmac-sha384 signature by {key.kid}")
    else:
        raise SignatureError(f"key {key.kid} has unsupported algorithm {key.algorithm}")


def verify_signature(text: str, domain: str, obj: Any, key: VerifyingKey) -> None:
    """Verify `text` over signing_input(domain, obj) with `key`. Raises SignatureError."""
    verify_parsed(parse_signature(text), signing_input(domain, obj), key)
