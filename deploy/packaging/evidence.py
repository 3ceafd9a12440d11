"""Evidence kind `bundle`: a decision entry's file reference to a bundle's `manifest.json`.

Proven when the recorded bytes are a strict, canonical `oem/bundle-manifest/v1` manifest and the
`manifest.sig` beside the file verifies against a compiled-in release key (development keys refused when
OEM_ENV=production). The files the manifest lists are not re-hashed here: the bootstrap does that where the
bundle is installed. The `ci_run` verifier reads `commit` from the manifest itself.
Registered with the evidence registry at import; the module still imports where that registry does not exist.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from deploy.packaging.bootstrap.manifest import SIGNATURE_NAME, ManifestError, parse_manifest
from deploy.packaging.bootstrap.verify import MAX_SIGNATURE_BYTES, BundleRefused, verify_manifest_signature

KIND = "bundle"


def verify_bundle_artefact(artefact: Any, context: Any) -> list[str]:
    """Problems (one line each) with a `bundle` artefact; [] when proven. `context` is not needed here."""
    name = getattr(artefact, "name", KIND)
    path: Path | None = getattr(artefact, "path", None)
    data: bytes | None = getattr(artefact, "data", None)
    if path is None or data is None:
        return [f"{name}: a bundle artefact must be a file reference to manifest.json"]
    try:
        manifest = parse_manifest(data)
    except ManifestError as exc:
        return [f"{name}: {exc}"]
    signature_path = Path(path).with_name(SIGNATURE_NAME)
    try:
        with open(signature_path, "rb") as handle:
            signature = handle.read(MAX_SIGNATURE_BYTES + 1)
    except OSError:
        return [f"{name}: {SIGNATURE_NAME} is missing beside {Path(path).name}"]
    if len(signature) > MAX_SIGNATURE_BYTES:
        return [f"{name}: {SIGNATURE_NAME} is too large"]
    try:
        verify_manifest_signature(signature, manifest)
    except BundleRefused as exc:
        return [f"{name}: {exc}"]
    return []


def _register() -> None:
    try:
        from audit.trust.evidence import register_verifier
    except ModuleNotFoundError as exc:
        if exc.name != "audit.trust.evidence":
            raise
        return
    register_verifier(KIND, verify_bundle_artefact)


_register()
