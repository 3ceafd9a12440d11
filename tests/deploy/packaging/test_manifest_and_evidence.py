"""Manifest strictness, wheel selection, and the `bundle` evidence verifier."""

from __future__ import annotations

import importlib
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit.trust.canonical import DOMAIN_MANIFEST, canonical_bytes
from audit.trust.paths import REPO_ROOT
from audit.trust.signatures import Ed25519Signer
from deploy.packaging import evidence
from deploy.packaging.bootstrap.manifest import ManifestError, build_manifest, parse_manifest
from deploy.packaging.evidence import verify_bundle_artefact
from deploy.packaging.wheelhouse import WheelhouseError, normalise, read_requirements, wheel_fits

DIGEST = "sha384:" + "ab" * 48


def _manifest(**changes):
    manifest = {
        "schema": "oem/bundle-manifest/v1",
        "bundle_version": "1.2.3",
        "commit": "a" * 40,
        "platform": "linux-x86_64",
        "build_time": "2026-11-06T21:20:00Z",
        "files": [
            {"path": "app/a.py", "size": 1, "sha384": DIGEST},
            {"path": "b", "size": 0, "sha384": DIGEST},
        ],
    }
    manifest.update(changes)
    return manifest


def test_a_well_formed_manifest_round_trips_through_its_canonical_bytes():
    manifest = build_manifest(**{k: v for k, v in _manifest().items() if k != "schema"})
    assert parse_manifest(canonical_bytes(manifest)) == manifest


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (canonical_bytes(_manifest()) + b"\n", "not in canonical form"),
        (canonical_bytes(_manifest())[:-1] + b',"x":1}', "fields wrong"),
        (b'{"schema":1,"schema":2}', "duplicate key"),
        (canonical_bytes(_manifest(files=list(reversed(_manifest()["files"])))), "not sorted and unique"),
        (
            canonical_bytes(_manifest(files=[{"path": "../etc/x", "size": 1, "sha384": DIGEST}])),
            "unsafe path",
        ),
        (canonical_bytes(_manifest(files=[{"path": "/etc/x", "size": 1, "sha384": DIGEST}])), "unsafe path"),
        (canonical_bytes(_manifest(files=[{"path": "a\\b", "size": 1, "sha384": DIGEST}])), "unsafe path"),
        (
            canonical_bytes(_manifest(files=[{"path": "manifest.sig", "size": 1, "sha384": DIGEST}])),
            "must not",
        ),
        (canonical_bytes(_manifest(files=[{"path": "a", "size": -1, "sha384": DIGEST}])), "size"),
        (
            canonical_bytes(_manifest(files=[{"path": "a", "size": 1, "sha384": "ab" * 48}])),
            "sha384:<96 hex>",
        ),
        (canonical_bytes(_manifest(commit="HEAD")), "commit"),
        (canonical_bytes(_manifest(platform="linux-arm")), "platform"),
        (canonical_bytes(_manifest(bundle_version="1.2")), "MAJOR.MINOR.PATCH"),
        (canonical_bytes(_manifest(build_time="2026-11-06 21:20")), "build_time"),
        (
            canonical_bytes(
                _manifest(
                    files=[
                        {"path": "a", "size": 1, "sha384": DIGEST},
                        {"path": "a/b", "size": 1, "sha384": DIGEST},
                    ]
                )
            ),
            "as a file and a directory",
        ),
        (
            canonical_bytes(
                _manifest(
                    files=[
                        {"path": "A", "size": 1, "sha384": DIGEST},
                        {"path": "a", "size": 1, "sha384": DIGEST},
                    ]
                )
            ),
            "differ only in case",
        ),
    ],
)
def test_an_ambiguous_or_unsafe_manifest_is_refused(data, message):
    with pytest.raises(ManifestError, match=message):
        parse_manifest(data)


def test_wheels_are_matched_to_the_platform_and_the_bundle_python():
    assert wheel_fits(
        "numpy-2.4.6-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl", "linux-x86_64"
    )
    assert wheel_fits("numpy-2.4.6-cp311-cp311-win_amd64.whl", "windows-x86_64")
    assert wheel_fits("numpy-2.4.6-cp311-cp311-macosx_14_0_arm64.whl", "macos-arm64")
    assert wheel_fits("cryptography-50.0.2-cp39-abi3-manylinux_2_34_x86_64.whl", "linux-x86_64")
    assert wheel_fits("rfc8785-0.1.4-py3-none-any.whl", "windows-x86_64") == ("rfc8785", "0.1.4")
    assert not wheel_fits("numpy-2.4.6-cp312-cp312-manylinux_2_28_x86_64.whl", "linux-x86_64")
    assert not wheel_fits("numpy-2.4.6-cp311-cp311-win_amd64.whl", "linux-x86_64")
    assert not wheel_fits("numpy-2.4.6-cp311-cp311-macosx_14_0_x86_64.whl", "macos-arm64")
    assert normalise("PyYAML") == normalise("pyyaml") and normalise("zxing-cpp") == "zxing_cpp"


def test_requirement_lines_are_strict_and_markers_select_the_platform(tmp_path):
    path = tmp_path / "req.txt"
    path.write_text('a==1\nb==2 ; sys_platform == "win32"  # only Windows\n')
    assert [str(r) for r in read_requirements(path, "windows-x86_64")] == ["a==1", "b==2"]
    assert [str(r) for r in read_requirements(path, "linux-x86_64")] == ["a==1"]
    path.write_text("a>=1\n")
    with pytest.raises(WheelhouseError, match="req.txt:1: expected name==version"):
        read_requirements(path, "linux-x86_64")


def test_the_core_pins_agree_with_requirements_txt():
    runtime = {}
    for line in (REPO_ROOT / "requirements.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            runtime[normalise(name.split("[")[0])] = version.strip()
    for platform in ("linux-x86_64", "windows-x86_64", "macos-arm64"):
        for requirement in read_requirements(REPO_ROOT / "deploy/packaging/requirements-core.txt", platform):
            if normalise(requirement.name) in runtime:
                assert runtime[normalise(requirement.name)] == requirement.version, requirement


@dataclass(frozen=True)
class Artefact:
    name: str
    kind: str
    value: object
    path: Path | None
    data: bytes | None


def _artefact(path: Path) -> Artefact:
    return Artefact("bundle", "bundle", {"path": str(path)}, path, path.read_bytes())


def test_the_bundle_evidence_verifier_proves_a_signed_manifest(linux_build):
    assert verify_bundle_artefact(_artefact(linux_build.bundle_dir / "manifest.json"), None) == []


def test_the_bundle_evidence_verifier_refuses_foreign_missing_and_malformed_manifests(linux_build, tmp_path):
    bundle = tmp_path / "b"
    shutil.copytree(linux_build.bundle_dir, bundle)
    manifest_path = bundle / "manifest.json"
    foreign = Ed25519Signer("release-dev-1", Ed25519PrivateKey.generate())
    (bundle / "manifest.sig").write_text(foreign.sign(DOMAIN_MANIFEST, linux_build.manifest) + "\n")
    [problem] = verify_bundle_artefact(_artefact(manifest_path), None)
    assert problem.startswith("bundle: manifest.sig does not verify")
    (bundle / "manifest.sig").unlink()
    assert verify_bundle_artefact(_artefact(manifest_path), None) == [
        "bundle: manifest.sig is missing beside manifest.json"
    ]
    manifest_path.write_bytes(manifest_path.read_bytes().replace(b'"commit":"', b'"commit":"x', 1))
    [problem] = verify_bundle_artefact(_artefact(manifest_path), None)
    assert "commit is not 40 lowercase hex" in problem
    assert verify_bundle_artefact(Artefact("bundle", "bundle", "text", None, None), None) == [
        "bundle: a bundle artefact must be a file reference to manifest.json"
    ]


def test_development_release_keys_are_refused_in_production_mode(linux_build, monkeypatch):
    monkeypatch.setenv("OEM_ENV", "production")
    [problem] = verify_bundle_artefact(_artefact(linux_build.bundle_dir / "manifest.json"), None)
    assert "development key release-dev-1, refused in production mode" in problem


def test_the_evidence_module_registers_the_bundle_kind_when_the_registry_exists():
    try:
        registry = importlib.import_module("audit.trust.evidence")
    except ModuleNotFoundError as exc:
        assert exc.name == "audit.trust.evidence"
        # Without the registry the module still imports and exposes the verifier.
        sys.modules.pop("deploy.packaging.evidence", None)
        assert importlib.import_module("deploy.packaging.evidence").KIND == "bundle"
    else:
        importlib.reload(evidence)
        assert registry.verifier_for("bundle").__name__ == "verify_bundle_artefact"
