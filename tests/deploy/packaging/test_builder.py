"""The bundle builder: contents, signatures, dry run, refusals, reproducibility."""

from __future__ import annotations

import filecmp
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from audit.trust.canonical import canonical_bytes
from audit.trust.hashing import sha384_bytes
from audit.trust.paths import REPO_ROOT
from deploy.packaging.bootstrap.manifest import parse_manifest
from deploy.packaging.bootstrap.verify import verify_bundle
from deploy.packaging.builder import BuildError, find_bundle_dir
from deploy.packaging.cli import main as build_main
from licensing.core.devkeys import development_licenses_allowed
from tests.deploy.packaging.conftest import EPOCH, snapshot
from tests.workers import database_url


def test_the_bundle_carries_code_wheels_signed_config_keys_bootstrap_and_runbooks(linux_build):
    bundle = linux_build.bundle_dir
    paths = {entry["path"] for entry in linux_build.manifest["files"]}
    for rel in (
        "bootstrap.py",
        "app/execution/daemon/server.py",
        "app/licensing/core/verify.py",
        "app/deploy/packaging/bootstrap/verify.py",
        "app/docs/schemas/core_config.json",
        "config/core.yaml",
        "config/core.yaml.sig",
        "config/env.template",
        "config/env.template.sig",
        "keys/release_keys.json",
        "keys/release_gpg.asc",
        "requirements.txt",
        "runbooks/OEM_INSTALLER_ACCEPTANCE.md",
        "wheelhouse/oemfix_alpha-1.0.0-py3-none-any.whl",
        "wheelhouse/oemfix_beta-2.1.0-py3-none-any.whl",
    ):
        assert rel in paths, rel
    assert (
        bundle / "requirements.txt"
    ).read_text() == "oemfix-alpha==1.0.0\noemfix-beta==2.1.0\nrfc8785==0.1.4\n"
    assert not any("__pycache__" in p or p.endswith(".pyc") or "oemconsole" in p for p in paths)
    assert (bundle / "manifest.json").read_bytes() == canonical_bytes(linux_build.manifest)


def test_the_shipped_environment_is_production_and_refuses_development_licenses(linux_build):
    template = (linux_build.bundle_dir / "config" / "env.template").read_text()
    environ = dict(line.split("=", 1) for line in template.splitlines() if line and not line.startswith("#"))
    assert environ["OEM_ENV"] == "production"
    assert development_licenses_allowed(environ) is False


def test_no_private_key_and_no_absolute_build_path_ships(linux_build):
    for path in linux_build.bundle_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert b"PRIVATE KEY" not in data, path
            assert str(linux_build.bundle_dir.parent).encode() not in data, path


def test_the_manifest_is_signed_and_the_fingerprint_is_the_sha384_of_its_bytes(linux_build, capsys):
    bundle = linux_build.bundle_dir
    data = (bundle / "manifest.json").read_bytes()
    manifest = parse_manifest(data)
    assert manifest["build_time"] == "2026-11-06T21:20:00Z"
    assert (
        manifest["commit"]
        == subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    )
    assert linux_build.fingerprint == f"sha384:{sha384_bytes(data)}"
    assert (bundle / "manifest.sig").read_text().startswith("ed25519:release-dev-1:")
    verified = verify_bundle(bundle)
    assert verified.fingerprint == linux_build.fingerprint
    assert (bundle.parent / "fingerprint.txt").read_text() == linux_build.fingerprint + "\n"
    assert find_bundle_dir(bundle.parent) == bundle


def test_manifest_asc_verifies_with_real_gpg_against_the_shipped_public_key(linux_build, tmp_path):
    bundle = linux_build.bundle_dir
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    gpg = ["gpg", "--batch", "--homedir", str(home)]
    try:
        subprocess.run(
            [*gpg, "--import", str(bundle / "keys/release_gpg.asc")], check=True, capture_output=True
        )
        done = subprocess.run(
            [*gpg, "--verify", str(bundle / "manifest.asc"), str(bundle / "manifest.json")],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
        assert "Good signature" in done.stderr
        (tmp_path / "changed.json").write_bytes((bundle / "manifest.json").read_bytes() + b" ")
        bad = subprocess.run(
            [*gpg, "--verify", str(bundle / "manifest.asc"), str(tmp_path / "changed.json")],
            capture_output=True,
        )
        assert bad.returncode != 0
    finally:
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], capture_output=True)


def test_the_build_report_lists_done_steps_with_hashes_and_placeholders_without_artefacts(linux_build):
    report = json.loads(linux_build.report_path.read_bytes())
    assert report == linux_build.report
    assert report["fingerprint"] == linux_build.fingerprint
    steps = {step["name"]: step for step in report["steps"]}
    assert [steps[n]["status"] for n in ("bundle", "tar.gz", "deb")] == ["done"] * 3
    assert steps["deb"]["artefact"]["sha384"].startswith("sha384:")
    assert not Path(steps["deb"]["artefact"]["path"]).is_absolute()
    assert steps["appimage"]["status"] == "placeholder" and steps["appimage"]["artefact"] is None
    assert not list(linux_build.bundle_dir.parent.glob("*.AppImage"))


def test_two_builds_of_the_same_commit_and_epoch_are_byte_identical(vendor, linux_build):
    second = vendor.build(vendor.root / "second")
    assert second.fingerprint == linux_build.fingerprint
    first_dir, second_dir = linux_build.bundle_dir.parent, second.bundle_dir.parent
    names = sorted(p.name for p in first_dir.iterdir())
    assert names == sorted(p.name for p in second_dir.iterdir())
    for name in names:
        if (first_dir / name).is_file():
            assert filecmp.cmp(first_dir / name, second_dir / name, shallow=False), name
    assert snapshot(linux_build.bundle_dir) == snapshot(second.bundle_dir)


def test_a_dry_run_prints_the_files_and_the_same_fingerprint_and_writes_nothing(vendor, linux_build, capsys):
    out = vendor.root / "dry"
    before = snapshot(vendor.data_dir)
    code = build_main(
        [
            "--platform", "linux-x86_64", "--out", str(out), "--dry-run",
            "--wheelhouse", str(vendor.wheelhouse.path),
            "--requirements", str(vendor.wheelhouse.requirements),
        ]
    )  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0
    assert printed.splitlines()[-1] == f"fingerprint {linux_build.fingerprint}"
    assert "app/execution/daemon/server.py" in printed and "nothing written" in printed
    assert not out.exists()
    assert snapshot(vendor.data_dir) == before


def test_missing_wheels_are_named_in_one_line_and_nothing_is_written(vendor, tmp_path, capsys):
    requirements = tmp_path / "req.txt"
    requirements.write_text(
        'oemfix-alpha==1.0.0\noemfix-gamma==3.0.0\nnumpy==2.4.6 ; sys_platform == "win32"\n'
    )
    out = tmp_path / "dist"
    code = build_main(
        [
            "--platform", "windows-x86_64", "--out", str(out),
            "--wheelhouse", str(vendor.wheelhouse.path), "--requirements", str(requirements),
        ]
    )  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert len(err.splitlines()) == 1
    assert "lacks 2 wheel(s) for windows-x86_64: oemfix-gamma==3.0.0, numpy==2.4.6" in err
    assert not out.exists()


def test_bad_arguments_and_untrusted_release_keys_are_refused_in_one_line(vendor, tmp_path, capsys):
    assert build_main(["--platform", "solaris-sparc", "--out", str(tmp_path / "x")]) == 2
    assert "invalid choice" in capsys.readouterr().err
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    foreign = tmp_path / "foreign.pem"
    foreign.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    )
    with pytest.raises(BuildError, match="not in deploy/packaging/bootstrap/trusted_keys.py"):
        vendor.build(tmp_path / "dist", release_key=foreign)
    with pytest.raises(BuildError, match="not MAJOR.MINOR.PATCH"):
        vendor.build(tmp_path / "dist", bundle_version="1.0")
    assert not (tmp_path / "dist").exists()


def test_the_builder_script_and_the_bootstrap_run_as_plain_scripts(linux_build):
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(
        [sys.executable, str(linux_build.bundle_dir / "bootstrap.py"), "verify", str(linux_build.bundle_dir)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tempfile.gettempdir(),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == f"fingerprint {linux_build.fingerprint}"
    usage = subprocess.run(
        [sys.executable, str(REPO_ROOT / "deploy/packaging/build_core_bundle.py"), "--help"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert usage.returncode == 0 and "--platform" in usage.stdout
    assert EPOCH  # the module fixture's SOURCE_DATE_EPOCH


def test_manage_py_build_core_bundle_runs_the_same_builder(vendor, linux_build, tmp_path):
    done = subprocess.run(
        [sys.executable, "manage.py", "build_core_bundle", "--platform", "linux-x86_64", "--dry-run"]
        + ["--out", str(tmp_path / "out"), "--wheelhouse", str(vendor.wheelhouse.path)]
        + ["--requirements", str(vendor.wheelhouse.requirements)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "DATABASE_URL": database_url()},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == f"fingerprint {linux_build.fingerprint}"
    assert not (tmp_path / "out").exists()


def test_on_a_machine_without_the_config_key_the_config_signature_is_bound_by_the_manifest(linux_build):
    verified = verify_bundle(linux_build.bundle_dir, keyring=None)
    for line, rel in zip(verified.config_checks, ("config/core.yaml", "config/env.template"), strict=True):
        assert line.startswith(f"{rel}: signature by config-") and line.endswith("is not in this key ring)")


def test_an_encrypted_release_key_signs_with_its_password_file_and_is_refused_without(
    vendor, linux_build, tmp_path, monkeypatch
):
    from cryptography.hazmat.primitives.serialization import (
        BestAvailableEncryption,
        Encoding,
        PrivateFormat,
        load_pem_private_key,
    )

    from deploy.packaging.builder import DEV_RELEASE_KEY

    key = load_pem_private_key(DEV_RELEASE_KEY.read_bytes(), password=None)
    encrypted = tmp_path / "release.pem"
    encrypted.write_bytes(
        key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, BestAvailableEncryption(b"s3cret"))
    )
    with pytest.raises(BuildError, match="is not a usable PKCS8 PEM"):
        vendor.build(tmp_path / "refused", release_key=encrypted, packages=False)
    assert not (tmp_path / "refused").exists()
    (tmp_path / "password").write_bytes(b"s3cret\n")
    monkeypatch.setenv("OEM_RELEASE_SIGNING_KEY_PASSWORD_FILE", str(tmp_path / "password"))
    signed = vendor.build(tmp_path / "signed", release_key=encrypted, packages=False)
    assert (signed.bundle_dir / "manifest.sig").read_bytes() == (
        linux_build.bundle_dir / "manifest.sig"
    ).read_bytes()
