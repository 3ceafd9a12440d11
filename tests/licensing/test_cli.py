"""The licensing CLIs end to end on a fake machine; refusals are one line, non-zero, nothing written."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from audit.trust.paths import REPO_ROOT
from licensing.core.cli import (
    activate_license_main,
    fingerprint_main,
    license_request_main,
    oem_provision_license_main,
    revoke_license_main,
    verify_license_registry_main,
)
from tests.licensing.fakesys import set_disk_serial, set_machine_id


def _files(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


def _provision(tmp_path, *extra):
    return oem_provision_license_main(
        [
            "--request",
            str(tmp_path / "req.json"),
            "--customer",
            "ACME Trading",
            "--stages",
            "demo,paper",
            "--valid-days",
            "30",
            "--out",
            str(tmp_path / "lic.json"),
            *extra,
        ]
    )


def test_request_provision_and_activate_on_the_same_machine(tmp_path, data_dir, capsys):
    assert fingerprint_main([]) == 0
    assert "5 of 5 core" in capsys.readouterr().out
    assert license_request_main(["--out", str(tmp_path / "req.json"), "--qr", str(tmp_path / "req.png")]) == 0
    assert "wrote license request" in capsys.readouterr().out
    assert (
        _provision(
            tmp_path, "--features", "paper-labs", "--max-activations", "2", "--qr", str(tmp_path / "lic.png")
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "issued license serial 1 for ACME Trading" in out and "device HMAC verified" in out
    assert activate_license_main(["--qr", str(tmp_path / "lic.png"), "--stage", "paper"]) == 0
    out = capsys.readouterr().out
    assert "activated license serial 1" in out and "recorded in" in out
    licenses = data_dir / "licenses"
    assert {"license.json", "activation.json", "high_water.json", "registry.jsonl"} <= set(
        os.listdir(licenses)
    )
    assert activate_license_main([str(tmp_path / "lic.json")]) == 0  # again: idempotent, no new activation
    assert "already active on this machine" in capsys.readouterr().out
    assert verify_license_registry_main([]) == 0
    assert "2 entries, 1 licenses (1 live)" in capsys.readouterr().out


def test_activation_reports_a_changed_component_and_refuses_a_new_machine_id(tmp_path, machine, capsys):
    license_request_main(["--out", str(tmp_path / "req.json")])
    _provision(tmp_path)
    set_disk_serial(machine, "REPLACED")
    assert activate_license_main([str(tmp_path / "lic.json")]) == 0
    assert "changed components (tolerated by policy): disk" in capsys.readouterr().out
    set_machine_id(machine, "e" * 32)
    assert activate_license_main([str(tmp_path / "lic.json")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "machine_id does not match" in err


def test_a_revoked_license_no_longer_activates(tmp_path, data_dir, capsys):
    license_request_main(["--out", str(tmp_path / "req.json")])
    _provision(tmp_path)
    assert revoke_license_main(["--serial", "1", "--reason", "chargeback"]) == 0
    assert "CRL number 2" in capsys.readouterr().out
    assert activate_license_main([str(tmp_path / "lic.json")]) == 1
    assert "serial 1 is revoked" in capsys.readouterr().err


def test_a_tampered_registry_fails_verification_with_a_line_number(tmp_path, data_dir, capsys):
    license_request_main(["--out", str(tmp_path / "req.json")])
    _provision(tmp_path)
    path = data_dir / "licenses" / "registry.jsonl"
    path.write_bytes(path.read_bytes().replace(b"ACME Trading", b"ACME Tradinh"))
    capsys.readouterr()
    assert verify_license_registry_main([]) == 1
    captured = capsys.readouterr()
    assert captured.out.startswith("registry.jsonl:1:")
    assert captured.err.count("\n") == 1


_GOOD = {"--request": "REQ", "--customer": "ACME", "--stages": "demo", "--valid-days": "30", "--out": "OUT"}


@pytest.mark.parametrize(
    "changes",
    [
        {"--request": None},
        {"--stages": "demo,gold"},
        {"--stages": ""},
        {"--valid-days": "0"},
        {"--valid-days": "x"},
        {"--customer": " "},
        {"--max-activations": "0"},
        {"--features": "Bad Feature"},
        {"--edition": "Gold Edition"},
        {"--request": "MISSING"},
        {"--out": "NODIR/x.json"},
    ],
)
def test_bad_provisioning_arguments_give_one_line_and_write_nothing(tmp_path, data_dir, changes, capsys):
    work = tmp_path / "work"
    work.mkdir()
    (work / "REQ").write_text("{}")
    argv = []
    for flag, value in {**_GOOD, **changes}.items():
        if value is not None:
            argv += [flag, str(work / value) if value in ("REQ", "OUT", "MISSING", "NODIR/x.json") else value]
    before, before_data = _files(work), _files(data_dir)
    assert oem_provision_license_main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: oem_provision_license:") and err.count("\n") == 1
    assert _files(work) == before
    assert _files(data_dir) == before_data


def test_a_broken_request_is_refused_and_nothing_is_issued(tmp_path, data_dir, capsys):
    license_request_main(["--out", str(tmp_path / "req.json")])
    doc = json.loads((tmp_path / "req.json").read_bytes())
    doc["fingerprint"]["components"]["cpu"] = "cd" * 48
    from licensing.core.request import request_digest

    doc["request_digest"] = request_digest(doc)
    (tmp_path / "req.json").write_text(json.dumps(doc))
    assert _provision(tmp_path) == 1
    assert "fingerprint signature does not verify" in capsys.readouterr().err
    assert not (tmp_path / "lic.json").exists()
    assert not (data_dir / "licenses" / "registry.jsonl").exists()


def test_bad_activation_and_revocation_arguments_are_refused(tmp_path, data_dir, capsys):
    before = _files(data_dir)
    assert activate_license_main([]) == 2
    assert activate_license_main([str(tmp_path / "nope.json")]) == 2
    assert activate_license_main([str(tmp_path / "a"), "--qr", str(tmp_path / "b")]) == 2
    assert activate_license_main(["--qr", str(tmp_path / "b"), "--stage", "gold"]) == 2
    assert revoke_license_main(["--serial", "0", "--reason", "x"]) == 2
    assert revoke_license_main(["--serial", "1"]) == 2
    err_lines = capsys.readouterr().err.splitlines()
    assert len(err_lines) == 6 and all(line.startswith("error: ") for line in err_lines)
    assert _files(data_dir) == before


def test_the_script_runs_the_same_main_without_django(tmp_path):
    env = {**os.environ, "OEM_DATA_DIR": str(tmp_path / "var")}
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts/oem_provision_license.py"), "--stages", "demo"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "required" in done.stderr
    check = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, licensing.core.cli, licensing.core.verify, licensing.core.registry; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'rest_framework')))",
        ],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=True,
    )
    assert check.stdout.strip() == "[]"


def test_python_m_licensing_core_dispatches_to_the_commands(tmp_path, data_dir):
    env = {**os.environ, "OEM_DATA_DIR": str(data_dir)}
    run = [sys.executable, "-m", "licensing.core"]
    done = subprocess.run(
        [*run, "fingerprint"], capture_output=True, text=True, env=env, cwd=REPO_ROOT, check=False
    )
    assert done.returncode == 0 and "5 of 5 core" in done.stdout
    done = subprocess.run([*run, "nope"], capture_output=True, text=True, env=env, cwd=REPO_ROOT, check=False)
    assert done.returncode == 2 and done.stderr.count("\n") == 1


def test_a_development_key_license_is_refused_at_activation_without_the_switch(
    tmp_path, data_dir, monkeypatch, capsys
):
    """Fails when the activation command decides on development keys from anything but
    OEM_ALLOW_DEVELOPMENT_LICENSES (before, any OEM_ENV other than production accepted them)."""
    assert license_request_main(["--out", str(tmp_path / "req.json")]) == 0
    assert _provision(tmp_path) == 0
    capsys.readouterr()
    monkeypatch.delenv("OEM_ALLOW_DEVELOPMENT_LICENSES")
    monkeypatch.setenv("OEM_ENV", "development")
    assert activate_license_main([str(tmp_path / "lic.json")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "development key, refused unless OEM_ALLOW_DEVELOPMENT_LICENSES=true" in err
    assert _provision(tmp_path) == 1  # nor can the development key issue one
    assert "development key" in capsys.readouterr().err
