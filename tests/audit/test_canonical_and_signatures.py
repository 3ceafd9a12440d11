"""Strict JSON, canonical bytes, domain separation and signature-string parsing."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit.trust.canonical import (
    DOMAIN_CONFIG,
    DOMAIN_TOKEN,
    StrictJSONError,
    canonical_bytes,
    signing_input,
    strict_loads,
)
from audit.trust.signatures import (
    Ed25519Signer,
    HmacSigner,
    SignatureError,
    VerifyingKey,
    parse_signature,
    verify_signature,
)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'{"a":1,"a":1}', "duplicate key"),
        (b'{"a":NaN}', "non-finite number NaN"),
        (b"[Infinity]", "non-finite number Infinity"),
        (b"[-Infinity]", "non-finite number -Infinity"),
        (b"\xef\xbb\xbf{}", "byte order mark"),
        ("\ufeff{}", "byte order mark"),
        (b'{"a":1} {"b":2}', "trailing data"),
        (b'{"a":1}x', "trailing data"),
        (b'"\\ud800"', "lone surrogate"),
        (b'"\\uDC00x"', "lone surrogate"),
        ('"\ud800"', "lone surrogate"),
        (b'"\xed\xa0\x80"', "invalid UTF-8"),
        (b"{'a':1}", "invalid JSON"),
    ],
)
def test_strict_loads_rejects_ambiguous_json(data, reason):
    with pytest.raises(StrictJSONError, match=reason) as caught:
        strict_loads(data)
    assert "\n" not in str(caught.value)


def test_strict_loads_accepts_surrogate_pairs_and_trailing_newline():
    assert strict_loads(b'"\\ud83d\\ude00"\n') == "\U0001f600"


def test_canonical_bytes_follow_rfc8785():
    assert canonical_bytes({"b": [1, "x"], "a": None, "é": True}) == b'{"a":null,"b":[1,"x"],"\xc3\xa9":true}'


def test_domains_separate_signatures():
    signer = HmacSigner("config-1", b"s" * 48)
    key = VerifyingKey("config-1", "hmac-sha384", secret=b"s" * 48)
    text = signer.sign(DOMAIN_CONFIG, {"x": 1})
    verify_signature(text, DOMAIN_CONFIG, {"x": 1}, key)
    with pytest.raises(SignatureError):
        verify_signature(text, DOMAIN_TOKEN, {"x": 1}, key)
    assert signing_input(DOMAIN_CONFIG, {}) != signing_input(DOMAIN_TOKEN, {})
    with pytest.raises(ValueError, match="unknown signing domain"):
        signing_input("oem/made-up/v1", {})


@pytest.mark.parametrize(
    "text",
    [
        "ed25519:kid",
        "ed25519:kid:AAAA:extra",
        "rsa:kid:" + "A" * 88,
        "ed25519:bad kid:" + "A" * 86 + "==",
        "ed25519:kid:" + "A" * 43 + "=",  # wrong length
        "ed25519:kid:" + "A" * 85 + "B==",  # non-canonical padding bits
        "ed25519:kid:" + "A" * 86 + "=\n",
    ],
)
def test_malformed_signature_strings_are_rejected(text):
    with pytest.raises(SignatureError):
        parse_signature(text)


def test_ed25519_signature_round_trip_and_key_id_binding():
    private = Ed25519PrivateKey.generate()
    signer = Ed25519Signer("signer-a", private)
    text = signer.sign(DOMAIN_CONFIG, {"v": 1})
    verify_signature(
        text, DOMAIN_CONFIG, {"v": 1}, VerifyingKey("signer-a", "ed25519", public_key=private.public_key())
    )
    with pytest.raises(SignatureError, match="does not match key"):
        verify_signature(
            text,
            DOMAIN_CONFIG,
            {"v": 1},
            VerifyingKey("signer-b", "ed25519", public_key=private.public_key()),
        )
    assert "signer-a" in repr(signer) and "private" not in repr(signer).lower()
