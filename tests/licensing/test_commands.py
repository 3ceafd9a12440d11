"""Management commands: the pure licensing CLIs behind manage.py, same arguments, exit codes and one-line
errors; provisioning and revocation on the command line share the console's registry and show in it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.core.management import call_command, load_command_class
from django.core.management.base import CommandError

from audit.trust.paths import REPO_ROOT
from licensing import services
from licensing.core.cli import license_request_main, oem_provision_license_main
from licensing.core.crl import load_crl
from licensing.core.registry import crl_path, registry_path
from licensing.models import Customer, License
from tests.factories import ensure_roles, user_with_role
from tests.licensing.fakesys import build_machine

pytestmark = pytest.mark.django_db


def run(name: str, *args: str) -> int:
    """Exactly what `manage.py <name> args…` does after Django is set up."""
    command = load_command_class("licensing", name)
    with pytest.raises(SystemExit) as exited:
        command.run_from_argv(["manage.py", name, *map(str, args)])
    return exited.value.code


def _provision_args(tmp_path, request="req.json", out="license.json", customer="ACME Trading"):
    return [
        "--request",
        str(tmp_path / request),
        "--customer",
        customer,
        "--stages",
        "demo,paper",
        "--valid-days",
        "365",
        "--out",
        str(tmp_path / out),
    ]


def _one_line_error(err: str, *fragments: str) -> None:
    assert err.startswith("error: ") and err.count("\n") == 1, err
    for fragment in fragments:
        assert fragment in err, err


def test_the_runbook_flow_on_the_command_line_shows_in_the_console(tmp_path, capsys):
    assert run("fingerprint") == 0
    assert "5 of 5 core" in capsys.readouterr().out
    assert run("license_request", "--out", tmp_path / "req.json", "--qr", tmp_path / "req.png") == 0
    assert "wrote license request" in capsys.readouterr().out
    assert run("oem_provision_license", *_provision_args(tmp_path), "--qr", tmp_path / "license.png") == 0
    out = capsys.readouterr().out
    assert "issued license serial 1 for ACME Trading" in out and f"registry: {registry_path()}" in out
    assert "console mirror: imported 1" in out
    lic = License.objects.get(serial=1)
    assert (lic.device.customer.name, lic.status, lic.imported) == ("ACME Trading", "active", True)
    assert open(lic.file_path, "rb").read() == (tmp_path / "license.json").read_bytes()

    assert run("activate_license", "--qr", tmp_path / "license.png", "--stage", "paper") == 0
    assert "activated license serial 1" in capsys.readouterr().out
    assert run("verify_license_registry") == 0
    assert "license registry ok: 2 entries" in capsys.readouterr().out

    assert run("revoke_license", "--serial", "1", "--reason", "lost device") == 0
    assert "revoked license serial 1" in capsys.readouterr().out
    lic.refresh_from_db()
    assert (lic.status, lic.revoked_reason) == ("revoked", "lost device")
    assert load_crl(crl_path()).serials == frozenset({1})
    assert run("activate_license", tmp_path / "license.json") == 1
    _one_line_error(capsys.readouterr().err, "license serial 1 is revoked")


def test_console_and_command_line_share_one_registry(tmp_path, monkeypatch, capsys):
    ensure_roles()
    admin = user_with_role("admin")
    customer = services.customer_create(actor=admin, name="ACME Trading")
    assert license_request_main(["--out", str(tmp_path / "a.json")]) == 0
    req = services.license_request_upload(
        actor=admin, request_bytes=(tmp_path / "a.json").read_bytes(), customer=customer
    )
    services.license_issue(actor=admin, request=req, stages=["demo"], valid_days=30)
    # A second machine, provisioned on the command line against the same data directory.
    monkeypatch.setenv(
        "OEM_FINGERPRINT_ROOT",
        str(
            build_machine(
                tmp_path / "box2",
                machine_id="f" * 32,
                mac="3c:ec:ef:00:00:02",
                disk_serial="OTHER",
                tpm_pubek="other-ek",
            )
        ),
    )
    assert license_request_main(["--out", str(tmp_path / "req.json")]) == 0
    assert run("oem_provision_license", *_provision_args(tmp_path)) == 0
    assert "issued license serial 2 for ACME Trading" in capsys.readouterr().out
    assert sorted(License.objects.values_list("serial", flat=True)) == [1, 2]
    assert Customer.objects.count() == 1 and License.objects.get(serial=2).device.customer == customer
    assert run("verify_license_registry") == 0


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--customer", "X", "--stages", "demo", "--valid-days", "1", "--out", "x.json"], "--request"),
        (
            [
                "--request",
                "missing.json",
                "--customer",
                "X",
                "--stages",
                "demo",
                "--valid-days",
                "1",
                "--out",
                "o.json",
            ],
            "does not exist",
        ),
        (
            [
                "--request",
                "req.json",
                "--customer",
                "X",
                "--stages",
                "prod",
                "--valid-days",
                "1",
                "--out",
                "o.json",
            ],
            "stages",
        ),
        (
            [
                "--request",
                "req.json",
                "--customer",
                "X",
                "--stages",
                "demo",
                "--valid-days",
                "0",
                "--out",
                "o.json",
            ],
            "--valid-days",
        ),
    ],
)
def test_provisioning_usage_errors_exit_2_with_one_line_and_write_nothing(
    tmp_path, monkeypatch, capsys, args, fragment
):
    monkeypatch.chdir(tmp_path)
    assert license_request_main(["--out", "req.json"]) == 0
    capsys.readouterr()
    assert run("oem_provision_license", *args) == 2
    _one_line_error(capsys.readouterr().err, "oem_provision_license:", fragment)
    assert not registry_path().exists() and not (tmp_path / "o.json").exists()
    assert not License.objects.exists()


def test_refusals_exit_1_with_one_line(tmp_path, capsys):
    assert run("revoke_license", "--serial", "1", "--reason", "x") == 1
    _one_line_error(capsys.readouterr().err, "no license registry")
    assert run("verify_license_registry") == 1
    _one_line_error(capsys.readouterr().err, "no license registry")
    assert license_request_main(["--out", str(tmp_path / "req.json")]) == 0
    assert oem_provision_license_main(_provision_args(tmp_path)) == 0
    capsys.readouterr()
    assert run("revoke_license", "--serial", "7", "--reason", "x") == 1
    _one_line_error(capsys.readouterr().err, "never issued")
    assert run("activate_license", tmp_path / "nope.json") == 2
    _one_line_error(capsys.readouterr().err, "does not exist")

    path = registry_path()
    path.write_bytes(path.read_bytes().replace(b'"customer":"ACME Trading"', b'"customer":"ACME Tradinh"', 1))
    assert run("verify_license_registry") == 1
    _one_line_error(capsys.readouterr().err, "1 problem(s)", "registry.jsonl:1:")


def test_reconcile_imports_what_the_pure_cli_wrote(tmp_path, capsys):
    assert license_request_main(["--out", str(tmp_path / "req.json")]) == 0
    assert oem_provision_license_main(_provision_args(tmp_path)) == 0  # no Django: the console knows nothing
    assert not License.objects.exists()
    call_command("reconcile_licenses")
    assert "imported 1" in capsys.readouterr().out
    assert License.objects.get().serial == 1
    call_command("reconcile_licenses")
    assert "imported 0, updated 0" in capsys.readouterr().out
    registry_path().write_bytes(registry_path().read_bytes()[:-5] + b"xxxx\n")
    with pytest.raises(CommandError, match="registry does not verify"):
        call_command("reconcile_licenses")


def test_manage_py_runs_the_pure_cli_with_its_exit_code(tmp_path):
    # A data dir of its own gets a database of its own (an empty SQLite beside it), never the console's.
    env = {**os.environ, "OEM_DATA_DIR": str(tmp_path / "var"), "OEM_ENV": "test", "DATABASE_URL": ""}
    result = subprocess.run(
        [sys.executable, "manage.py", "verify_license_registry"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    _one_line_error(result.stderr, "no license registry")
