"""Platform packages checked with the real tools: dpkg-deb, dpkg -x, lintian, osslsigncode, xorriso."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from deploy.packaging.bootstrap.verify import verify_bundle


def _tool(*command: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(list(command), capture_output=True, text=True, timeout=600, **kwargs)


@pytest.fixture(scope="module")
def code_signing_cert(tmp_path_factory):
    """A throwaway Authenticode certificate made by openssl now (never a committed key)."""
    base = tmp_path_factory.mktemp("codesign")
    done = _tool(
        "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-keyout", str(base / "key.pem"), "-out", str(base / "cert.pem"),
        "-subj", "/CN=Core OEM Test Code Signing",
        "-addext", "extendedKeyUsage=codeSigning", "-addext", "keyUsage=critical,digitalSignature",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return base / "cert.pem", base / "key.pem"


@pytest.fixture(scope="module")
def windows_build(vendor, code_signing_cert):
    cert, key = code_signing_cert
    return vendor.build(
        vendor.root / "dist-windows", platform="windows-x86_64", codesign_cert=cert, codesign_key=key
    )


@pytest.fixture(scope="module")
def macos_build(vendor):
    return vendor.build(vendor.root / "dist-macos", platform="macos-arm64")


def _steps(result) -> dict:
    return {step["name"]: step for step in json.loads(result.report_path.read_bytes())["steps"]}


def test_the_deb_has_a_control_file_a_postinst_and_root_owned_files(linux_build):
    deb = linux_build.bundle_dir.parent / f"{linux_build.name}.deb"
    info = _tool("dpkg-deb", "--info", str(deb))
    assert info.returncode == 0, info.stderr
    assert "Package: core-oem" in info.stdout and "Version: 0.1.0" in info.stdout
    assert "postinst" in info.stdout
    postinst = _tool("dpkg-deb", "--info", str(deb), "postinst").stdout
    assert "bootstrap.py verify /opt/core-oem/0.1.0" in postinst
    listing = _tool("dpkg-deb", "--contents", str(deb)).stdout.splitlines()
    assert listing and all(" root/root " in line for line in listing)
    assert any(line.endswith("./opt/core-oem/0.1.0/manifest.json") for line in listing)


def test_the_deb_contents_verify_with_the_bootstrap_after_dpkg_x(linux_build, tmp_path):
    deb = linux_build.bundle_dir.parent / f"{linux_build.name}.deb"
    assert _tool("dpkg", "-x", str(deb), str(tmp_path / "root")).returncode == 0
    installed = tmp_path / "root" / "opt" / "core-oem" / "0.1.0"
    assert verify_bundle(installed).fingerprint == linux_build.fingerprint
    done = _tool(
        sys.executable, str(installed / "bootstrap.py"), "verify", str(installed),
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_lintian_reports_nothing_even_pedantic_and_every_override_has_a_reason(linux_build):
    deb = linux_build.bundle_dir.parent / f"{linux_build.name}.deb"
    done = _tool(
        "lintian", "-I", "-E", "--pedantic", "--fail-on", "error,warning,info,pedantic",
        "--tag-display-limit", "0", str(deb),
    )  # fmt: skip
    findings = [line for line in done.stdout.splitlines() if line[1:3] == ": "]  # E: W: I: P: X: O:
    assert done.returncode == 0 and not findings, done.stdout + done.stderr
    from deploy.packaging.platforms import LINTIAN_OVERRIDES

    lines = LINTIAN_OVERRIDES.strip().splitlines()
    for index, line in enumerate(lines):
        if not line.startswith("#"):
            assert lines[index - 1].startswith("#"), f"override without a reason: {line}"


def test_the_msi_is_authenticode_signed_and_verified_by_osslsigncode(windows_build, code_signing_cert):
    cert, _ = code_signing_cert
    msi = windows_build.bundle_dir.parent / f"{windows_build.name}.msi"
    done = _tool("osslsigncode", "verify", "-CAfile", str(cert), "-in", str(msi))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Signature verification: ok" in done.stdout
    info = _tool("msiinfo", "suminfo", str(msi))
    assert "Core OEM 0.1.0" in info.stdout
    steps = _steps(windows_build)
    assert steps["msi"]["status"] == "done" and "Authenticode" in steps["msi"]["detail"]
    assert steps["ev_signtool"] == {
        "name": "ev_signtool",
        "status": "placeholder",
        "detail": steps["ev_signtool"]["detail"],
        "artefact": None,
    }
    assert "signtool sign" in steps["ev_signtool"]["detail"]


def test_an_msi_signed_by_another_certificate_does_not_verify_against_ours(windows_build, tmp_path):
    other = tmp_path / "other.pem"
    made = _tool(
        "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-keyout", str(tmp_path / "other.key"), "-out", str(other), "-subj", "/CN=Somebody Else",
    )  # fmt: skip
    assert made.returncode == 0
    msi = windows_build.bundle_dir.parent / f"{windows_build.name}.msi"
    assert _tool("osslsigncode", "verify", "-CAfile", str(other), "-in", str(msi)).returncode != 0


def test_the_macos_image_holds_the_verified_bundle_and_apple_steps_are_placeholders(macos_build, tmp_path):
    dmg = macos_build.bundle_dir.parent / f"{macos_build.name}.dmg"
    extracted = tmp_path / "image"
    done = _tool("xorriso", "-osirrox", "on", "-indev", str(dmg), "-extract", "/", str(extracted))
    assert done.returncode == 0, done.stderr
    for path in extracted.rglob("*"):
        os.chmod(path, 0o755 if path.is_dir() else 0o644)  # ISO extraction keeps the image's read-only modes
    assert verify_bundle(extracted).fingerprint == macos_build.fingerprint
    steps = _steps(macos_build)
    assert steps["dmg"]["status"] == "done"
    for name in ("udif_dmg", "codesign", "notarization"):
        assert steps[name]["status"] == "placeholder" and steps[name]["artefact"] is None
    assert sorted(p.suffix for p in dmg.parent.iterdir() if p.is_file()) == [".dmg", ".gz", ".json", ".txt"]


def test_the_macos_image_is_reproducible(vendor, macos_build):
    again = vendor.build(vendor.root / "dist-macos-again", platform="macos-arm64")
    name = f"{macos_build.name}.dmg"
    assert (again.bundle_dir.parent / name).read_bytes() == (
        macos_build.bundle_dir.parent / name
    ).read_bytes()


def test_the_postinst_verifies_the_unpacked_bundle_with_debians_own_python(linux_build, tmp_path):
    """The package's Depends (python3, python3-cryptography, python3-yaml) and nothing else from this venv."""
    deb = linux_build.bundle_dir.parent / f"{linux_build.name}.deb"
    assert _tool("dpkg-deb", "-x", str(deb), str(tmp_path / "root")).returncode == 0
    assert _tool("dpkg-deb", "-e", str(deb), str(tmp_path / "control")).returncode == 0
    root = tmp_path / "root" / "opt" / "core-oem" / "0.1.0"
    script = (tmp_path / "control" / "postinst").read_text().replace("/opt/core-oem/0.1.0", str(root))
    (tmp_path / "postinst").write_text(script)
    clean_env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "OEM_DATA_DIR": str(tmp_path / "var")}
    done = _tool("sh", str(tmp_path / "postinst"), "configure", env=clean_env, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == f"fingerprint {linux_build.fingerprint}"
    assert "is not in this key ring" in done.stdout
    (root / "runbooks" / "paper_trading.md").write_text("changed\n")
    refused = _tool("sh", str(tmp_path / "postinst"), "configure", env=clean_env, cwd=tmp_path)
    assert refused.returncode != 0 and "runbooks/paper_trading.md" in refused.stderr
