"""Browser flows through the real console served by the production server (gunicorn)."""

import pytest
from playwright.sync_api import Page, expect

from tests.factories import PASSWORD, DeploymentFactory, user_with_role

pytestmark = pytest.mark.django_db(transaction=True)


def log_in(page: Page, console, username: str, password: str = PASSWORD):
    page.goto(f"{console.url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_compliance_officer_logs_in_and_sees_the_dashboard(page: Page, console):
    deployment = DeploymentFactory(name="acme-paper-desk")
    user = user_with_role("compliance", deployments=[deployment], first_name="Clara", last_name="Compliance")
    log_in(page, console, user.username)
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.get_by_test_id("current-user")).to_have_text("Clara Compliance")
    expect(page.get_by_test_id("deployments")).to_contain_text("acme-paper-desk")


def test_wrong_password_shows_an_error_and_no_session(page: Page, console):
    user = user_with_role("compliance")
    log_in(page, console, user.username, password="wrong password")
    expect(page.get_by_role("alert")).to_contain_text("did not match")
    page.goto(f"{console.url}/")
    expect(page).to_have_url(f"{console.url}/login/?next=/")


def test_operator_does_not_see_an_unassigned_deployment(page: Page, console):
    mine, theirs = DeploymentFactory(name="operator-desk"), DeploymentFactory(name="someone-elses-desk")
    user = user_with_role("operator", deployments=[mine])
    log_in(page, console, user.username)
    expect(page.get_by_test_id("deployments")).to_contain_text("operator-desk")
    expect(page.get_by_test_id("deployments")).not_to_contain_text("someone-elses-desk")
    response = page.goto(f"{console.url}/deployments/{theirs.pk}/")
    assert response.status == 404
    api = page.request.get(f"{console.url}/api/v1/deployments/{theirs.pk}/")
    assert api.status == 404


def test_engineer_uploads_an_artefact_and_sees_its_job(page: Page, console, tmp_path):
    # The job is enqueued on the real broker; no worker runs in this test, so it stays queued.
    deployment = DeploymentFactory(name="hash-desk")
    user = user_with_role("engineer", deployments=[deployment])
    artefact = tmp_path / "smoke.jsonl"
    artefact.write_text('{"ok": true}\n')
    log_in(page, console, user.username)
    page.get_by_label("Hash an artefact (SHA-384)").set_input_files(str(artefact))
    page.get_by_label("deployment").select_option(label="hash-desk")
    page.get_by_role("button", name="Upload and hash").click()
    expect(page.get_by_role("heading", name="hash_artefact")).to_be_visible()
    expect(page.get_by_test_id("job-status")).to_have_text("Queued")


def test_console_pages_run_under_the_content_security_policy_without_violations(page: Page, console):
    violations = []
    page.on(
        "console",
        lambda message: violations.append(message.text) if "Content Security" in message.text else None,
    )
    deployment = DeploymentFactory(name="csp-desk")
    user = user_with_role("admin", deployments=[deployment], is_staff=True, is_superuser=True)
    log_in(page, console, user.username)
    for path in (
        "/",
        f"/deployments/{deployment.pk}/",
        "/labs/",
        "/licensing/",
        "/audit/",
        "/bundles/",
        "/admin/",
    ):
        response = page.goto(f"{console.url}{path}")
        assert response.status == 200, path
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert "no-store" in response.headers["cache-control"]
    assert violations == []
