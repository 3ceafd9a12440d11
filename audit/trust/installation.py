"""The installation: its identity and its trust root, created once by an explicit setup step.

`init_installation(data_dir, admin_password)` (CLI `python -m audit.trust.cli init-installation`, console
`manage.py init_installation`) is the only code that creates a trust root. It writes:

- `<data_dir>/installation.json`: installation id, the id of the installation's own deployment (its data
  dir), the root's Ed25519 public key, the private key encrypted under the administrator password (scrypt
  -> AES-256-GCM, as signer keys), all self-signed by the root;
- the key ring (`keys/`), empty but for the four HMAC purposes;
- the root fingerprint pinned in the second witness place (`paths.witness_dir`).

Nothing ever re-creates them: a missing `installation.json` or `keys/keyring.json` is an error everywhere.
The root certifies every signer key (enrolling a signer needs the administrator password), so a key ring
rebuilt by someone without that password holds no signer the verifier accepts; a freshly set-up root (its
own password, its own signers) differs from the pins: the second witness place, the console database
(a pin source the Django side registers), the vendor-signed license (the licensing side registers it) and
`OEM_INSTALLATION_ROOT` when set. Any pin that disagrees refuses the installation, in one line.
"""

from __future__ import annotations

import base64
import importlib
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from audit.trust import paths
from audit.trust.canonical import DOMAIN_KEYRING, StrictJSONError, canonical_bytes, strict_loads
from audit.trust.fsutil import atomic_write_bytes, exclusive_lock, read_regular_file
from audit.trust.hashing import sha384_bytes
from audit.trust.signatures import ALG_ED25519, Ed25519Signer, SignatureError, VerifyingKey, verify_signature

INSTALLATION_FORMAT = "oem-installation/1"
PIN_FORMAT = "oem-installation-pin/1"
ROOT_KID = "installation-root"
MIN_ADMIN_PASSWORD = 8
PIN_ENV = "OEM_INSTALLATION_ROOT"
_FINGERPRINT_PREFIX = b"oem/installation-root/v1\x00"
_MAX_FILE = 64 * 1024

# Modules that register a pin source at import time, imported by name once (they sit above `audit`).
PIN_SOURCE_MODULES = ("licensing.core.installation_pin",)

PinSource = Callable[["Installation"], "str | None"]
_pin_sources: dict[str, PinSource] = {}
_modules_loaded = False


class InstallationError(ValueError):
    """The installation is missing, altered or does not match a pin. One-line message."""


@dataclass(frozen=True)
class Installation:
    installation_id: str
    deployment_id: str  # the installation's own deployment: evidence in the data dir itself
    root_fingerprint: str  # "sha384:<hex>" of the root public key; what licenses and the console pin
    root_public_key: str  # base64 of the raw Ed25519 public key
    created_at: str
    data_dir: Path

    def root_key(self) -> VerifyingKey:
        raw = base64.b64decode(self.root_public_key, validate=True)
        return VerifyingKey(ROOT_KID, ALG_ED25519, public_key=Ed25519PublicKey.from_public_bytes(raw))

    def verify_root(self, signature: str, domain: str, obj: Any) -> None:
        """Raises SignatureError unless the installation root signed `obj` under `domain`."""
        verify_signature(signature, domain, obj, self.root_key())


def root_fingerprint_of(public_raw: bytes) -> str:
    return "sha384:" + sha384_bytes(_FINGERPRINT_PREFIX + public_raw)


def installation_exists(data_dir: Path) -> bool:
    return paths.installation_path(Path(data_dir)).exists()


# ---- setup --------------------------------------------------------------------------------------------
def init_installation(
    data_dir: Path | str, admin_password: str, *, now: datetime | None = None
) -> Installation:
    """Create the installation and its trust root, once. Refuses when any trace of one exists."""
    from audit.trust.keyring import (
        HMAC_PURPOSES,
        KeyRing,
        create_root_secret,
        encrypt_private_key,
        format_time,
        utc_now,
    )

    base = Path(data_dir).resolve()
    if not isinstance(admin_password, str) or len(admin_password) < MIN_ADMIN_PASSWORD:
        raise InstallationError(
            f"the administrator password must have at least {MIN_ADMIN_PASSWORD} characters"
        )
    base.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(base / ".installation.lock"):
        path = paths.installation_path(base)
        if path.exists():
            raise InstallationError(
                f"{path} already exists: an installation is set up once and never re-created"
            )
        keys = paths.keys_dir(base)
        if keys.exists() and any(keys.iterdir()):
            raise InstallationError(
                f"{keys} exists without {path.name}: restore the installation from its backup "
                "(restore_installation) or move the old keys away"
            )
        pin = _pin_path(base)
        if pin.exists():
            raise InstallationError(
                f"{pin} pins an earlier installation of this data dir: restore it (restore_installation) "
                "instead of setting up a new one"
            )
        private_key = Ed25519PrivateKey.generate()
        public_raw = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        body = {
            "format": INSTALLATION_FORMAT,
            "installation_id": "inst-" + secrets.token_hex(16),
            "deployment_id": "dep-" + secrets.token_hex(8),
            "created_at": format_time(now or utc_now()),
            "root_public_key": base64.b64encode(public_raw).decode("ascii"),
            "root_fingerprint": root_fingerprint_of(public_raw),
            "encrypted_root_key": encrypt_private_key(private_key, admin_password, ROOT_KID),
        }
        signature = Ed25519Signer(ROOT_KID, private_key).sign(DOMAIN_KEYRING, {"installation": body})
        installation = _from_body(body, base)
        create_root_secret(base)
        ring = KeyRing(base, {}, None, installation=installation)
        ring.write_empty()
        for purpose in sorted(HMAC_PURPOSES):
            ring.rotate_hmac_key(purpose)
        write_pin(installation)
        # Written last: its presence means the setup completed.
        atomic_write_bytes(path, canonical_bytes({**body, "signature": signature}) + b"\n", mode=0o600)
        return installation


def unlock_root(data_dir: Path | str, admin_password: str) -> Ed25519Signer:
    """The root signer, for the moment of certifying a signer key; never cache the result."""
    from audit.trust.keyring import KeyRingError, decrypt_private_blob

    installation = load_installation(data_dir)
    body = _read_body(paths.installation_path(installation.data_dir))
    try:
        private_key = decrypt_private_blob(
            body["encrypted_root_key"], admin_password, ROOT_KID, installation.root_public_key
        )
    except KeyRingError as exc:
        raise InstallationError(str(exc).replace(f"key {ROOT_KID}", "the installation root")) from None
    return Ed25519Signer(ROOT_KID, private_key)


# ---- loading and pins ---------------------------------------------------------------------------------
def load_installation(data_dir: Path | str | None = None) -> Installation:
    """The verified installation of `data_dir`, checked against every pin. Raises InstallationError."""
    base = Path(data_dir).resolve() if data_dir is not None else paths.data_dir()
    path = paths.installation_path(base)
    if not path.exists():
        raise InstallationError(
            f"no installation at {base} (never set up: run init_installation; it is never created implicitly)"
        )
    body = _read_body(path)
    installation = _from_body({k: v for k, v in body.items() if k != "signature"}, base)
    try:
        installation.verify_root(
            body["signature"],
            DOMAIN_KEYRING,
            {"installation": {k: v for k, v in body.items() if k != "signature"}},
        )
    except SignatureError as exc:
        raise InstallationError(f"{path} failed its root signature check (tampered?): {exc}") from None
    check_pins(installation)
    return installation


def _read_body(path: Path) -> dict[str, Any]:
    try:
        doc = strict_loads(read_regular_file(path, max_bytes=_MAX_FILE, what="installation"))
    except (OSError, StrictJSONError) as exc:
        raise InstallationError(f"{path} cannot be read: {exc}") from None
    expected = {
        "format",
        "installation_id",
        "deployment_id",
        "created_at",
        "root_public_key",
        "root_fingerprint",
        "encrypted_root_key",
        "signature",
    }
    if not isinstance(doc, dict) or set(doc) != expected or doc["format"] != INSTALLATION_FORMAT:
        raise InstallationError(f"{path} has an unexpected structure")
    if not all(isinstance(doc[k], str) for k in expected - {"encrypted_root_key"}):
        raise InstallationError(f"{path} has an unexpected structure")
    return doc


def _from_body(body: dict[str, Any], base: Path) -> Installation:
    try:
        raw = base64.b64decode(body["root_public_key"], validate=True)
        Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as exc:
        raise InstallationError("installation root public key is malformed") from exc
    if root_fingerprint_of(raw) != body["root_fingerprint"]:
        raise InstallationError("installation root fingerprint does not match its public key")
    return Installation(
        installation_id=body["installation_id"],
        deployment_id=body["deployment_id"],
        root_fingerprint=body["root_fingerprint"],
        root_public_key=body["root_public_key"],
        created_at=body["created_at"],
        data_dir=base,
    )


def _pin_path(base: Path) -> Path:
    return paths.witness_dir(base) / "installation.pin"


def write_pin(installation: Installation) -> None:
    """Pin the root in the second witness place. Called by the setup step and by restore_installation."""
    doc = {
        "format": PIN_FORMAT,
        "installation_id": installation.installation_id,
        "root_fingerprint": installation.root_fingerprint,
    }
    place = paths.witness_dir(installation.data_dir)
    place.mkdir(parents=True, exist_ok=True, mode=0o700)
    atomic_write_bytes(_pin_path(installation.data_dir), canonical_bytes(doc) + b"\n", mode=0o600)


def _local_pin(installation: Installation) -> str | None:
    pin = _pin_path(installation.data_dir)
    if not pin.exists():
        raise InstallationError(
            f"the installation pin {pin} is missing (deleted?): restore_installation re-pins"
        )
    try:
        doc = strict_loads(read_regular_file(pin, max_bytes=_MAX_FILE, what="installation pin"))
    except (OSError, StrictJSONError) as exc:
        raise InstallationError(f"the installation pin {pin} cannot be read: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != PIN_FORMAT:
        raise InstallationError(f"the installation pin {pin} has an unexpected structure")
    if doc.get("installation_id") != installation.installation_id:
        raise InstallationError(
            f"the installation pin {pin} names installation {doc.get('installation_id')!r}, "
            f"not {installation.installation_id}"
        )
    return doc.get("root_fingerprint")


def register_pin_source(name: str, source: PinSource) -> None:
    """`source(installation)` returns the root fingerprint it pins, or None when it pins nothing (yet)."""
    _pin_sources[name] = source


def unregister_pin_source(name: str) -> None:
    _pin_sources.pop(name, None)


def _load_pin_modules() -> None:
    global _modules_loaded
    if _modules_loaded:
        return
    _modules_loaded = True
    for module in PIN_SOURCE_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise


def pins(installation: Installation) -> dict[str, str]:
    """Every pin that currently names a root fingerprint: place -> fingerprint."""
    _load_pin_modules()
    found: dict[str, str] = {"witness pin": _local_pin(installation)}
    if os.environ.get(PIN_ENV):
        found[PIN_ENV] = os.environ[PIN_ENV]
    for name, source in list(_pin_sources.items()):
        value = source(installation)
        if value is not None:
            found[name] = value
    return found


def check_pins(installation: Installation) -> None:
    import hmac

    for place, fingerprint in pins(installation).items():
        if not isinstance(fingerprint, str) or not hmac.compare_digest(
            fingerprint.encode(), installation.root_fingerprint.encode()
        ):
            raise InstallationError(
                f"the key ring root {installation.root_fingerprint[:23]}... does not match the root pinned "
                f"in {place} ({str(fingerprint)[:23]}...): a re-created trust root is refused"
            )


# ---- deployments ----------------------------------------------------------------------------------------
def deployment_id_for(installation: Installation, evidence_dir: Path | str | None) -> str:
    """The deployment id bound into every signature over evidence kept in `evidence_dir`: the installation's
    own id for its data dir, else `<own id>/<path relative to the data dir>` (the console keeps other
    deployments under `deployments/<pk>/`). Evidence copied to another directory no longer verifies."""
    if evidence_dir is None:
        return installation.deployment_id
    resolved = Path(evidence_dir).resolve()
    if resolved == installation.data_dir:
        return installation.deployment_id
    try:
        relative = resolved.relative_to(installation.data_dir).as_posix()
    except ValueError:
        relative = "external:" + sha384_bytes(str(resolved).encode())[:32]
    return f"{installation.deployment_id}/{relative}"


def signature_context(installation: Installation, evidence_dir: Path | str | None) -> dict[str, str]:
    """The context every signature over deployment evidence binds (entries, checkpoints, checklists)."""
    return {
        "installation_id": installation.installation_id,
        "deployment_id": deployment_id_for(installation, evidence_dir),
    }


def request_fields(data_dir: Path | str | None = None) -> dict[str, str]:
    """What the license request carries so the vendor-signed license pins this installation's root."""
    installation = load_installation(data_dir)
    return {
        "installation_id": installation.installation_id,
        "root_fingerprint": installation.root_fingerprint,
    }


def signer_certificate_body(installation_id: str, record_fields: dict[str, Any]) -> dict[str, Any]:
    return {"signer_certificate": {"installation_id": installation_id, **record_fields}}
