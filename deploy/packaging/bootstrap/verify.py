"""`bootstrap verify`: is this bundle directory exactly what the vendor signed?

In order, each failure one line and nothing checked after it: the manifest parses strictly; `manifest.sig`
verifies against a compiled-in release key (domain `oem/manifest/v1`, algorithm pinned by the key); the tree
holds exactly the listed files (nothing missing, nothing extra, no links); every file has the listed size and
SHA-384; the config and `.env` template signatures are bound to the bytes shipped (and their HMAC verifies
when the installation's key ring holds the signing key). Verification only reads.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from audit.trust.canonical import DOMAIN_MANIFEST, StrictJSONError, signing_input, strict_loads
from audit.trust.hashing import sha384_bytes, sha384_file
from audit.trust.keyring import KeyRing, KeyRingError
from audit.trust.signatures import ALG_ED25519, SignatureError, VerifyingKey, parse_signature, verify_parsed
from deploy.packaging.bootstrap.manifest import (
    MANIFEST_NAME,
    SIGNATURE_NAME,
    ManifestError,
    check_version,
    fingerprint,
    parse_manifest,
    prefixed,
    tree_files,
)
from deploy.packaging.bootstrap.trusted_keys import KEY_DEVELOPMENT, KEY_PRODUCTION, TRUSTED_RELEASE_KEYS

TrustedKeys = dict[str, tuple[str, str, str]]

# Files whose `<name>.sig` (HMAC-SHA384, audit.trust.core_config format) the bundle must carry.
SIGNED_CONFIG_FILES = ("config/core.yaml", "config/env.template")
MAX_SIGNATURE_BYTES = 4096


class BundleRefused(ValueError):
    """The bundle (or the install) is refused. One-line message."""


@dataclass(frozen=True)
class VerifiedBundle:
    root: Path
    manifest: dict[str, Any]
    fingerprint: str
    signed_by: str
    config_checks: list[str] = field(default_factory=list)

    @property
    def version(self) -> str:
        return self.manifest["bundle_version"]

    @property
    def commit(self) -> str:
        return self.manifest["commit"]

    @property
    def platform(self) -> str:
        return self.manifest["platform"]


def production_mode() -> bool:
    return os.environ.get("OEM_ENV", "development") == "production"


def release_key(kid: str, *, trusted_keys: TrustedKeys, allow_development_keys: bool) -> VerifyingKey:
    entry = trusted_keys.get(kid)
    if entry is None:
        raise BundleRefused(f"manifest.sig is by key {kid}, which is not a trusted release key")
    algorithm, key_b64, kind = entry
    if algorithm != ALG_ED25519 or kind not in (KEY_DEVELOPMENT, KEY_PRODUCTION):
        raise BundleRefused(f"trusted release key {kid} is misconfigured")
    if kind == KEY_DEVELOPMENT and not allow_development_keys:
        raise BundleRefused(f"manifest.sig is by development key {kid}, refused in production mode")
    try:
        raw = base64.b64decode(key_b64, validate=True)
        return VerifyingKey(kid, ALG_ED25519, public_key=Ed25519PublicKey.from_public_bytes(raw))
    except (binascii.Error, ValueError) as exc:
        raise BundleRefused(f"trusted release key {kid} is not an Ed25519 public key") from exc


def verify_manifest_signature(
    signature_text: bytes,
    manifest: dict[str, Any],
    *,
    trusted_keys: TrustedKeys = TRUSTED_RELEASE_KEYS,
    allow_development_keys: bool | None = None,
) -> str:
    """Check `manifest.sig` bytes (one signature line) over the manifest; returns the signing kid."""
    allow_dev = (not production_mode()) if allow_development_keys is None else allow_development_keys
    try:
        text = signature_text.decode("ascii")
    except UnicodeDecodeError:
        raise BundleRefused("manifest.sig is not one ASCII signature line") from None
    if not text.endswith("\n") or "\n" in text[:-1]:
        raise BundleRefused("manifest.sig is not one signature line")
    try:
        parsed = parse_signature(text[:-1])
        key = release_key(parsed.kid, trusted_keys=trusted_keys, allow_development_keys=allow_dev)
        verify_parsed(parsed, signing_input(DOMAIN_MANIFEST, manifest), key)
    except SignatureError as exc:
        raise BundleRefused(f"manifest.sig does not verify: {exc}") from None
    return parsed.kid


def _read_capped(path: Path, limit: int, what: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except FileNotFoundError:
        raise BundleRefused(f"{what} is missing") from None
    except OSError as exc:
        raise BundleRefused(f"cannot read {what}: {exc.strerror}") from None
    if len(data) > limit:
        raise BundleRefused(f"{what} is too large")
    return data


def _check_tree(root: Path, manifest: dict[str, Any]) -> None:
    present, problems = tree_files(root)
    if problems:
        raise BundleRefused(problems[0])
    listed = {entry["path"] for entry in manifest["files"]}
    missing = sorted(listed - present)
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise BundleRefused(f"file listed in the manifest is missing: {missing[0]}{more}")
    extra = sorted(present - listed)
    if extra:
        more = f" (and {len(extra) - 1} more)" if len(extra) > 1 else ""
        raise BundleRefused(f"file not in the manifest: {extra[0]}{more}")


def _check_files(root: Path, manifest: dict[str, Any]) -> None:
    # Sizes first: a truncated or padded file is caught without hashing the whole bundle.
    for entry in manifest["files"]:
        size = os.lstat(root / entry["path"]).st_size
        if size != entry["size"]:
            raise BundleRefused(f"{entry['path']}: size {size} differs from the manifest ({entry['size']})")
    for entry in manifest["files"]:
        if prefixed(sha384_file(root / entry["path"])) != entry["sha384"]:
            raise BundleRefused(f"{entry['path']}: sha384 differs from the manifest (changed after signing)")


def _check_config_signature(root: Path, rel: str, keyring: KeyRing | None) -> str:
    """The HMAC signature file is bound to the shipped bytes; its HMAC is checked when the key is here."""
    from audit.trust.core_config import ConfigError, verify_file_signature

    path = root / rel
    sig_path = path.with_name(path.name + ".sig")
    data = _read_capped(path, 16 << 20, rel)
    raw = _read_capped(sig_path, MAX_SIGNATURE_BYTES, f"{rel}.sig")
    try:
        doc = strict_loads(raw)
    except StrictJSONError as exc:
        raise BundleRefused(f"{rel}.sig is malformed: {exc}") from None
    if not isinstance(doc, dict) or set(doc) != {"file", "sha384", "signature"}:
        raise BundleRefused(f"{rel}.sig has an unexpected structure")
    if doc["file"] != path.name or doc["sha384"] != sha384_bytes(data):
        raise BundleRefused(f"{rel}.sig was not made for the shipped {rel}")
    try:
        kid = parse_signature(doc["signature"]).kid
    except SignatureError as exc:
        raise BundleRefused(f"{rel}.sig: {exc}") from None
    if keyring is not None and any(r.kid == kid for r in keyring.list_keys("config")):
        try:
            verify_file_signature(path, data, keyring)
        except ConfigError as exc:
            raise BundleRefused(str(exc)) from None
        return f"{rel}: hmac-sha384 signature by {kid} verified"
    return f"{rel}: signature by {kid} bound by the manifest (key {kid} is not in this key ring)"


def verify_bundle(
    bundle_dir: Path | str,
    *,
    keyring: KeyRing | None = None,
    trusted_keys: TrustedKeys = TRUSTED_RELEASE_KEYS,
    allow_development_keys: bool | None = None,
) -> VerifiedBundle:
    """Verify a bundle directory completely. Raises BundleRefused (one line); reads only."""
    root = Path(bundle_dir)
    if not root.is_dir():
        raise BundleRefused(f"{root} is not a bundle directory")
    data = _read_capped(root / MANIFEST_NAME, 32 << 20, MANIFEST_NAME)
    try:
        manifest = parse_manifest(data)
    except ManifestError as exc:
        raise BundleRefused(str(exc)) from None
    kid = verify_manifest_signature(
        _read_capped(root / SIGNATURE_NAME, MAX_SIGNATURE_BYTES, SIGNATURE_NAME),
        manifest,
        trusted_keys=trusted_keys,
        allow_development_keys=allow_development_keys,
    )
    _check_tree(root, manifest)
    _check_files(root, manifest)
    checks = [_check_config_signature(root, rel, keyring) for rel in SIGNED_CONFIG_FILES]
    return VerifiedBundle(root, manifest, fingerprint(data), kid, checks)


def installation_keyring(data_dir: Path) -> KeyRing | None:
    """The installation's key ring when it exists; never creates one (verification only reads)."""
    keys = data_dir / "keys"
    has_secret = bool(os.environ.get("OEM_KEYRING_SECRET") or os.environ.get("OEM_KEYRING_SECRET_FILE"))
    if not (keys / "keyring.json").is_file() or not (has_secret or (keys / "root.key").is_file()):
        return None
    try:
        return KeyRing.load(data_dir)
    except KeyRingError as exc:
        raise BundleRefused(f"key ring: {exc}") from None


__all__ = ["BundleRefused", "VerifiedBundle", "check_version", "verify_bundle", "installation_keyring"]
