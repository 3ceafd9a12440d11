"""Where the licensing truth lives: the shared data directory, the signed registry, the vendor signer and the
key ring, each refused up front (`LicensingError`) when this environment may not use it."""

from __future__ import annotations

from pathlib import Path

from audit.trust import paths
from audit.trust.keyring import KeyRing
from licensing.core.devkeys import development_licenses_allowed
from licensing.core.license_file import load_vendor_signer
from licensing.core.registry import Registry, registry_path
from licensing.core.request import LicenseRequest as ParsedRequest
from licensing.core.request import load_request
from licensing.core.vendor_trust import trusted_verifying_key

from ..errors import LicensingError


def data_dir() -> Path:
    return paths.data_dir()


def issued_dir() -> Path:
    return data_dir() / "licenses" / "issued"


def issued_path(serial: int) -> Path:
    return issued_dir() / f"{int(serial)}.json"


def allow_development_keys() -> bool:
    """As the CLIs: development keys only with OEM_ALLOW_DEVELOPMENT_LICENSES=true (core.devkeys)."""
    try:
        return development_licenses_allowed()
    except ValueError as exc:
        raise LicensingError(str(exc)) from None


def registry() -> Registry:
    return Registry(
        registry_path(data_dir()), allow_development_keys=allow_development_keys(), keyring=keyring()
    )


def vendor_signer():
    """The vendor license signer, refused up front when this environment may not use it."""
    try:
        signer = load_vendor_signer()
        trusted_verifying_key(signer.kid, allow_development_keys=allow_development_keys())
    except ValueError as exc:
        raise LicensingError(str(exc)) from None
    return signer


def keyring() -> KeyRing:
    try:
        return KeyRing.load(data_dir())
    except ValueError as exc:
        raise LicensingError(f"key ring: {exc}") from None


def parse_request(data: bytes, *, foreign_ok: bool) -> ParsedRequest:
    try:
        return load_request(data, keyring(), allow_foreign=foreign_ok)
    except ValueError as exc:
        raise LicensingError(str(exc)) from None
