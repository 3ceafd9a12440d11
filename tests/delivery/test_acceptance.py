"""run_oem_acceptance: the four sections against a real bundle, on a fake physical machine for the license."""

import shutil

import pytest

from audit.trust.canonical import canonical_bytes, strict_loads
from audit.trust.hashing import sha384_bytes
from delivery.acceptance.cli import run_oem_acceptance_main
from delivery.acceptance.report import FAILED, PASSED, PLACEHOLDER, Section
from tests.delivery.bundles import build, vendor_data_dir
from tests.licensing.fakesys import build_machine
from tests.trust_setup import installed as set_up_installation


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build(tmp_path_factory.mktemp("dist") / "linux", packages=True)


@pytest.fixture
def device(tmp_path, monkeypatch):
    """This device, as the licensing tests build it: stable components, not a VM or container."""
    build_machine(tmp_path / "machine")
    monkeypatch.setenv("OEM_FINGERPRINT_ROOT", str(tmp_path / "machine"))
    monkeypatch.setenv("OEM_ENV", "test")
    monkeypatch.setenv("OEM_ALLOW_DEVELOPMENT_LICENSES", "true")  # the vendor side signs with the dev key


def _report(path):
    data = path.read_bytes()
    report = strict_loads(data)
    assert data == canonical_bytes(report)
    return report, {s["name"]: s for s in report["sections"]}


def test_a_built_bundle_passes_every_section_and_rebuilds_identically(
    built, device, tmp_path, capsys, monkeypatch
):
    # The second build runs where the first did: the vendor's installation holds the config key.
    monkeypatch.setenv("OEM_DATA_DIR", str(vendor_data_dir(built.bundle_dir.parent)))
    out = tmp_path / "acceptance.json"
    assert run_oem_acceptance_main(["--bundle", str(built.bundle_dir), "--json", str(out), "--rebuild"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[-2:] == [str(out), f"sha384:{sha384_bytes(out.read_bytes())}"]
    report, sections = _report(out)
    assert report["passed"] is True and report["failed_sections"] == []
    assert [s["name"] for s in report["sections"]] == ["bundle", "license", "paper_labs", "mtls"]
    assert {s["status"] for s in report["sections"]} == {PASSED}
    assert report["bundle"]["fingerprint"] == built.fingerprint
    bundle = {c["name"]: c for c in sections["bundle"]["checks"]}
    assert bundle["signature and manifest"]["status"] == PASSED
    assert bundle["reproducibility"]["status"] == PASSED
    assert bundle["gpg signature"]["status"] == PASSED
    # What Linux cannot do stays a placeholder, visible in the report, never passed.
    placeholders = [c for c in sections["bundle"]["checks"] if c["status"] == PLACEHOLDER]
    assert placeholders and report["placeholders"] == [f"bundle: {c['name']}" for c in placeholders]
    assert [c["name"] for c in sections["license"]["checks"]] == [
        "request",
        "provision",
        "activate",
        "registry",
    ]
    assert {a["name"] for a in sections["license"]["artefacts"]} == {
        "license_request",
        "license",
        "license_registry",
        "license_activation",
    }
    assert {a["name"] for a in sections["paper_labs"]["artefacts"]} == {
        "paper_labs_report_json",
        "paper_labs_report_pdf",
    }
    mtls = {c["name"]: c["detail"] for c in sections["mtls"]["checks"]}
    assert mtls["TLS 1.3"] == "negotiated TLSv1.3"
    assert mtls["client without certificate"].startswith("refused")
    for section in report["sections"]:
        for artefact in section["artefacts"]:
            assert artefact["sha384"].startswith("sha384:") and len(artefact["sha384"]) == 103


def test_a_changed_byte_fails_the_bundle_section_with_one_line(built, tmp_path, capsys):
    copy = tmp_path / built.bundle_dir.name
    shutil.copytree(built.bundle_dir, copy, symlinks=True)
    target = copy / "config" / "core.yaml"
    data = bytearray(target.read_bytes())
    data[10] ^= 0x01
    target.write_bytes(bytes(data))
    out = tmp_path / "report.json"
    assert run_oem_acceptance_main(["--bundle", str(copy), "--json", str(out), "--sections", "bundle"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(
        "error: acceptance FAILED: bundle: signature and manifest:"
    )
    report, sections = _report(out)
    assert report["passed"] is False and report["failed_sections"] == ["bundle"]
    assert sections["bundle"]["status"] == FAILED and report["bundle"]["fingerprint"] is None


def test_a_package_changed_after_the_build_fails_its_build_step(built, tmp_path):
    dist = tmp_path / "dist"
    shutil.copytree(built.bundle_dir.parent, dist, symlinks=True)
    package = next(dist.glob("*.tar.gz"))
    package.write_bytes(package.read_bytes() + b"\0")
    out = tmp_path / "report.json"
    bundle_dir = dist / built.bundle_dir.name
    assert (
        run_oem_acceptance_main(["--bundle", str(bundle_dir), "--json", str(out), "--sections", "bundle"])
        == 1
    )
    _, sections = _report(out)
    failed = [c for c in sections["bundle"]["checks"] if c["status"] == FAILED]
    assert len(failed) == 1 and "no longer matches the SHA-384" in failed[0]["detail"]


def test_a_container_without_allow_virtual_fails_the_license_section_honestly(built, tmp_path, monkeypatch):
    machine = tmp_path / "vm"
    build_machine(machine)
    (machine / ".dockerenv").write_text("")
    monkeypatch.setenv("OEM_FINGERPRINT_ROOT", str(machine))
    monkeypatch.setenv("OEM_ENV", "test")
    monkeypatch.setenv("OEM_ALLOW_DEVELOPMENT_LICENSES", "true")  # so provisioning reaches the VM check
    out = tmp_path / "report.json"
    argv = ["--bundle", str(built.bundle_dir), "--json", str(out), "--sections", "license"]
    assert run_oem_acceptance_main(argv) == 1
    _, sections = _report(out)
    provision = sections["license"]["checks"][-1]
    assert provision["name"] == "provision" and provision["status"] == FAILED
    assert "container" in provision["detail"]


def test_bad_arguments_are_one_line_and_write_nothing(built, tmp_path, capsys):
    out = tmp_path / "r.json"
    for argv in (
        ["--bundle", str(tmp_path / "missing"), "--json", str(out)],
        ["--bundle", str(built.bundle_dir), "--json", str(out), "--sections", "bundle,nope"],
        ["--bundle", str(built.bundle_dir)],
    ):
        assert run_oem_acceptance_main(argv) == 2, argv
        captured = capsys.readouterr()
        assert len(captured.err.strip().splitlines()) == 1 and captured.out == ""
    assert not out.exists()


def test_a_section_of_placeholders_only_is_a_placeholder_and_one_failure_fails_it():
    only = Section("bundle")
    only.check("codesign", PLACEHOLDER, "would run codesign")
    assert only.status == PLACEHOLDER
    mixed = Section("bundle")
    mixed.passed("signature", "ok")
    mixed.check("codesign", PLACEHOLDER, "would run codesign")
    assert mixed.status == PASSED and mixed.as_dict()["reasons"] == [
        "codesign (placeholder): would run codesign"
    ]
    mixed.failed("tar.gz", "changed")
    assert mixed.status == FAILED
    assert Section("empty").status == FAILED, "a section where nothing ran never passes"


def test_an_installed_release_passes_the_acceptance_from_its_prefix(built, device, tmp_path, monkeypatch):
    """Build → license on this device → install into a temp prefix → accept the installed release."""
    from deploy.packaging.bootstrap.install import install_bundle
    from licensing.core.cli import activate_license_main, license_request_main, oem_provision_license_main

    data = tmp_path / "var"
    monkeypatch.setenv("OEM_DATA_DIR", str(data))
    set_up_installation(data)
    request, issued = tmp_path / "request.json", tmp_path / "license.json"
    assert license_request_main(["--out", str(request)]) == 0
    provision = [
        "--request",
        str(request),
        "--customer",
        "ACME",
        "--stages",
        "demo,paper",
        "--valid-days",
        "30",
    ]
    assert oem_provision_license_main([*provision, "--out", str(issued)]) == 0
    assert activate_license_main([str(issued)]) == 0
    installed = install_bundle(built.bundle_dir, tmp_path / "site", data_dir=data)
    assert installed.fingerprint == built.fingerprint
    out = tmp_path / "installed.json"
    argv = ["--bundle", str(tmp_path / "site" / "current"), "--json", str(out), "--sections", "bundle,mtls"]
    assert run_oem_acceptance_main(argv) == 0
    report, sections = _report(out)
    assert report["bundle"]["fingerprint"] == built.fingerprint
    assert sections["mtls"]["status"] == PASSED and not any(
        "checkout" in n for n in sections["mtls"]["notes"]
    )


def test_a_section_that_crashes_is_recorded_as_failed_and_the_report_is_still_written(
    built, tmp_path, monkeypatch, capsys
):
    from delivery.acceptance import sections

    def broken(app, work, config):
        raise RuntimeError("the lab exploded")

    monkeypatch.setattr(sections, "paper_labs_section", broken)
    out = tmp_path / "report.json"
    argv = ["--bundle", str(built.bundle_dir), "--json", str(out), "--sections", "bundle,paper_labs"]
    assert run_oem_acceptance_main(argv) == 1
    assert "paper_labs: run: RuntimeError: the lab exploded" in capsys.readouterr().err
    report, sections_by_name = _report(out)
    assert sections_by_name["bundle"]["status"] == PASSED
    assert report["failed_sections"] == ["paper_labs"]


def test_a_manifest_asc_that_does_not_verify_fails_the_gpg_check(built, tmp_path):
    copy = tmp_path / built.bundle_dir.name
    shutil.copytree(built.bundle_dir, copy, symlinks=True)
    manifest = (copy / "manifest.json").read_bytes()
    (copy / "manifest.asc").write_bytes((copy / "manifest.asc").read_bytes().replace(b"\n\n", b"\n\nAAAA", 1))
    out = tmp_path / "report.json"
    assert run_oem_acceptance_main(["--bundle", str(copy), "--json", str(out), "--sections", "bundle"]) == 1
    _, sections = _report(out)
    checks = {c["name"]: c for c in sections["bundle"]["checks"]}
    assert checks["signature and manifest"]["status"] == PASSED
    assert checks["gpg signature"]["status"] == FAILED
    assert (copy / "manifest.json").read_bytes() == manifest


def test_a_bundle_for_another_platform_says_where_its_code_ran(tmp_path):
    windows = build(tmp_path / "windows", platform="windows-x86_64")
    out = tmp_path / "report.json"
    argv = ["--bundle", str(windows.bundle_dir), "--json", str(out), "--sections", "bundle,mtls"]
    assert run_oem_acceptance_main(argv) == 0
    report, sections = _report(out)
    assert report["bundle"]["platform"] == "windows-x86_64"
    assert (
        "a windows-x86_64 bundle: its code ran on linux-x86_64 with local wheels" in sections["mtls"]["notes"]
    )
