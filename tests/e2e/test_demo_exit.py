"""The whole demo exit in a real browser: the engineer attaches and signs, the product owner signs, then
compliance and the owner sign the decision; the written log passes the strict verifier."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from audit.models import Deployment
from audit.services import signer_key_create
from audit.trust.cli import verify_decision_log_main
from audit.trust.hashing import sha384_file
from audit.trust.keyring import KeyRing
from tests.evidence_factory import console_uploads, stand_in_verifiers
from tests.factories import PASSWORD, user_with_role
from tests.trust_setup import ADMIN_PASSWORD, installed
from tests.workers import database_url

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def team(settings, tmp_path):
    settings.OEM_DATA_DIR = tmp_path / "data"
    installed(settings.OEM_DATA_DIR)
    deployment = Deployment.objects.create(name="acme-demo", customer="ACME", local=True)
    people = {}
    for role, name in (
        ("engineer", "Erin Engineer"),
        ("product_owner", "Olga Owner"),
        ("compliance", "Carl Compliance"),
        ("operator", "Otto Operator"),
    ):
        first, last = name.split()
        people[role] = user_with_role(role, deployments=[deployment], first_name=first, last_name=last)
        signer_key_create(user=people[role], password=PASSWORD, admin_password=ADMIN_PASSWORD)
    return deployment, people


@pytest.fixture
def stand_ins():
    with stand_in_verifiers():
        yield


def log_in(page: Page, server, user):
    page.context.clear_cookies()
    page.goto(f"{server.url}/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


def sign_step(page: Page, step: str, meaning: str = "performed"):
    page.get_by_label(f"meaning for {step}").select_option(meaning)
    page.get_by_label(f"password for {step}").fill(PASSWORD)
    page.get_by_test_id(f"step-{step}").get_by_role("button", name="Sign step").click()
    expect(page.get_by_test_id(f"step-{step}").get_by_test_id("signature")).to_contain_text("Signed by")


def genuine_files(settings, tmp_path, gate: str) -> dict:
    """The gate's genuine evidence from the product's producers: files to upload (paths) and values."""
    keyring = KeyRing.load(settings.OEM_DATA_DIR)
    uploads = console_uploads(
        gate, keyring=keyring, config_path=settings.OEM_CONFIG_PATH, scratch=tmp_path / f"producers-{gate}"
    )
    out = {}
    for name, content in uploads.items():
        if isinstance(content, bytes):
            out[name] = tmp_path / "uploads" / gate / f"{name}.bin"
            out[name].parent.mkdir(parents=True, exist_ok=True)
            out[name].write_bytes(content)
        else:
            out[name] = content
    return out


def test_demo_exit_end_to_end_in_the_browser(page: Page, team, console, settings, tmp_path):
    """A hollow smoke report blocks the proposal and the gate page says why; with the genuine report the
    gate closes and the written log passes the strict verifier."""
    deployment, people = team
    evidence = genuine_files(settings, tmp_path, "demo_exit")
    hollow = tmp_path / "smoke_demo.jsonl"
    hollow.write_text('{"cycles": 1, "orders": 12, "ok": true}\n')
    metrics = tmp_path / "metrics_demo.jsonl"
    metrics.write_text('{"oem_orders_total": 12}\n')
    checklist_url = f"{console.url}/deployments/{deployment.pk}/checklists/demo_stage1/"
    gate_url = f"{console.url}/deployments/{deployment.pk}/gates/demo_exit/"

    log_in(page, console, people["engineer"])
    page.goto(checklist_url)
    attach_value(page, "validate_config", "config_hash", evidence["config_hash"])
    attach_file(page, "validate_config", "config_signature", evidence["config_signature"])
    attach_value(page, "validate_config", "bundle_commit", evidence["bundle_commit"])
    attach_file(page, "smoke_demo", "smoke_demo_report", hollow)
    attach_file(page, "metrics_service", "metrics_demo_log", metrics)
    attach_file(page, "installer_acceptance", "ci_run", evidence["ci_run"])
    for step in (
        "validate_config",
        "smoke_demo",
        "metrics_service",
        "installer_acceptance",
        "verify_demo_log",
    ):
        sign_step(page, step)
    expect(page.get_by_test_id("step-validate_config")).to_contain_text("Signed by Erin Engineer")

    log_in(page, console, people["product_owner"])
    page.goto(checklist_url)
    sign_step(page, "product_owner_approval", "approved")
    page.get_by_role("button", name="Export signed checklist").click()
    expect(page.get_by_text("Signed checklist: JSON")).to_be_visible()

    log_in(page, console, people["compliance"])
    page.goto(gate_url)
    expect(page.get_by_test_id("verdict-smoke_demo_report")).to_contain_text("refused")
    expect(page.get_by_test_id("verdict-smoke_demo_report")).to_contain_text(
        "smoke report has no summary line"
    )
    expect(page.get_by_test_id("verdict-config_signature")).to_contain_text("proven")
    expect(page.get_by_test_id("gate-missing")).to_contain_text(
        "artefact smoke_demo_report (smoke_report): smoke report has no summary line"
    )
    expect(page.get_by_role("button", name="Propose the demo_ready decision")).to_have_count(0)

    log_in(page, console, people["engineer"])
    page.goto(checklist_url)
    attach_file(page, "smoke_demo", "smoke_demo_report", evidence["smoke_demo_report"])
    step = page.get_by_test_id("step-smoke_demo")
    expect(step.locator(".signature.void")).to_contain_text("VOID")  # replacing the report voided it
    page.get_by_label("meaning for smoke_demo").select_option("performed")
    page.get_by_label("password for smoke_demo").fill(PASSWORD)
    step.get_by_role("button", name="Sign step").click()
    expect(step.locator(".signature:not(.void)")).to_contain_text("Signed by Erin Engineer")
    page.get_by_role("button", name="Export signed checklist").click()
    expect(page.get_by_text("Signed checklist: JSON")).to_be_visible()

    log_in(page, console, people["compliance"])
    page.goto(gate_url)
    expect(page.get_by_test_id("verdict-smoke_demo_report")).to_contain_text("proven")
    page.get_by_role("button", name="Propose the demo_ready decision").click()
    page.get_by_label("decision password").fill(PASSWORD)
    page.get_by_role("button", name="Sign decision").click()
    expect(page.get_by_test_id("proposal")).to_contain_text("compliance")

    log_in(page, console, people["product_owner"])
    page.goto(gate_url)
    page.get_by_label("decision password").fill(PASSWORD)
    page.get_by_role("button", name="Sign decision").click()

    page.goto(f"{console.url}/deployments/{deployment.pk}/decisions/")
    expect(page.get_by_test_id("verification")).to_contain_text("Verified")
    expect(page.get_by_test_id("entry-demo_ready")).to_contain_text("approved as product owner")
    expect(page.get_by_test_id("entry-demo_ready")).to_contain_text("approved as compliance officer")

    log = Path(settings.OEM_DATA_DIR) / "audit" / "decision_logs" / "demo.jsonl"
    verified = subprocess.run(
        [sys.executable, "manage.py", "verify_decision_log", "--strict", "--log", str(log)],
        cwd=ROOT,
        env={**os.environ, "OEM_DATA_DIR": str(settings.OEM_DATA_DIR), "DATABASE_URL": database_url()},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_operator_cannot_sign_and_a_post_without_csrf_is_refused(page: Page, team, console):
    deployment, people = team
    log_in(page, console, people["operator"])
    page.goto(f"{console.url}/deployments/{deployment.pk}/checklists/demo_stage1/")
    expect(page.get_by_role("button", name="Sign step")).to_have_count(0)
    api = page.request.post(
        f"{console.url}/api/v1/deployments/{deployment.pk}/checklists/demo_stage1/steps/verify_demo_log/sign/",
        data={"password": PASSWORD, "meaning": "performed"},
    )
    assert api.status == 403  # the session is real, the CSRF token is missing: refused before anything runs
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    api = page.request.post(
        f"{console.url}/api/v1/deployments/{deployment.pk}/checklists/demo_stage1/steps/verify_demo_log/sign/",
        data={"password": PASSWORD, "meaning": "performed"},
        headers={"X-CSRFToken": csrf, "Referer": console.url + "/"},
    )
    assert api.status == 403
    assert "signed by the engineer role" in api.json()["error"]["message"]


def attach_value(page: Page, step: str, name: str, value: str):
    field = page.get_by_label(f"value for {name}", exact=True)
    field.fill(value)
    page.get_by_test_id(f"step-{step}").locator("tr", has=field).locator("button[type=submit]").click()


def attach_file(page: Page, step: str, name: str, path: Path):
    field = page.get_by_label(f"file for {name}", exact=True)
    field.set_input_files(str(path))
    page.get_by_test_id(f"step-{step}").locator("tr", has=field).locator("button[type=submit]").click()
    expect(page.get_by_test_id(f"sha-{name}")).to_have_text("sha384:" + sha384_file(path))


def sign_decision(page: Page, server, user, gate_url: str, propose: bool = False):
    log_in(page, server, user)
    page.goto(gate_url)
    if propose:
        page.get_by_role("button", name="Propose").click()
    page.get_by_label("decision password").fill(PASSWORD)
    page.get_by_role("button", name="Sign decision").click()


def test_compliance_takes_a_deployment_from_demo_to_paper_ready_in_the_browser(
    page: Page, live_server, team, settings, tmp_path, monkeypatch, stand_ins
):
    """The bundle manifest's verifier comes with the bundle builder; a stand-in takes its place here. The
    stand-in lives in this process, so this test alone uses the in-process live server, not gunicorn."""
    deployment, people = team
    admin = user_with_role("admin", deployments=[deployment], first_name="Ada", last_name="Admin")
    signer_key_create(user=admin, password=PASSWORD, admin_password=ADMIN_PASSWORD)
    demo = genuine_files(settings, tmp_path, "demo_exit")
    paper = genuine_files(settings, tmp_path, "paper_exit")
    files = {}
    for name, text in {"metrics": '{"m": 1}\n', "license": '{"serial": 1}\n'}.items():
        files[name] = tmp_path / f"{name}.txt"
        files[name].write_text(text)
    base = f"{live_server.url}/deployments/{deployment.pk}"

    log_in(page, live_server, people["engineer"])
    page.goto(f"{base}/checklists/demo_stage1/")
    attach_value(page, "validate_config", "config_hash", demo["config_hash"])
    attach_file(page, "validate_config", "config_signature", demo["config_signature"])
    attach_value(page, "validate_config", "bundle_commit", demo["bundle_commit"])
    attach_file(page, "smoke_demo", "smoke_demo_report", demo["smoke_demo_report"])
    attach_file(page, "metrics_service", "metrics_demo_log", files["metrics"])
    attach_file(page, "installer_acceptance", "ci_run", demo["ci_run"])
    for step in (
        "validate_config",
        "smoke_demo",
        "metrics_service",
        "installer_acceptance",
        "verify_demo_log",
    ):
        sign_step(page, step)
    log_in(page, live_server, people["product_owner"])
    page.goto(f"{base}/checklists/demo_stage1/")
    sign_step(page, "product_owner_approval", "approved")
    page.get_by_role("button", name="Export signed checklist").click()
    sign_decision(page, live_server, people["compliance"], f"{base}/gates/demo_exit/", propose=True)
    sign_decision(page, live_server, people["product_owner"], f"{base}/gates/demo_exit/")

    log_in(page, live_server, people["engineer"])
    page.goto(f"{base}/checklists/paper_trading/")
    attach_value(page, "paper_config", "config_hash", paper["config_hash"])
    attach_file(page, "paper_config", "config_signature", paper["config_signature"])
    attach_file(page, "paper_labs_reports", "paper_labs_report_json", paper["paper_labs_report_json"])
    attach_file(page, "paper_labs_reports", "paper_labs_report_pdf", paper["paper_labs_report_pdf"])
    attach_value(page, "bundle_fingerprint", "bundle_fingerprint", paper["bundle_fingerprint"])
    attach_file(page, "bundle_fingerprint", "bundle", paper["bundle"])
    attach_file(page, "paper_smoke", "paper_smoke_report", paper["paper_smoke_report"])
    attach_file(page, "paper_smoke", "ci_run", paper["ci_run"])
    for step in ("paper_config", "paper_labs_reports", "bundle_fingerprint", "paper_smoke"):
        sign_step(page, step)
    log_in(page, live_server, admin)
    page.goto(f"{base}/checklists/paper_trading/")
    attach_file(page, "paper_license", "paper_license", files["license"])
    sign_step(page, "paper_license")
    log_in(page, live_server, people["compliance"])
    page.goto(f"{base}/checklists/paper_trading/")
    sign_step(page, "compliance_acceptance", "reviewed")
    log_in(page, live_server, people["product_owner"])
    page.goto(f"{base}/checklists/paper_trading/")
    sign_step(page, "product_owner_approval", "approved")
    page.get_by_role("button", name="Export signed checklist").click()
    expect(page.get_by_text("Signed checklist: JSON")).to_be_visible()
    sign_decision(page, live_server, people["compliance"], f"{base}/gates/paper_exit/", propose=True)
    sign_decision(page, live_server, people["product_owner"], f"{base}/gates/paper_exit/")

    page.goto(f"{base}/decisions/")
    expect(page.get_by_test_id("verification")).to_contain_text(
        "Verified: the strict verifier passed on 2 entries"
    )
    expect(page.get_by_test_id("entry-paper_ready")).to_contain_text("approved as compliance officer")
    monkeypatch.setenv("OEM_DATA_DIR", str(settings.OEM_DATA_DIR))
    assert verify_decision_log_main(["--strict"]) == 0  # in process: the bundle's stand-in verifier
