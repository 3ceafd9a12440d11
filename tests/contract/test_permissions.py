"""Every API endpoint against every role: anonymous, wrong role and right role, declared as data. The
endpoints are walked from the URL conf (tests/contract/routes.py): a new API route, whatever its methods,
fails `test_every_api_route_is_in_the_permission_table` until it has a case here, and a new state-changing
page fails until the refusal table (test_refusals_write_nothing.py) has it."""

from dataclasses import dataclass, field

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from audit.roles import ROLES
from audit.trust.hashing import sha384_file
from delivery.models import BuildStatus, BundleBuild
from jobs import services as job_services
from jobs.models import Job
from licensing.models import Customer
from oemconsole.services import api_token_issue
from risklab.models import LabRun
from tests.contract.routes import route_names, routes
from tests.factories import PASSWORD, DeploymentFactory, user_with_role

ALL = frozenset(ROLES)
MISSING = 999_999  # a license or request that does not exist
BUNDLE_READERS = frozenset({"admin", "engineer", "auditor"})


@dataclass(frozen=True)
class Case:
    route: str  # the URL name, so the table can be checked against the URL conf
    name: str
    method: str
    url: str  # formatted with {assigned}, {hidden}, {job}, {hidden_job}
    allowed: frozenset[str]  # roles (assigned to the deployment) that succeed
    ok: int = 200
    denied: frozenset[int] = frozenset({403})
    payload: str | None = None  # "upload" sends a file
    unassigned_ok: frozenset[str] = field(default_factory=frozenset)  # roles that see hidden objects
    # When set, the allowed roles pass the permission rule and are stopped later by the state of the object
    # (their error message says this); the refused roles never see it.
    later: str | None = None


CASES = [
    Case("api-me", "me", "get", "/api/v1/me/", ALL),
    Case("api-schema", "schema", "get", "/api/schema/", ALL),
    Case("api-deployment-list", "deployment list", "get", "/api/v1/deployments/", ALL),
    Case(
        "api-deployment-detail", "deployment detail (assigned)", "get", "/api/v1/deployments/{assigned}/", ALL
    ),
    Case(
        "api-deployment-detail",
        "deployment detail (not assigned)",
        "get",
        "/api/v1/deployments/{hidden}/",
        frozenset({"admin", "auditor"}),
        denied=frozenset({404}),
    ),
    Case(
        "api-audit-event-list",
        "audit events",
        "get",
        "/api/v1/audit/events/",
        frozenset({"admin", "auditor", "compliance"}),
    ),
    Case("api-job-list", "job list", "get", "/api/v1/jobs/", ALL),
    Case("api-job-detail", "job detail (assigned deployment)", "get", "/api/v1/jobs/{job}/", ALL),
    Case(
        "api-job-detail",
        "job detail (other deployment)",
        "get",
        "/api/v1/jobs/{hidden_job}/",
        frozenset({"admin", "auditor"}),
        denied=frozenset({404}),
    ),
    Case(
        "api-job-hash-artefact",
        "hash artefact",
        "post",
        "/api/v1/jobs/hash-artefact/",
        frozenset({"admin", "compliance", "engineer", "product_owner"}),
        ok=201,
        payload="upload",
    ),
    Case(
        "api-job-cancel",
        "cancel job (not its creator)",
        "post",
        "/api/v1/jobs/{job}/cancel/",
        frozenset({"admin"}),
    ),
    Case(
        "api-decision-log",
        "decision log (assigned)",
        "get",
        "/api/v1/deployments/{assigned}/decision-log/",
        ALL,
    ),
    Case(
        "api-decision-log",
        "decision log (not assigned)",
        "get",
        "/api/v1/deployments/{hidden}/decision-log/",
        frozenset({"admin", "auditor"}),
        denied=frozenset({404}),
    ),
    Case("api-gate-status", "gate status (assigned)", "get", "/api/v1/deployments/{assigned}/gates/", ALL),
    Case(
        "api-gate-status",
        "gate status (not assigned)",
        "get",
        "/api/v1/deployments/{hidden}/gates/",
        frozenset({"admin", "auditor"}),
        denied=frozenset({404}),
    ),
    # The most sensitive write: only the step's role gets past the rule (and is then stopped by the
    # evidence it has not attached yet); every other role is refused before anything is opened.
    Case(
        "api-step-sign",
        "sign a checklist step",
        "post",
        "/api/v1/deployments/{assigned}/checklists/demo_stage1/steps/smoke_demo/sign/",
        frozenset({"engineer"}),
        ok=403,
        payload="password",
        later="before signing",
    ),
    Case(
        "api-step-sign",
        "sign a checklist step (not assigned)",
        "post",
        "/api/v1/deployments/{hidden}/checklists/demo_stage1/steps/smoke_demo/sign/",
        frozenset(),
        denied=frozenset({403, 404}),
        payload="password",
    ),
    Case("api-dataset-list", "paper labs datasets", "get", "/api/v1/paper-labs/datasets/", ALL),
    Case("api-lab-run-list", "paper labs runs", "get", "/api/v1/paper-labs/runs/", ALL),
    Case(
        "api-lab-run-detail",
        "paper labs run (assigned deployment)",
        "get",
        "/api/v1/paper-labs/runs/{lab_run}/",
        ALL,
    ),
    Case(
        "api-lab-run-detail",
        "paper labs run (other deployment)",
        "get",
        "/api/v1/paper-labs/runs/{hidden_lab_run}/",
        frozenset({"admin", "auditor"}),
        denied=frozenset({404}),
    ),
    Case(
        "api-lab-run-start",
        "paper labs start",
        "post",
        "/api/v1/paper-labs/runs/start/",
        frozenset({"admin", "compliance", "engineer"}),
        ok=201,
        payload="lab",
    ),
    Case("api-bundle-list", "bundle list", "get", "/api/v1/bundles/", BUNDLE_READERS),
    Case("api-bundle-detail", "bundle detail", "get", "/api/v1/bundles/{bundle}/", BUNDLE_READERS),
    Case(
        "api-bundle-build",
        "bundle build",
        "post",
        "/api/v1/bundles/build/",
        frozenset({"admin"}),
        ok=201,
        payload="bundle_build",
    ),
    Case(
        "api-bundle-acceptance",
        "bundle acceptance",
        "post",
        "/api/v1/bundles/{bundle}/acceptance/",
        frozenset({"admin", "engineer"}),
        ok=201,
        payload="empty",
    ),
    # Attaching needs a checklist step the role is responsible for: paper_trading's fingerprint is the
    # engineer's; admin and auditor see bundles but have no such step (400), the others may not see bundles.
    Case(
        "api-bundle-attach",
        "bundle attach",
        "post",
        "/api/v1/bundles/{bundle}/attach/",
        frozenset({"engineer"}),
        ok=201,
        denied=frozenset({400, 403}),
        payload="bundle_attach",
    ),
    Case(
        "api-token-revoke",
        "revoke another person's API token",
        "post",
        "/api/v1/auth/tokens/{token}/revoke/",
        frozenset({"admin"}),
        denied=frozenset({404}),
    ),
    # Licensing: customers are managed per customer (guardian); the signed-in admin of these cases manages
    # none of the customer here, so it passes the role check and then finds no such customer or license.
    Case("api-licensing-customer-list", "licensing customers", "get", "/api/v1/licensing/customers/", ALL),
    Case(
        "api-licensing-customer-detail",
        "licensing customer (not managed)",
        "get",
        "/api/v1/licensing/customers/{customer}/",
        frozenset({"auditor"}),
        denied=frozenset({404}),
    ),
    Case("api-licensing-request-list", "license requests", "get", "/api/v1/licensing/requests/", ALL),
    Case(
        "api-licensing-request-upload",
        "upload a license request (customer not managed)",
        "post",
        "/api/v1/licensing/requests/upload/",
        frozenset({"admin"}),
        ok=404,
        payload="license_request",
    ),
    Case(
        "api-licensing-request-approve",
        "approve a license request (none such)",
        "post",
        f"/api/v1/licensing/requests/{MISSING}/approve/",
        frozenset({"admin"}),
        ok=404,
        payload="empty",
    ),
    Case(
        "api-licensing-request-reject",
        "reject a license request (none such)",
        "post",
        f"/api/v1/licensing/requests/{MISSING}/reject/",
        frozenset({"admin"}),
        ok=404,
        payload="reason",
    ),
    Case("api-licensing-license-list", "licenses", "get", "/api/v1/licensing/licenses/", ALL),
    Case(
        "api-licensing-license-detail",
        "license (none such: the same 404 for every role)",
        "get",
        f"/api/v1/licensing/licenses/{MISSING}/",
        ALL,
        ok=404,
    ),
    Case(
        "api-licensing-license-revoke",
        "revoke a license (none such)",
        "post",
        f"/api/v1/licensing/licenses/{MISSING}/revoke/",
        frozenset({"admin"}),
        ok=404,
        payload="reason",
    ),
    Case(
        "api-licensing-registry",
        "license registry",
        "get",
        "/api/v1/licensing/registry/",
        frozenset({"admin", "auditor"}),
    ),
]


def test_every_api_route_is_in_the_permission_table():
    """Coverage by construction: an API route (any method) without a case here fails this test."""
    covered = {case.route for case in CASES}
    missing = sorted(route.name for route in routes() if route.is_api and route.name not in covered)
    assert missing == [], "add a Case for each API route: " + ", ".join(missing)
    assert covered <= route_names(), covered - route_names()


@pytest.fixture
def world(db, monkeypatch, tmp_path):
    monkeypatch.setattr(job_services, "job_enqueue", lambda *, job_id: None)
    (tmp_path / "bundle").mkdir()
    (tmp_path / "bundle" / "manifest.json").write_bytes(b'{"schema":"oem/bundle-manifest/v1"}')
    bundle = BundleBuild.objects.create(
        platform="linux-x86_64",
        status=BuildStatus.BUILT,
        bundle_dir=str(tmp_path / "bundle"),
        fingerprint=f"sha384:{sha384_file(tmp_path / 'bundle' / 'manifest.json')}",
    )
    assigned, hidden = DeploymentFactory(), DeploymentFactory()
    creator = user_with_role("engineer", deployments=[assigned])
    job = Job.objects.create(kind="hash_artefact", deployment=assigned, created_by=creator)
    hidden_job = Job.objects.create(kind="hash_artefact", deployment=hidden)
    lab_run = LabRun.objects.create(plan={"units": []}, deployment=assigned, created_by=creator)
    hidden_lab_run = LabRun.objects.create(plan={"units": []}, deployment=hidden)
    customer = Customer.objects.create(name="ACME", created_by=user_with_role("admin"))
    token, _secret = api_token_issue(actor=creator)
    return {
        "customer": customer.pk,
        "token": token.pk,
        "lab_run": lab_run.pk,
        "hidden_lab_run": hidden_lab_run.pk,
        "assigned": assigned.pk,
        "hidden": hidden.pk,
        "job": job.pk,
        "hidden_job": hidden_job.pk,
        "assigned_obj": assigned,
        "bundle": bundle.pk,
    }


def call(client: APIClient, case: Case, world: dict):
    url = case.url.format(**world)
    if case.payload == "upload":
        return client.post(url, {"file": SimpleUploadedFile("a.txt", b"abc")}, format="multipart")
    if case.payload == "lab":
        lab = {"profiles": ["balanced"], "scenarios": ["baseline"], "strategies": ["buy_and_hold"]}
        return client.post(url, lab, format="json")
    if case.payload == "bundle_build":
        return client.post(url, {"platform": "linux-x86_64"}, format="json")
    if case.payload == "bundle_attach":
        return client.post(
            url, {"deployment": world["assigned"], "checklist": "paper_trading"}, format="json"
        )
    if case.payload == "password":
        return client.post(url, {"password": PASSWORD, "meaning": "performed"}, format="json")
    if case.payload == "license_request":
        request_file = SimpleUploadedFile("req.json", b'{"format": 1}')
        return client.post(url, {"customer": world["customer"], "file": request_file}, format="multipart")
    if case.payload == "reason":
        return client.post(url, {"reason": "no longer needed"}, format="json")
    if case.payload == "empty":
        return client.post(url, {}, format="json")
    return getattr(client, case.method)(url)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_anonymous_is_refused(case, world):
    response = call(APIClient(), case, world)
    assert response.status_code == 401, response.content


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_exactly_what_it_is_allowed(case, role, world):
    client = APIClient()
    client.force_authenticate(user_with_role(role, deployments=[world["assigned_obj"]]))
    response = call(client, case, world)
    if role in case.allowed and case.later:
        assert response.status_code in {400, 403, 409}, response.content
        assert case.later in response.json()["error"]["message"], response.content
    elif role in case.allowed:
        assert response.status_code == case.ok, response.content
    else:
        assert response.status_code in case.denied, response.content
        assert not case.later or case.later not in response.content.decode(), response.content


def test_user_without_any_role_sees_no_deployment(world):
    client = APIClient()
    client.force_authenticate(user_with_role(None))
    assert client.get("/api/v1/deployments/").json()["results"] == []
    assert client.get(f"/api/v1/deployments/{world['assigned']}/").status_code == 404


def test_operator_lists_only_assigned_deployments(world):
    client = APIClient()
    client.force_authenticate(user_with_role("operator", deployments=[world["assigned_obj"]]))
    names = [d["id"] for d in client.get("/api/v1/deployments/").json()["results"]]
    assert names == [world["assigned"]]


def test_creator_may_cancel_own_job(world):
    client = APIClient()
    client.force_authenticate(Job.objects.get(pk=world["job"]).created_by)
    assert client.post(f"/api/v1/jobs/{world['job']}/cancel/").status_code == 200
    assert client.post(f"/api/v1/jobs/{world['job']}/cancel/").status_code == 400


def test_token_auth_works_and_bad_credentials_get_400(world):
    from tests.factories import PASSWORD

    user = user_with_role("engineer")
    client = APIClient()
    assert (
        client.post("/api/v1/auth/token/", {"username": user.username, "password": "nope"}).status_code == 400
    )
    token = client.post("/api/v1/auth/token/", {"username": user.username, "password": PASSWORD}).json()[
        "token"
    ]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/me/").json() == {"username": user.username, "roles": ["engineer"]}


def test_session_post_without_csrf_token_is_refused(world):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user_with_role("engineer"))
    response = client.post(
        "/api/v1/jobs/hash-artefact/", {"file": SimpleUploadedFile("a", b"a")}, format="multipart"
    )
    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]["message"]
    assert (
        not Job.objects.filter(kind="hash_artefact", created_by__username__startswith="user")
        .exclude(pk__in=[world["job"], world["hidden_job"]])
        .exists()
    )


def test_upload_without_file_is_a_400_and_creates_nothing(world):
    client = APIClient()
    client.force_authenticate(user_with_role("engineer"))
    before = Job.objects.count()
    assert client.post("/api/v1/jobs/hash-artefact/", {}, format="multipart").status_code == 400
    assert Job.objects.count() == before


def test_upload_naming_a_hidden_deployment_is_refused(world):
    client = APIClient()
    client.force_authenticate(user_with_role("engineer"))
    response = client.post(
        "/api/v1/jobs/hash-artefact/",
        {"file": SimpleUploadedFile("a", b"a"), "deployment": world["hidden"]},
        format="multipart",
    )
    assert response.status_code == 400
