"""A gate entry that records a built bundle is judged by the evidence registry with the `bundle` verifier
this package registers: a genuine manifest proves itself (and its fingerprint), a changed one does not."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit.trust import evidence
from audit.trust.canonical import DOMAIN_MANIFEST
from audit.trust.hashing import sha384_bytes
from audit.trust.keyring import KeyRing
from audit.trust.signatures import Ed25519Signer
from deploy.packaging.bootstrap.manifest import MANIFEST_NAME, SIGNATURE_NAME
from deploy.packaging.evidence import verify_bundle_artefact


@pytest.fixture(scope="module")
def built(vendor):
    return vendor.build(vendor.root / "dist-registry", packages=False)


@pytest.fixture
def recorded(built, vendor, tmp_path):
    """The bundle's manifest and its signature copied into the deployment's data dir, as a gate records it."""
    place = vendor.data_dir / "evidence" / tmp_path.name
    place.mkdir(parents=True)
    for name in (MANIFEST_NAME, SIGNATURE_NAME):
        shutil.copyfile(built.bundle_dir / name, place / name)
    evidence.clear_cache()
    yield place
    evidence.clear_cache()
    shutil.rmtree(place)


def _entry(manifest: Path, data_dir: Path, fingerprint: str | None = None) -> dict:
    data = manifest.read_bytes()
    return {
        "status": "paper_ready",
        "timestamp": "2026-11-20T10:00:00Z",
        "artefacts": {
            "bundle": {"path": manifest.relative_to(data_dir).as_posix(), "sha384": sha384_bytes(data)},
            "bundle_fingerprint": fingerprint or f"sha384:{sha384_bytes(data)}",
        },
    }


def _verdicts(entry: dict, data_dir: Path) -> dict[str, tuple[str, ...]]:
    verdicts = evidence.entry_artefact_verdicts(
        entry, log_name="paper", data_dir=data_dir, keyring=KeyRing.load(data_dir)
    )
    return {v.name: v.problems for v in verdicts}


def test_the_registry_uses_the_bundle_verifier_of_the_packaging_module():
    assert evidence.verifier_for("bundle") is not None
    assert evidence.verifier_for("bundle").__module__ == verify_bundle_artefact.__module__


def test_a_gate_entry_recording_a_genuine_bundle_manifest_verifies(built, vendor, recorded):
    entry = _entry(recorded / MANIFEST_NAME, vendor.data_dir)
    assert entry["artefacts"]["bundle_fingerprint"] == built.fingerprint
    assert _verdicts(entry, vendor.data_dir) == {"bundle": (), "bundle_fingerprint": ()}
    assert (
        evidence.entry_artefact_problems(
            entry, log_name="paper", data_dir=vendor.data_dir, keyring=KeyRing.load(vendor.data_dir)
        )
        == []
    )


def test_a_gate_entry_whose_manifest_is_signed_by_a_foreign_key_is_refused(built, vendor, recorded):
    foreign = Ed25519Signer("release-dev-1", Ed25519PrivateKey.generate())
    (recorded / SIGNATURE_NAME).write_text(foreign.sign(DOMAIN_MANIFEST, built.manifest) + "\n")
    [problem] = _verdicts(_entry(recorded / MANIFEST_NAME, vendor.data_dir), vendor.data_dir)["bundle"]
    assert "manifest.sig does not verify" in problem


def test_a_gate_entry_whose_manifest_changed_after_it_was_recorded_is_refused(vendor, recorded):
    manifest = recorded / MANIFEST_NAME
    entry = _entry(manifest, vendor.data_dir)
    changed = manifest.read_bytes().replace(b'"bundle_version":"0.1.0"', b'"bundle_version":"0.1.1"')
    assert changed != manifest.read_bytes()
    manifest.write_bytes(changed)
    verdicts = _verdicts(entry, vendor.data_dir)
    path = entry["artefacts"]["bundle"]["path"]
    assert verdicts["bundle"] == (f"file {path} changed since it was recorded",)
    assert verdicts["bundle_fingerprint"] == ("is not the SHA-384 of the recorded bundle",)


def test_a_development_signed_bundle_recorded_in_production_mode_is_refused(vendor, recorded, monkeypatch):
    monkeypatch.setenv("OEM_ENV", "production")
    [problem] = _verdicts(_entry(recorded / MANIFEST_NAME, vendor.data_dir), vendor.data_dir)["bundle"]
    assert "development key release-dev-1, refused in production mode" in problem
