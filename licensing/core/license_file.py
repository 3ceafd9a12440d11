"""The license document (schema: docs/schemas/license_v1.json): build, sign, parse, QR form, vendor key.

A license is canonical JSON signed with Ed25519 over signing_input("oem/license/v1", body), where body is the
document without its `signature` field. Parsing is strict and checks every field's shape; the cryptographic
and policy checks live in `licensing.core.verify.verify_license`.
"""

from __future__ import annotations

import base64
import json
import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from audit.trust.bounded_cache import BoundedCache
from audit.trust.canonical import (
    DOMAIN_LICENSE,
    MAX_JSON_DEPTH,
    StrictJSONError,
    canonical_bytes,
    domain_prefix,
    fast_canonical_bytes,
    strict_loads,
)
from audit.trust.keyring import format_time, parse_time
from audit.trust.pem_keys import PemKeyError, load_ed25519_pem
from audit.trust.signatures import (
    ALG_ED25519,
    Ed25519Signer,
    ParsedSignature,
    SignatureError,
    parse_signature,
)
from licensing.core import qr
from licensing.core.fingerprint import (
    DEFAULT_POLICY,
    FingerprintError,
    MatchPolicy,
    check_components,
    policy_named,
)
from licensing.core.pin import PinError, TrustRootPin, parse_pin
from licensing.core.trusted_keys import TRUSTED

LICENSE_FORMAT = "oem-license/2"
QR_PREFIX = "OEMLIC1:"
STAGES = ("demo", "paper", "live")
SIGNING_KEY_ENV = "OEM_LICENSE_SIGNING_KEY_FILE"
SIGNING_KEY_PASSWORD_ENV = "OEM_LICENSE_SIGNING_KEY_PASSWORD_FILE"  # noqa: S105 - an env variable name
DEV_SIGNING_KEY_FILE = Path(__file__).resolve().parents[1] / "dev_vendor_key" / "license_dev_ed25519.pem"
MAX_LICENSE_BYTES = 64 * 1024

_FIELDS = (
    "format",
    "serial",
    "customer",
    "device",
    "edition",
    "features",
    "stages",
    "issued_at",
    "not_before",
    "expires_at",
    "max_activations",
    "request_digest",
    "signature",
)
_DEVICE_FIELDS = {"components", "allow_virtual", "match_policy", "trust_root"}
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}\Z")
_DIGEST = re.compile(r"^sha384:[0-9a-f]{96}\Z")


class LicenseError(ValueError):
    """A license document is malformed or cannot be signed. One-line message."""


@dataclass(frozen=True)
class License:
    serial: int
    customer: str
    components: dict[str, str]
    allow_virtual: bool
    match_policy: MatchPolicy
    trust_root: TrustRootPin
    edition: str
    features: tuple[str, ...]
    stages: tuple[str, ...]
    issued_at: datetime
    not_before: datetime
    expires_at: datetime
    max_activations: int
    request_digest: str | None
    signature: str
    # The parsed document exactly as signed (with the signature); see `document`. Decoded on first use
    # from `canonical` when the license came from the parse cache, so every caller holds its own copy.
    _document: dict[str, Any] | None = field(repr=False, compare=False)
    # The document's canonical bytes, when parsed from a canonical file (what the product writes).
    canonical: bytes | None = field(default=None, repr=False, compare=False)
    # The canonical body bytes, when parsed from a canonical file: cut from the bytes the parse proved
    # canonical, so the signature check does not encode the document a second time.
    signed_body: bytes | None = field(default=None, repr=False, compare=False)

    @property
    def document(self) -> dict[str, Any]:
        if self._document is None:
            object.__setattr__(self, "_document", json.loads(self.canonical))
        return self._document

    @property
    def body(self) -> dict[str, Any]:
        return license_body(self.document)

    def to_bytes(self) -> bytes:
        return (self.canonical or canonical_bytes(self.document)) + b"\n"

    def _private_copy(self) -> License:
        """A License sharing nothing mutable with this one (the parse cache's entries are never handed
        out: a caller that changes its license's dicts changes only its own)."""
        copy = object.__new__(License)  # not dataclasses.replace: this runs on every cached parse
        fields = self.__dict__.copy()
        fields["components"] = dict(self.components)
        fields["_document"] = None
        object.__setattr__(copy, "__dict__", fields)
        return copy

    def signed_message(self) -> bytes:
        """signing_input("oem/license/v1", body), via the trust core's fast JCS encoder.

        parse_license admits only ASCII keys, strings without lone surrogates, ints < 2**53, bools, null,
        lists and objects: values for which fast_canonical_bytes equals RFC 8785 (a test checks it). Were
        they ever to differ, the signature (made over rfc8785 bytes) would fail: closed, never open.
        """
        message = self.__dict__.get("_message")  # a cached parse's, made once from its exact bytes
        return message or _LICENSE_PREFIX + (self.signed_body or fast_canonical_bytes(self.body))

    def parsed_signature(self) -> ParsedSignature:
        """The signature text parsed strictly (raises SignatureError), once per cached parse."""
        parsed = self.__dict__.get("_parsed_signature")
        return parsed or parse_signature(self.signature)

    def _cache_entry(self) -> License:
        """The private copy the parse cache keeps, with the signed message and the parsed signature made
        once: every copy handed out shares these immutable values (and the message's computed hash)."""
        entry = self._private_copy()
        entry.__dict__["_message"] = self.signed_message()
        try:
            entry.__dict__["_parsed_signature"] = parse_signature(self.signature)
        except SignatureError:
            pass  # verify_license refuses it with the parser's own words, every time
        return entry


_LICENSE_PREFIX = domain_prefix(DOMAIN_LICENSE)
_FIELD_SET = frozenset(_FIELDS)


def _load_canonical(data: bytes | bytearray) -> tuple[Any, bytes] | None:
    """(value, its bytes) when `data` is exactly the canonical JSON of the value it parses to (one trailing
    newline allowed), as every license the product writes is; else None and the strict parser decides.

    Equality with the re-encoding is what strict_loads would check, and more: duplicate keys, whitespace,
    a byte order mark, trailing data or another encoding make the bytes differ; NaN, lone or encoded
    surrogates make the encoding fail; nesting beyond MAX_JSON_DEPTH is left to the strict parser."""
    text = bytes(data[:-1] if data.endswith(b"\n") else data)
    if text.count(b"[") + text.count(b"{") > MAX_JSON_DEPTH:
        return None
    try:
        value = json.loads(text)
        return (value, text) if fast_canonical_bytes(value) == text else None
    except (ValueError, RecursionError):  # JSONDecodeError, UnicodeError, NaN refused by the encoder
        return None


def _signed_body(canonical: bytes, doc: dict[str, Any]) -> bytes | None:
    """The canonical body (the document without `signature`) cut from the document's canonical bytes:
    `signature` and `stages` sort last among the schema's fields, so the body is the bytes without the
    `,"signature":...` member. None when the bytes do not end as that layout says (the encoder is used)."""
    member = b',"signature":' + fast_canonical_bytes(doc["signature"])
    tail = b',"stages":' + fast_canonical_bytes(doc["stages"]) + b"}"
    if not canonical.endswith(member + tail):
        return None
    return canonical[: len(canonical) - len(member) - len(tail)] + tail


def license_body(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k != "signature"}


def _time(doc: dict[str, Any], name: str) -> datetime:
    try:
        return parse_time(doc[name])
    except (ValueError, TypeError) as exc:
        raise LicenseError(f"license {name} is not a UTC timestamp") from exc


def _check_str(value: Any, name: str, max_len: int = 200) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > max_len:
        raise LicenseError(f"license {name} must be a non-empty string of at most {max_len} characters")
    return value


def _check_int(value: Any, name: str, low: int, high: int) -> int:
    if type(value) is not int or not low <= value <= high:
        raise LicenseError(f"license {name} must be an integer in {low}..{high}")
    return value


def check_stages(stages: Any) -> tuple[str, ...]:
    if not isinstance(stages, list | tuple) or not stages or any(s not in STAGES for s in stages):
        raise LicenseError(f"license stages must be a non-empty subset of {', '.join(STAGES)}")
    ordered = tuple(s for s in STAGES if s in stages)
    if len(ordered) != len(stages):
        raise LicenseError("license stages must not repeat")
    return ordered


def check_features(features: Any) -> tuple[str, ...]:
    if not isinstance(features, list | tuple) or any(
        not isinstance(f, str) or not _NAME.match(f) for f in features
    ):
        raise LicenseError("license features must be names of [a-z0-9_.-]")
    if len(set(features)) != len(features):
        raise LicenseError("license features must not repeat")
    return tuple(sorted(features))


_BYTES = (bytes, bytearray)  # a tuple, not bytes | bytearray: that union would be built on every call
_PARSED_LIMIT = 8  # a device holds one license; a vendor console reads a few in a row
_parsed: BoundedCache[bytes, License] = BoundedCache(_PARSED_LIMIT)


def parse_license(data: bytes | str | dict[str, Any] | License) -> License:
    """Strict parse of a license document (bytes, text or already decoded object). Raises LicenseError.

    A canonical license file's parse is a function of its exact bytes, and the daemon re-reads the same
    installed file on every gate tick: such bytes are parsed once and answered from a small cache keyed by
    the bytes themselves (no digest, no collision to argue about). Each answer is a fresh License, so no
    caller sees another's changes. The signature is not part of this: `verify_license` checks it."""
    if isinstance(data, License):
        return data
    if not isinstance(data, _BYTES) or len(data) > MAX_LICENSE_BYTES:
        return _parse_license(data)
    key = data if type(data) is bytes else bytes(data)
    cached = _parsed.get(key)
    if cached is not None:
        return cached._private_copy()
    lic = _parse_license(key)
    if lic.canonical is not None:  # a non-canonical file is parsed strictly every time, as before
        _parsed.put(key, lic._cache_entry())
    return lic


def clear_parse_cache() -> None:
    """Forget every parsed license (tests and benchmarks that measure the first parse)."""
    _parsed.clear()


def _parse_license(data: bytes | str | dict[str, Any]) -> License:
    canonical = None
    if isinstance(data, bytes | bytearray | str):
        if len(data) > MAX_LICENSE_BYTES:
            raise LicenseError("license file is too large")
        loaded = _load_canonical(data) if isinstance(data, bytes | bytearray) else None
        if loaded is not None:
            doc, canonical = loaded
        else:
            try:
                doc = strict_loads(data)
            except StrictJSONError as exc:
                raise LicenseError(f"license is not strict JSON: {exc}") from None
    else:
        doc = data
    if not isinstance(doc, dict):
        raise LicenseError("license is not a JSON object")
    if doc.keys() != _FIELD_SET:
        missing, extra = sorted(set(_FIELDS) - set(doc)), sorted(set(doc) - set(_FIELDS))
        raise LicenseError(
            f"license fields differ from the schema (missing {missing}, unexpected {extra[:5]})"
        )
    if doc["format"] != LICENSE_FORMAT:
        raise LicenseError(f"unknown license format {str(doc['format'])[:40]!r}")
    device = doc["device"]
    if not isinstance(device, dict) or set(device) != _DEVICE_FIELDS:
        raise LicenseError(f"license device must hold {', '.join(sorted(_DEVICE_FIELDS))}")
    try:
        check_components(device["components"])
    except FingerprintError as exc:
        raise LicenseError(f"license device: {exc}") from None
    if not isinstance(device["allow_virtual"], bool):
        raise LicenseError("license device.allow_virtual must be true or false")
    try:
        policy = policy_named(device["match_policy"])
        trust_root = parse_pin(device["trust_root"])
    except (FingerprintError, PinError) as exc:
        raise LicenseError(f"license device: {exc}") from None
    stages = check_stages(doc["stages"])
    if list(stages) != doc["stages"]:
        raise LicenseError("license stages must be listed in stage order")
    features = check_features(doc["features"])
    if list(features) != doc["features"]:
        raise LicenseError("license features must be sorted")
    if doc["request_digest"] is not None and not (
        isinstance(doc["request_digest"], str) and _DIGEST.match(doc["request_digest"])
    ):
        raise LicenseError("license request_digest must be sha384:<hex> or null")
    if not isinstance(doc["signature"], str):
        raise LicenseError("license signature must be a string")
    issued_at, not_before, expires_at = (_time(doc, n) for n in ("issued_at", "not_before", "expires_at"))
    if expires_at <= not_before:
        raise LicenseError("license expires_at must be after not_before")
    return License(
        serial=_check_int(doc["serial"], "serial", 1, 2**53 - 1),
        customer=_check_str(doc["customer"], "customer"),
        components=dict(device["components"]),
        allow_virtual=device["allow_virtual"],
        match_policy=policy,
        trust_root=trust_root,
        edition=_check_str(doc["edition"], "edition", 64),
        features=features,
        stages=stages,
        issued_at=issued_at,
        not_before=not_before,
        expires_at=expires_at,
        max_activations=_check_int(doc["max_activations"], "max_activations", 1, 1000),
        request_digest=doc["request_digest"],
        signature=doc["signature"],
        _document=doc,
        canonical=canonical,
        signed_body=None if canonical is None else _signed_body(canonical, doc),
    )


def build_license_body(
    *,
    serial: int,
    customer: str,
    components: dict[str, str],
    issued_at: datetime,
    not_before: datetime,
    expires_at: datetime,
    stages: list[str] | tuple[str, ...],
    edition: str = "standard",
    features: list[str] | tuple[str, ...] = (),
    max_activations: int = 1,
    allow_virtual: bool = False,
    request_digest: str | None = None,
    trust_root: TrustRootPin,
    match_policy: str = DEFAULT_POLICY.name,
) -> dict[str, Any]:
    return {
        "format": LICENSE_FORMAT,
        "serial": serial,
        "customer": customer,
        "device": {
            "components": dict(components),
            "allow_virtual": allow_virtual,
            "match_policy": match_policy,
            "trust_root": trust_root.to_json(),
        },
        "edition": edition,
        "features": sorted(features),
        "stages": list(check_stages(list(stages))),
        "issued_at": format_time(issued_at),
        "not_before": format_time(not_before),
        "expires_at": format_time(expires_at),
        "max_activations": max_activations,
        "request_digest": request_digest,
    }


def sign_license(body: dict[str, Any], signer: Ed25519Signer) -> License:
    """Sign a body from build_license_body and return the parsed (hence shape-checked) license."""
    document = {**license_body(body), "signature": signer.sign(DOMAIN_LICENSE, license_body(body))}
    return parse_license(document)


# ---- QR form ---------------------------------------------------------------------------------------------
def to_qr_text(lic: License | dict[str, Any]) -> str:
    """QR text: "OEMLIC1:" + base64url(canonical JSON), ~1.4 kB for five components (a version ~27 QR)."""
    document = lic.document if isinstance(lic, License) else lic
    return qr.encode_text(QR_PREFIX, canonical_bytes(document))


def from_qr_text(text: str) -> License:
    try:
        return parse_license(qr.decode_text(QR_PREFIX, text))
    except qr.QrError as exc:
        raise LicenseError(str(exc)) from None


def write_license_qr_png(lic: License, path: Path) -> None:
    qr.write_png(to_qr_text(lic), path)


def read_license_qr_png(path: Path) -> License:
    try:
        return from_qr_text(qr.read_png(path))
    except qr.QrError as exc:
        raise LicenseError(str(exc)) from None


# ---- vendor signing key ----------------------------------------------------------------------------------
def public_key_b64(private_key: Ed25519PrivateKey) -> str:
    return base64.b64encode(private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def signing_key_path() -> Path:
    return Path(os.environ.get(SIGNING_KEY_ENV) or DEV_SIGNING_KEY_FILE)


def load_vendor_signer(
    path: str | os.PathLike[str] | None = None, *, trusted_keys: dict[str, tuple[str, str, str]] = TRUSTED
) -> Ed25519Signer:
    """The vendor license signer: PKCS8 PEM from `path`, else $OEM_LICENSE_SIGNING_KEY_FILE, else the dev key.

    The kid is the trusted key whose public key matches; a key the product would not trust is refused, so
    nobody issues licenses that no installation can verify. An encrypted PEM takes its password from the
    file named by $OEM_LICENSE_SIGNING_KEY_PASSWORD_FILE.
    """
    key_path = Path(path) if path is not None else signing_key_path()
    try:
        private_key = load_ed25519_pem(
            key_path, password_env=SIGNING_KEY_PASSWORD_ENV, what="license signing key"
        )
    except PemKeyError as exc:
        raise LicenseError(str(exc)) from None
    public = public_key_b64(private_key)
    for kid, (algorithm, key_b64, _kind) in trusted_keys.items():
        if algorithm == ALG_ED25519 and key_b64 == public:
            return Ed25519Signer(kid, private_key)
    raise LicenseError(f"license signing key {key_path} is not among the product's trusted license keys")
