"""The device's license request: its signed fingerprint record, hostname and time. Nothing secret.

{"format": "oem-license-request/2", "fingerprint": <record with HMAC>, "hostname", "created_at",
 "trust_root": {"installation_id", "root_fingerprint"} (the installation's pin, copied into the license),
 "request_digest": "sha384:" + SHA-384 of the canonical request without this field}

Who can check what (docs/licensing.md, "Request verification"):
- The fingerprint HMAC is keyed with the DEVICE's key-ring `fingerprint` key. Only that installation (or
  one sharing its key ring: tests, single-box demo installs) can verify it. `load_request` verifies it
  whenever the given key ring holds the record's kid, and refuses the request if it does not verify.
- A vendor console on another installation cannot verify the HMAC. It checks the request digest (integrity,
  catches damage in transit) and refuses the request unless the admin explicitly accepts a foreign request
  (`allow_foreign=True`, CLI `--foreign-request`) after comparing the digest with the one the device printed.
- This is safe because the license binds the component hashes, and at activation the device recomputes its
  fingerprint and verify_license matches it: a forged request only yields a license for the forger's
  claimed hardware, never a way to run on other hardware.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from audit.trust.canonical import StrictJSONError, canonical_bytes, strict_loads
from audit.trust.hashing import sha384_bytes
from audit.trust.keyring import KeyRing, format_time, parse_time
from audit.trust.signatures import SignatureError, parse_signature
from licensing.core import qr
from licensing.core.fingerprint import FingerprintError, check_record_shape, verify_fingerprint_record
from licensing.core.pin import PinError, TrustRootPin, parse_pin

REQUEST_FORMAT = "oem-license-request/2"
QR_PREFIX = "OEMREQ1:"
MAX_REQUEST_BYTES = 64 * 1024
_FIELDS = {"format", "fingerprint", "hostname", "created_at", "trust_root", "request_digest"}
_HOSTNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,252}\Z")


class RequestError(ValueError):
    """A license request is malformed, damaged or its fingerprint signature fails. One-line message."""


@dataclass(frozen=True)
class LicenseRequest:
    fingerprint: dict[str, Any]
    hostname: str
    created_at: datetime
    trust_root: TrustRootPin
    digest: str
    device_hmac_verified: bool  # False only for an explicitly accepted foreign request
    document: dict[str, Any]

    @property
    def components(self) -> dict[str, str]:
        return dict(self.fingerprint["components"])

    @property
    def environment(self) -> dict[str, Any]:
        return self.fingerprint["environment"]

    def to_bytes(self) -> bytes:
        return canonical_bytes(self.document) + b"\n"


def request_digest(body: dict[str, Any]) -> str:
    body = {k: v for k, v in body.items() if k != "request_digest"}
    return "sha384:" + sha384_bytes(canonical_bytes(body))


def build_request(
    fingerprint_record: dict[str, Any], *, hostname: str, now: datetime, trust_root: TrustRootPin
) -> dict[str, Any]:
    if not _HOSTNAME.match(hostname):
        hostname = re.sub(r"[^A-Za-z0-9.-]", "-", hostname)[:253].strip("-.") or "unknown-host"
    body = {
        "format": REQUEST_FORMAT,
        "fingerprint": fingerprint_record,
        "hostname": hostname,
        "created_at": format_time(now),
        "trust_root": trust_root.to_json(),
    }
    return {**body, "request_digest": request_digest(body)}


def load_request(
    data: bytes | str, keyring: KeyRing | None, *, allow_foreign: bool = False
) -> LicenseRequest:
    """Strictly parse and check a request (see module docstring). Raises RequestError (one line)."""
    if isinstance(data, bytes | bytearray | str) and len(data) > MAX_REQUEST_BYTES:
        raise RequestError("request is too large")
    try:
        doc = strict_loads(data)
    except StrictJSONError as exc:
        raise RequestError(f"request is not strict JSON: {exc}") from None
    if not isinstance(doc, dict) or set(doc) != _FIELDS:
        raise RequestError(f"request fields must be {sorted(_FIELDS)}")
    if doc["format"] != REQUEST_FORMAT:
        raise RequestError(f"unknown request format {str(doc['format'])[:40]!r}")
    if not isinstance(doc["hostname"], str) or not _HOSTNAME.match(doc["hostname"]):
        raise RequestError("request hostname is malformed")
    try:
        created_at = parse_time(doc["created_at"])
    except (TypeError, ValueError):
        raise RequestError("request created_at is not a UTC timestamp") from None
    try:
        trust_root = parse_pin(doc["trust_root"])
    except PinError as exc:
        raise RequestError(f"request {exc}") from None
    try:
        check_record_shape(doc["fingerprint"])
    except FingerprintError as exc:
        raise RequestError(f"request {exc}") from None
    if doc["request_digest"] != request_digest(doc):
        raise RequestError("request digest does not match its content (damaged or edited in transit)")
    try:
        kid = parse_signature(doc["fingerprint"]["signature"]).kid
    except SignatureError as exc:
        raise RequestError(f"request fingerprint signature is malformed: {exc}") from None
    known = keyring is not None and any(r.kid == kid for r in keyring.list_keys("fingerprint"))
    if known:
        try:
            verify_fingerprint_record(doc["fingerprint"], keyring=keyring)
        except FingerprintError as exc:
            raise RequestError(f"request {exc}") from None
    elif not allow_foreign:
        raise RequestError(
            f"request fingerprint key {kid} is not on this key ring (request from another installation): "
            f"confirm digest {doc['request_digest']} with the device, then accept it as a foreign request"
        )
    return LicenseRequest(
        doc["fingerprint"], doc["hostname"], created_at, trust_root, doc["request_digest"], known, doc
    )


def to_qr_text(document: dict[str, Any]) -> str:
    return qr.encode_text(QR_PREFIX, canonical_bytes(document))


def from_qr_text(text: str) -> bytes:
    """The request bytes carried by a QR text (then pass them to load_request)."""
    try:
        return qr.decode_text(QR_PREFIX, text)
    except qr.QrError as exc:
        raise RequestError(str(exc)) from None
