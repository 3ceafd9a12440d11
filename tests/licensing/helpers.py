"""Small builders shared by the licensing tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit.trust import paths
from audit.trust.keyring import KeyRing
from audit.trust.signatures import Ed25519Signer
from licensing.core.fingerprint import SystemProbe, build_fingerprint
from licensing.core.license_file import License, build_license_body, sign_license
from licensing.core.pin import TrustRootPin, installation_pin

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def fingerprint(
    root: Path, keyring: KeyRing, now: datetime = NOW, usb_dongle: str | None = None
) -> dict[str, Any]:
    return build_fingerprint(SystemProbe(root), keyring=keyring, now=now, usb_dongle=usb_dongle)


def this_pin() -> TrustRootPin:
    """The trust-root pin of the test's installation (OEM_DATA_DIR)."""
    return installation_pin(paths.data_dir())


def make_license(signer: Ed25519Signer, components: dict[str, str], **overrides: Any) -> License:
    fields: dict[str, Any] = {
        "trust_root": this_pin() if "trust_root" not in overrides else overrides["trust_root"],
        "serial": 1,
        "customer": "ACME Trading",
        "components": components,
        "issued_at": NOW - timedelta(days=1),
        "not_before": NOW - timedelta(days=1),
        "expires_at": NOW + timedelta(days=365),
        "stages": ["demo", "paper"],
        "features": ["paper-labs"],
    }
    fields.update(overrides)
    return sign_license(build_license_body(**fields), signer)


def untrusted_signer(kid: str = "license-dev-1") -> Ed25519Signer:
    """A fresh Ed25519 key the product does not trust (optionally impersonating a trusted kid)."""
    return Ed25519Signer(kid, Ed25519PrivateKey.generate())
