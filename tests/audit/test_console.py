"""The console's decision-log page and API show exactly what the strict verifier decides."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from audit.models import DecisionEntry, Deployment
from audit.services import decision_log_reconcile
from tests.audit.helpers import append, read_lines, write_lines
from tests.factories import user_with_role
from tests.trust_setup import installed

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def deployment(db, settings, data_dir, keyring):
    settings.OEM_DATA_DIR = data_dir
    installed(data_dir)
    # The installation's own deployment: its evidence is data_dir itself.
    return Deployment.objects.create(name="local-install", customer="ACME", local=True)


@pytest.fixture
def demo_ready(deployment, keyring, data_dir):
    return append(keyring, data_dir, "demo", "demo_ready", artefacts={"run": "r1"})


def test_page_shows_verified_timeline_with_signer_names_and_meanings(client, deployment, demo_ready, keyring):
    client.force_login(user_with_role("compliance", deployments=[deployment]))
    page = client.get(f"/deployments/{deployment.pk}/decisions/").content.decode()
    assert "Verified: the strict verifier passed on 1 entry" in page
    assert "alice — approved as product owner" in page
    assert "carol — approved as compliance officer" in page
    assert "smoke_demo_report" in page  # demo_exit still misses its smoke report
    assert f"trust root <code>{keyring.installation.root_fingerprint}</code>" in page


def test_a_tampered_log_shows_not_verified_and_closes_every_gate(client, deployment, demo_ready, data_dir):
    log = data_dir / "audit" / "decision_logs" / "demo.jsonl"
    lines = read_lines(log)
    write_lines(log, [lines[0].replace(b'"run":"r1"', b'"run":"r2"', 1)])
    client.force_login(user_with_role("auditor"))
    page = client.get(f"/deployments/{deployment.pk}/decisions/").content.decode()
    assert "NOT VERIFIED" in page
    assert "pass</span>" not in page
    gates = client.get(f"/api/v1/deployments/{deployment.pk}/gates/").json()
    assert gates["verified"] is False
    assert not any(g["passed"] for g in gates["gates"])
    assert gates["require_demo_mode"] is True and gates["compliance_confirmed"] is False


def test_api_lists_verified_entries_with_signers(client, deployment, demo_ready):
    client.force_login(user_with_role("engineer", deployments=[deployment]))
    body = client.get(f"/api/v1/deployments/{deployment.pk}/decision-log/").json()
    assert body["verified"] is True
    assert [e["status"] for e in body["entries"]] == ["demo_ready"]
    assert body["entries"][0]["signers"] == {"compliance": "carol", "owner": "alice"}


def test_decision_log_of_a_hidden_deployment_is_404_on_page_and_api(client, deployment, demo_ready):
    client.force_login(user_with_role("operator"))
    assert client.get(f"/deployments/{deployment.pk}/decisions/").status_code == 404
    assert client.get(f"/api/v1/deployments/{deployment.pk}/decision-log/").status_code == 404
    assert client.get(f"/api/v1/deployments/{deployment.pk}/gates/").status_code == 404


def test_reconcile_fills_the_mirror_then_reports_and_repairs_divergence(deployment, demo_ready):
    assert decision_log_reconcile(deployment=deployment) == ["demo#1: missing from the database mirror"]
    assert decision_log_reconcile(deployment=deployment) == []
    DecisionEntry.objects.filter(deployment=deployment).update(status="live_ready", line_hash="sha384:forged")
    assert decision_log_reconcile(deployment=deployment) == ["demo#1: differs in the database mirror"]
    assert DecisionEntry.objects.get(deployment=deployment).status == "demo_ready"


def test_reconcile_refuses_to_mirror_a_log_that_does_not_verify(deployment, demo_ready, data_dir):
    log = data_dir / "audit" / "decision_logs" / "demo.jsonl"
    log.write_bytes(log.read_bytes()[:-20] + b"\n")
    findings = decision_log_reconcile(deployment=deployment)
    assert findings and all(f.startswith("decision logs do not verify") for f in findings)
    assert not DecisionEntry.objects.exists()


def manage(*args, data_dir: Path, stdin: str = ""):
    # A data dir of its own gets a database of its own (an empty SQLite beside it), never the console's.
    env = {**os.environ, "OEM_DATA_DIR": str(data_dir), "DATABASE_URL": ""}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_manage_py_commands_are_the_trust_core_clis(data_dir, keyring, demo_ready, tmp_path):
    config = tmp_path / "core.yaml"
    config.write_bytes((ROOT / "config" / "core.yaml").read_bytes())
    unsigned = manage("validate_config", "--profile", "demo", "--config", str(config), data_dir=data_dir)
    assert unsigned.returncode != 0 and len(unsigned.stderr.strip().splitlines()) == 1
    assert manage("sign_config", "--config", str(config), data_dir=data_dir).returncode == 0
    valid = manage("validate_config", "--profile", "live", "--config", str(config), data_dir=data_dir)
    assert valid.returncode == 0, valid.stderr
    assert any(line.startswith("sha384:") and len(line) == 7 + 96 for line in valid.stdout.splitlines())
    assert manage("verify_decision_log", "--strict", data_dir=data_dir).returncode == 0
    listed = manage("signing_keys", "list", data_dir=data_dir)
    assert listed.returncode == 0 and "signer-alice" in listed.stdout
