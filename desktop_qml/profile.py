"""The connection profile: daemon address, CA, client certificate + key and the operator token.

An operator hands the client a JSON file (``--profile FILE``, or the first-run screen) whose ``ca``,
``cert``, ``key`` and ``token`` are file paths (relative to that file's directory) and ``target`` the
daemon's loopback ``host:port``. The client stores the profile with the contents inline (``format``
``oem-desktop-profile/1``), 0600 in a 0700 ``$XDG_CONFIG_HOME/core-oem/`` (``~/.config`` when unset).
Everything is checked before anything is written: PEM that parses, a key that belongs to the
certificate, a token that reads as an OEM token, a loopback target.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_private_key

from audit.trust.canonical import StrictJSONError, canonical_bytes, strict_loads
from audit.trust.fsutil import atomic_write_bytes

PROFILE_FORMAT = "oem-desktop-profile/1"
DEFAULT_TARGET = "localhost:50051"
EXPIRY_WARNING_DAYS = 14
LOOPBACK = ("localhost", "127.0.0.1", "::1")
MAX_FILE = 1 << 20
_FIELDS = {"format", "target", "ca", "cert", "key", "token"}


class ProfileError(ValueError):
    """A profile that cannot be used. One-line message."""


@dataclass(frozen=True)
class CertificateInfo:
    subject: str
    not_after: datetime
    days_left: float

    @property
    def expiring(self) -> bool:
        return self.days_left < EXPIRY_WARNING_DAYS

    def line(self) -> str:
        when = self.not_after.strftime("%Y-%m-%d %H:%M UTC")
        if self.days_left < 0:
            return f"{self.subject}: EXPIRED on {when}"
        warn = f" - renew it: fewer than {EXPIRY_WARNING_DAYS} days left" if self.expiring else ""
        return f"{self.subject}: valid until {when} ({int(self.days_left)} days){warn}"


@dataclass(frozen=True)
class Profile:
    target: str
    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes
    token: str

    def certificate(self, now: datetime | None = None) -> CertificateInfo:
        cert = x509.load_pem_x509_certificate(self.cert_pem)
        now = now or datetime.now(UTC)
        left = (cert.not_valid_after_utc - now).total_seconds() / 86400
        return CertificateInfo(cert.subject.rfc4514_string(), cert.not_valid_after_utc, left)

    def token_subject(self) -> str:
        """The token's ``sub`` claim, read without verifying (the daemon verifies)."""
        return str(_token_claims(self.token).get("sub", ""))

    def to_bytes(self) -> bytes:
        return canonical_bytes(
            {
                "format": PROFILE_FORMAT,
                "target": self.target,
                "ca": self.ca_pem.decode("ascii"),
                "cert": self.cert_pem.decode("ascii"),
                "key": self.key_pem.decode("ascii"),
                "token": self.token,
            }
        )


def _token_claims(token: str) -> dict:
    head = token.split(".", 1)[0]
    try:
        claims = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (ValueError, TypeError):
        return {}
    return claims if isinstance(claims, dict) else {}


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "core-oem"


def stored_profile_path() -> Path:
    return config_dir() / "profile.json"


def _read_value(value: object, name: str, base: Path) -> bytes:
    if not isinstance(value, str) or not value.strip():
        raise ProfileError(f"profile: {name} must be a file path")
    path = Path(value).expanduser()
    path = path if path.is_absolute() else base / path
    try:
        if path.stat().st_size > MAX_FILE:
            raise ProfileError(f"profile: {name} file {path} is larger than {MAX_FILE} bytes")
        return path.read_bytes()
    except OSError as exc:
        raise ProfileError(f"profile: cannot read {name} file {path}: {exc.strerror}") from None


def check_target(target: str) -> str:
    host, sep, port = target.rpartition(":")
    if not sep or host.strip("[]") not in LOOPBACK or not port.isdigit() or not 0 < int(port) < 65536:
        raise ProfileError(f"profile: target {target!r} must be a loopback host:port (the daemon is local)")
    return target


def build_profile(
    *, target: str, ca_pem: bytes, cert_pem: bytes, key_pem: bytes, token: str | bytes
) -> Profile:
    """Validate the parts and return a Profile. Raises ProfileError with one line."""
    check_target(target)
    try:
        x509.load_pem_x509_certificate(ca_pem)
    except ValueError:
        raise ProfileError("profile: the CA is not a PEM certificate") from None
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError:
        raise ProfileError("profile: the client certificate is not a PEM certificate") from None
    try:
        key = load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError):
        raise ProfileError("profile: the client key is not an unencrypted PEM private key") from None
    spki = (Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    if key.public_key().public_bytes(*spki) != cert.public_key().public_bytes(*spki):
        raise ProfileError("profile: the client key does not belong to the client certificate")
    if isinstance(token, bytes):
        try:
            token = token.decode("ascii")
        except UnicodeDecodeError:
            raise ProfileError("profile: the token is not ASCII") from None
    token = token.strip()
    if not token or any(c.isspace() for c in token) or not _token_claims(token):
        raise ProfileError("profile: the token is not an OEM operator token")
    return Profile(target, ca_pem, cert_pem, key_pem, token)


def load_profile(path: Path) -> Profile:
    """Read a profile file (``--profile FILE`` or the stored one). Raises ProfileError."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ProfileError(f"profile {path}: {exc.strerror}") from None
    try:
        doc = strict_loads(data)
    except StrictJSONError as exc:
        raise ProfileError(f"profile {path} is not strict JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ProfileError(f"profile {path} must be a JSON object")
    unknown = sorted(set(doc) - _FIELDS)
    if unknown:
        raise ProfileError(f"profile {path}: unknown field(s) {', '.join(unknown)}")
    missing = sorted({"ca", "cert", "key", "token"} - set(doc))
    if missing:
        raise ProfileError(f"profile {path}: missing {', '.join(missing)}")
    target = doc.get("target", DEFAULT_TARGET)
    if not isinstance(target, str):
        raise ProfileError(f"profile {path}: target must be a string")
    if "format" in doc:  # the stored form: contents inline
        if doc["format"] != PROFILE_FORMAT or not all(isinstance(doc[k], str) for k in ("ca", "cert", "key")):
            raise ProfileError(f"profile {path}: not an {PROFILE_FORMAT} profile")
        return build_profile(
            target=target,
            ca_pem=doc["ca"].encode("ascii", "replace"),
            cert_pem=doc["cert"].encode("ascii", "replace"),
            key_pem=doc["key"].encode("ascii", "replace"),
            token=str(doc["token"]),
        )
    base = path.parent
    return build_profile(
        target=target,
        ca_pem=_read_value(doc["ca"], "ca", base),
        cert_pem=_read_value(doc["cert"], "cert", base),
        key_pem=_read_value(doc["key"], "key", base),
        token=_read_value(doc["token"], "token", base),
    )


def save_profile(profile: Profile, path: Path | None = None) -> Path:
    """Store the profile inline, 0600, in a 0700 directory (the key and token are secrets)."""
    path = Path(path or stored_profile_path())
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    atomic_write_bytes(path, profile.to_bytes() + b"\n", mode=0o600)
    return path


def load_stored_profile() -> Profile | None:
    path = stored_profile_path()
    if not path.exists():
        return None
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise ProfileError(f"profile {path} is readable by others (mode {mode:o}): chmod 600 it")
    return load_profile(path)
