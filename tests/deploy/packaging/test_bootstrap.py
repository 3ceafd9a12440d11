"""The bootstrap end to end: verify, license request, install, the installed daemon, and every refusal.

One vendor box that is also the customer box (one data dir: the key ring that signed the config is the one
the daemon checks it with), on a fake physical machine. Tests run in file order: the module installs 0.1.0
first, the refusals try to install a 0.2.0 that would otherwise be accepted, the last test upgrades.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit.trust.canonical import DOMAIN_MANIFEST, canonical_bytes, strict_loads
from audit.trust.signatures import Ed25519Signer
from deploy.packaging.bootstrap.cli import main as bootstrap_main
from licensing.core.cli import activate_license_main, oem_provision_license_main
from tests.deploy.packaging.conftest import snapshot
from tests.licensing.fakesys import build_machine


@pytest.fixture(scope="module")
def site(vendor):
    """The customer side of the box: a fake physical machine and an install prefix."""
    build_machine(vendor.root / "machine")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OEM_FINGERPRINT_ROOT", str(vendor.root / "machine"))
        mp.setenv("OEM_ALLOW_DEVELOPMENT_LICENSES", "true")  # the licenses below are signed with the dev key
        yield vendor.root / "opt" / "core-oem"


@pytest.fixture(scope="module")
def newer(vendor, site):
    return vendor.build(vendor.root / "dist-0.2.0", bundle_version="0.2.0", packages=False)


def _run(argv, capsys) -> tuple[int, str, str]:
    code = bootstrap_main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _copy(bundle: Path, tmp_path: Path) -> Path:
    target = tmp_path / bundle.name
    shutil.copytree(bundle, target)
    return target


def test_without_a_license_install_writes_a_request_and_stops_with_the_next_step(
    vendor, site, linux_build, capsys
):
    code, out, err = _run(["install", linux_build.bundle_dir, "--prefix", site], capsys)
    assert code == 3
    assert len(err.strip().splitlines()) == 1
    assert "no valid license for this device" in err and "activate_license" in err
    request = vendor.data_dir / "licenses" / "license_request.json"
    assert strict_loads(request.read_bytes())["format"] == "oem-license-request/2"
    assert not site.exists()


def test_with_a_license_for_this_device_the_bundle_installs_atomically(vendor, site, linux_build, capsys):
    request = vendor.data_dir / "licenses" / "license_request.json"
    license_file = vendor.root / "license.json"
    assert (
        oem_provision_license_main(
            ["--request", str(request), "--customer", "ACME Trading", "--stages", "demo,paper"]
            + ["--valid-days", "30", "--out", str(license_file)]
        )
        == 0
    )
    assert activate_license_main([str(license_file)]) == 0
    capsys.readouterr()
    code, out, err = _run(["install", linux_build.bundle_dir, "--prefix", site], capsys)
    assert code == 0, err
    assert out.splitlines()[-1] == f"fingerprint {linux_build.fingerprint}"
    assert "next: python3 -m venv VENV" in out
    assert os.readlink(site / "current") == "releases/0.1.0"
    assert sorted(p.name for p in site.iterdir()) == ["current", "releases"]  # no staging left behind
    record = strict_loads((vendor.data_dir / "bundle" / "installed.json").read_bytes())
    assert record["fingerprint"] == linux_build.fingerprint and record["bundle_version"] == "0.1.0"
    code, out, _ = _run(["verify", site / "current"], capsys)
    assert code == 0 and "hmac-sha384 signature by config-" in out


def test_the_installed_daemon_runs_its_check_from_the_prefix(vendor, site):
    app = site / "current" / "app"
    env = {**os.environ, "PYTHONPATH": str(app), "PYTHONDONTWRITEBYTECODE": "1"}
    where = subprocess.run(
        [sys.executable, "-c", "import execution.daemon.server as s; print(s.__file__)"],
        capture_output=True,
        text=True,
        env=env,
        cwd=app,
    )
    assert where.stdout.strip().startswith(str((site / "releases" / "0.1.0" / "app").resolve())), where.stderr
    done = subprocess.run(
        [sys.executable, "-m", "execution.daemon", "--check", "--mode", "paper"]
        + ["--config", str(site / "current" / "config" / "core.yaml"), "--data-dir", str(vendor.data_dir)],
        capture_output=True,
        text=True,
        env=env,
        cwd=app,
        timeout=120,
    )
    assert "[ok] config signature: core.yaml" in done.stdout, done.stdout + done.stderr
    # Live stays locked (no signed go decisions on this box), which is what --check must report.
    assert done.returncode == 1 and "Traceback" not in done.stderr
    code = subprocess.run(
        [sys.executable, "-m", "deploy.packaging.bootstrap", "verify", str(site / "current")],
        capture_output=True,
        env=env,
        cwd=app,
    ).returncode
    assert code == 0  # running the daemon left the installed release exactly as signed


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda b: _flip_byte(b / "app/execution/daemon/server.py"), "server.py: sha384 differs"),
        (lambda b: (b / "config/core.yaml").unlink(), "missing: config/core.yaml"),
        (lambda b: (b / "app/execution/backdoor.py").write_text("x = 1\n"), "not in the manifest: app/exec"),
        (lambda b: _foreign_signature(b), "manifest.sig does not verify: bad ed25519 signature"),
        (lambda b: _foreign_signature(b, kid="release-prod-9"), "not a trusted release key"),
        (lambda b: _edit_manifest_digest(b), "manifest.sig does not verify"),
        (lambda b: (b / "wheelhouse/oemfix_beta-2.1.0-py3-none-any.whl").write_bytes(b""), "size 0 differs"),
    ],
    ids=["changed-byte", "removed-file", "added-file", "foreign-key", "unknown-key", "manifest", "truncated"],
)
def test_a_changed_bundle_is_refused_in_one_line_and_the_prefix_is_untouched(
    newer, site, tmp_path, capsys, change, message
):
    bundle = _copy(newer.bundle_dir, tmp_path)
    assert _run(["verify", bundle], capsys)[0] == 0
    change(bundle)
    before = snapshot(site)
    for command in (["verify", bundle], ["install", bundle, "--prefix", site]):
        code, out, err = _run(command, capsys)
        assert code == 1, out
        assert len(err.strip().splitlines()) == 1 and message in err, err
    assert snapshot(site) == before


def test_a_rebuild_of_the_installed_version_and_a_foreign_platform_are_refused(
    vendor, site, tmp_path, capsys
):
    rebuilt = vendor.build(tmp_path / "rebuilt", commit="0" * 40, packages=False)
    windows = vendor.build(
        tmp_path / "win", platform="windows-x86_64", bundle_version="0.3.0", packages=False
    )
    before = snapshot(site)
    code, _, err = _run(["install", rebuilt.bundle_dir, "--prefix", site], capsys)
    assert code == 1 and "already installed with another fingerprint" in err
    code, _, err = _run(["install", windows.bundle_dir, "--prefix", site], capsys)
    assert code == 1 and "built for windows-x86_64, this machine is linux-x86_64" in err
    assert snapshot(site) == before


def test_installing_the_same_bundle_again_changes_nothing(site, linux_build, capsys):
    before = snapshot(site)
    code, out, _ = _run(["install", linux_build.bundle_dir, "--prefix", site], capsys)
    assert code == 0 and "already installed" in out
    assert snapshot(site) == before


def test_without_the_development_switch_a_development_signed_license_is_refused(
    site, newer, monkeypatch, capsys
):
    """The installed license is signed with the development key: by default (production-like) it does not
    count, and a malformed switch is one line; the prefix stays as it was either way."""
    before = snapshot(site)
    monkeypatch.delenv("OEM_ALLOW_DEVELOPMENT_LICENSES")
    code, _, err = _run(["install", newer.bundle_dir, "--prefix", site], capsys)
    assert code == 3 and len(err.strip().splitlines()) == 1
    assert "no valid license for this device" in err and "OEM_ALLOW_DEVELOPMENT_LICENSES" in err
    monkeypatch.setenv("OEM_ALLOW_DEVELOPMENT_LICENSES", "yes")
    code, _, err = _run(["install", newer.bundle_dir, "--prefix", site], capsys)
    assert code == 1 and len(err.strip().splitlines()) == 1 and "must be true or false" in err
    assert snapshot(site) == before


def test_an_upgrade_with_its_offline_venv_switches_current_and_a_downgrade_after_it_is_refused(
    vendor, site, newer, linux_build, capsys
):
    code, out, err = _run(["install", newer.bundle_dir, "--prefix", site, "--venv"], capsys)
    assert code == 0, err
    assert os.readlink(site / "current") == "releases/0.2.0"
    assert (site / "releases" / "0.1.0").is_dir()
    imported = subprocess.run(
        [
            str(site / "venvs/0.2.0/bin/python"),
            "-c",
            "import oemfix_alpha, oemfix_beta; print(oemfix_beta.VERSION)",
        ],
        capture_output=True,
        text=True,
    )
    assert imported.stdout == "2.1.0\n", imported.stderr
    before = snapshot(site)
    code, _, err = _run(["install", linux_build.bundle_dir, "--prefix", site], capsys)
    assert code == 1
    assert "downgrade refused: bundle 0.1.0 is older than the installed 0.2.0" in err
    assert snapshot(site) == before
    record = vendor.data_dir / "bundle" / "installed.json"
    record.write_bytes(record.read_bytes().replace(b'"0.2.0"', b'"0.0.1"'))
    code, _, err = _run(["install", linux_build.bundle_dir, "--prefix", site], capsys)
    assert code == 1 and "installed bundle record" in err and "signature" in err
    assert snapshot(site) == before


def test_bad_bootstrap_arguments_are_one_line_usage_errors(tmp_path, capsys):
    code, _, err = _run(["install", tmp_path], capsys)
    assert code == 2 and "--prefix" in err and len(err.strip().splitlines()) == 1
    code, _, err = _run(["verify", tmp_path / "nothing"], capsys)
    assert code == 1 and "is not a bundle directory" in err


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def _edit_manifest_digest(bundle: Path) -> None:
    """A canonical, well-formed manifest naming another hash for one file: only the signature can tell."""
    path = bundle / "manifest.json"
    data = path.read_bytes()
    at = data.index(b'"sha384":"sha384:') + len(b'"sha384":"sha384:')
    path.write_bytes(data[:at] + (b"0" if data[at : at + 1] != b"0" else b"1") + data[at + 1 :])


def _foreign_signature(bundle: Path, kid: str = "release-dev-1") -> None:
    manifest = strict_loads((bundle / "manifest.json").read_bytes())
    assert canonical_bytes(manifest) == (bundle / "manifest.json").read_bytes()
    signer = Ed25519Signer(kid, Ed25519PrivateKey.generate())
    (bundle / "manifest.sig").write_text(signer.sign(DOMAIN_MANIFEST, manifest) + "\n")


def test_a_prefix_whose_current_is_a_real_directory_is_refused_before_anything_is_written(
    newer, tmp_path, capsys
):
    prefix = tmp_path / "prefix"
    (prefix / "current").mkdir(parents=True)
    before = snapshot(prefix)
    code, _, err = _run(["install", newer.bundle_dir, "--prefix", prefix], capsys)
    assert code == 1 and "is not a symbolic link to a release" in err
    assert snapshot(prefix) == before
