"""A refused request changes nothing: for every state-changing route (pages and API), a wrong role and a
user of another deployment (or customer) leave every table's row count, the audit trail and the data
directory exactly as they were. The route list is walked from the URL conf (tests/contract/routes.py), so a
new state-changing route without a case here fails `test_every_state_changing_route_has_refusal_cases`."""

from dataclasses import dataclass

import pytest
from django.apps import apps
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from audit.models import AuditChainHead, DecisionProposal
from audit.services import checklist_open
from audit.trust.hashing import sha384_file
from delivery.models import BuildStatus, BundleBuild
from jobs import services as job_services
from jobs.models import Job, JobResultFile, JobStatus
from licensing.models import Customer
from oemconsole.services import api_token_issue
from risklab.models import LabRun, LabRunStatus
from tests.contract.routes import route_names, routes
from tests.factories import PASSWORD, DeploymentFactory, user_with_role

# Who is refused: a role without the right on the deployment they are assigned to, or a role with the
# right but on a deployment (customer) they are not assigned to.
AUDITOR, OPERATOR, COMPLIANCE, ENGINEER = "auditor", "operator", "compliance", "engineer"
ENGINEER_ELSEWHERE, COMPLIANCE_ELSEWHERE, ADMIN_ELSEWHERE = (
    "engineer@other",
    "compliance@other",
    "admin@other",
)
UNSIGNED = (
    999_999  # a license/request that does not exist: the role check comes first, so it is never looked up
)


@dataclass(frozen=True)
class Refusal:
    route: str
    url: str
    actors: tuple[str, ...]
    payload: str = "none"


STEP = "deployments/{deployment}/checklists/demo_stage1/steps/smoke_demo"
CASES = [
    Refusal(
        "gate-propose",
        "/deployments/{deployment}/gates/demo_exit/propose/",
        (AUDITOR, OPERATOR, COMPLIANCE_ELSEWHERE),
    ),
    Refusal(
        "gate-sign",
        "/deployments/{deployment}/gates/demo_exit/proposals/{proposal}/sign/",
        (AUDITOR, OPERATOR, ENGINEER, COMPLIANCE_ELSEWHERE),
        "password",
    ),
    Refusal("checklist-attach", f"/{STEP}/attach/", (AUDITOR, OPERATOR, ENGINEER_ELSEWHERE), "evidence"),
    Refusal("checklist-sign", f"/{STEP}/sign/", (AUDITOR, OPERATOR, ENGINEER_ELSEWHERE), "password"),
    Refusal(
        "checklist-export",
        "/deployments/{deployment}/checklists/paper_trading/export/",
        (AUDITOR, OPERATOR, ENGINEER_ELSEWHERE),
    ),
    Refusal(
        "checklist-pick-job-result",
        f"/{STEP}/pick-job-result/",
        (AUDITOR, OPERATOR, ENGINEER_ELSEWHERE),
        "result",
    ),
    Refusal("job-hash-artefact", "/jobs/hash-artefact/", (AUDITOR, OPERATOR, ENGINEER_ELSEWHERE), "upload"),
    Refusal("audit-trail-recheck", "/audit/recheck/", (AUDITOR, OPERATOR, ENGINEER)),
    Refusal(
        "runbook-job-start",
        "/jobs/runbook/smoke_demo/",
        (AUDITOR, OPERATOR, ENGINEER_ELSEWHERE),
        "deployment",
    ),
    Refusal("lab-list", "/labs/", (AUDITOR, OPERATOR, ENGINEER_ELSEWHERE), "lab_form"),
    Refusal(
        "lab-attach", "/labs/{lab_run}/attach/", (AUDITOR, OPERATOR, ENGINEER_ELSEWHERE), "paper_checklist"
    ),
    Refusal("licensing-customer-list", "/licensing/", (AUDITOR, OPERATOR, COMPLIANCE), "customer"),
    Refusal(
        "licensing-customer-upload",
        "/licensing/customers/{customer}/upload/",
        (AUDITOR, OPERATOR, ADMIN_ELSEWHERE),
        "request_file",
    ),
    Refusal(
        "licensing-customer-assign",
        "/licensing/customers/{customer}/assign/",
        (AUDITOR, OPERATOR, ADMIN_ELSEWHERE),
        "admin_name",
    ),
    Refusal("licensing-request-approve", f"/licensing/requests/{UNSIGNED}/approve/", (AUDITOR, OPERATOR)),
    Refusal(
        "licensing-request-reject", f"/licensing/requests/{UNSIGNED}/reject/", (AUDITOR, OPERATOR), "reason"
    ),
    Refusal(
        "licensing-license-revoke", f"/licensing/licenses/{UNSIGNED}/revoke/", (AUDITOR, OPERATOR), "reason"
    ),
    Refusal("licensing-registry-reconcile", "/licensing/registry/reconcile/", (AUDITOR, OPERATOR)),
    Refusal("bundle-list", "/bundles/", (AUDITOR, ENGINEER, OPERATOR), "platform"),
    Refusal("bundle-accept", "/bundles/{bundle}/accept/", (AUDITOR, OPERATOR)),
    Refusal(
        "bundle-attach", "/bundles/{bundle}/attach/", (AUDITOR, OPERATOR, ENGINEER_ELSEWHERE), "bundle_target"
    ),
    Refusal(
        "api-licensing-request-upload",
        "/api/v1/licensing/requests/upload/",
        (AUDITOR, OPERATOR, ADMIN_ELSEWHERE),
        "api_request_file",
    ),
    Refusal(
        "api-licensing-request-approve",
        f"/api/v1/licensing/requests/{UNSIGNED}/approve/",
        (AUDITOR, OPERATOR),
    ),
    Refusal(
        "api-licensing-request-reject",
        f"/api/v1/licensing/requests/{UNSIGNED}/reject/",
        (AUDITOR, OPERATOR),
        "reason",
    ),
    Refusal(
        "api-licensing-license-revoke",
        f"/api/v1/licensing/licenses/{UNSIGNED}/revoke/",
        (AUDITOR, OPERATOR),
        "reason",
    ),
    Refusal("api-bundle-build", "/api/v1/bundles/build/", (AUDITOR, ENGINEER, OPERATOR), "platform"),
    Refusal("api-bundle-acceptance", "/api/v1/bundles/{bundle}/acceptance/", (AUDITOR, OPERATOR)),
    Refusal(
        "api-bundle-attach",
        "/api/v1/bundles/{bundle}/attach/",
        (AUDITOR, OPERATOR, ENGINEER_ELSEWHERE),
        "bundle_target",
    ),
    Refusal("api-step-sign", f"/api/v1/{STEP}/sign/", (AUDITOR, OPERATOR, ENGINEER_ELSEWHERE), "password"),
    Refusal(
        "api-job-hash-artefact",
        "/api/v1/jobs/hash-artefact/",
        (AUDITOR, OPERATOR, ENGINEER_ELSEWHERE),
        "upload",
    ),
    Refusal("api-job-cancel", "/api/v1/jobs/{job}/cancel/", (AUDITOR, OPERATOR, ENGINEER_ELSEWHERE)),
    Refusal("lockout-list", "/accounts/lockouts/", (AUDITOR, OPERATOR, COMPLIANCE), "unlock"),
    Refusal("api-token-revoke", "/api/v1/auth/tokens/{token}/revoke/", (AUDITOR, OPERATOR, ENGINEER)),
    Refusal(
        "api-lab-run-start",
        "/api/v1/paper-labs/runs/start/",
        (AUDITOR, OPERATOR, ENGINEER_ELSEWHERE),
        "lab_api",
    ),
]


def test_every_state_changing_route_has_refusal_cases():
    covered = {case.route for case in CASES}
    missing = [
        f"{route.name} ({'API' if route.writes else 'page: add a Refusal or list it as read-only'})"
        for route in routes()
        if route.changes_state and route.name not in covered
    ]
    assert missing == []
    assert covered <= route_names(), covered - route_names()


@pytest.fixture
def world(db, monkeypatch, tmp_path):
    monkeypatch.setattr(job_services, "job_enqueue", lambda *, job_id: None)
    deployment = DeploymentFactory()
    other = DeploymentFactory()
    engineer = user_with_role(ENGINEER, deployments=[deployment])
    compliance = user_with_role(COMPLIANCE, deployments=[deployment])
    admin = user_with_role("admin")
    customer = Customer.objects.create(name="ACME", created_by=admin)
    # Exports need an open checklist; demo_stage1 stays unopened, so a refused sign or attach that opened it
    # would show as a new row.
    checklist_open(deployment=deployment, checklist_id="paper_trading", actor=engineer)
    proposal = DecisionProposal.objects.create(
        deployment=deployment,
        gate="demo_exit",
        log="demo",
        entry={"status": "demo_ready"},
        created_by=compliance,
    )
    job = Job.objects.create(
        kind="hash_artefact", deployment=deployment, created_by=engineer, status=JobStatus.SUCCEEDED
    )
    result = JobResultFile.objects.create(
        job=job, name="r.bin", path="artefacts/none/r.bin", size=1, sha384="0" * 96
    )
    lab_run = LabRun.objects.create(
        plan={"units": []}, deployment=deployment, created_by=engineer, status=LabRunStatus.SUCCEEDED
    )
    (tmp_path / "bundle").mkdir()
    (tmp_path / "bundle" / "manifest.json").write_bytes(b'{"schema":"oem/bundle-manifest/v1"}')
    bundle = BundleBuild.objects.create(
        platform="linux-x86_64",
        status=BuildStatus.BUILT,
        bundle_dir=str(tmp_path / "bundle"),
        fingerprint=f"sha384:{sha384_file(tmp_path / 'bundle' / 'manifest.json')}",
    )
    token, _secret = api_token_issue(actor=engineer)
    actors = {
        AUDITOR: user_with_role(AUDITOR, deployments=[deployment]),
        OPERATOR: user_with_role(OPERATOR, deployments=[deployment]),
        COMPLIANCE: compliance,
        ENGINEER: user_with_role(ENGINEER, deployments=[deployment]),
        ENGINEER_ELSEWHERE: user_with_role(ENGINEER, deployments=[other]),
        COMPLIANCE_ELSEWHERE: user_with_role(COMPLIANCE, deployments=[other]),
        ADMIN_ELSEWHERE: user_with_role("admin"),
    }
    ids = {
        "deployment": deployment.pk,
        "proposal": proposal.pk,
        "job": job.pk,
        "result": result.pk,
        "lab_run": lab_run.pk,
        "bundle": bundle.pk,
        "customer": customer.pk,
        "token": token.pk,
    }
    return ids, actors


def payload(kind: str, ids: dict):
    request_file = b'{"format": 1}'
    return {
        "none": {},
        "password": {"password": PASSWORD, "meaning": "performed"},
        "evidence": {"name": "smoke_demo_report", "file": SimpleUploadedFile("s.jsonl", b"{}\n")},
        "result": {"name": "smoke_demo_report", "result": ids["result"]},
        "upload": {"file": SimpleUploadedFile("a.bin", b"abc"), "deployment": ids["deployment"]},
        "deployment": {"deployment": ids["deployment"]},
        "lab_form": {
            "deployment": ids["deployment"],
            "profile": "balanced",
            "scenario": "baseline",
            "seed": "1",
        },
        "paper_checklist": {"checklist": "paper_trading"},
        "customer": {"name": "Refused Customer"},
        "request_file": {"request_file": SimpleUploadedFile("req.json", request_file), "confirm_digest": "x"},
        "api_request_file": {
            "customer": ids["customer"],
            "file": SimpleUploadedFile("req.json", request_file),
        },
        "admin_name": {"username": "nobody"},
        "unlock": {"username": "admin"},
        "reason": {"reason": "refused"},
        "platform": {"platform": "linux-x86_64"},
        "bundle_target": {"deployment": ids["deployment"], "checklist": "paper_trading"},
        "lab_api": {
            "deployment": ids["deployment"],
            "profiles": ["balanced"],
            "scenarios": ["baseline"],
            "strategies": ["buy_and_hold"],
        },
    }[kind]


def snapshot() -> dict:
    data_dir = settings.OEM_DATA_DIR
    return {
        "rows": {model._meta.label: model._default_manager.count() for model in apps.get_models()},
        "audit_head": list(AuditChainHead.objects.values_list("seq", "head_hash")),
        "files": sorted(
            (str(path.relative_to(data_dir)), path.stat().st_size)
            for path in data_dir.rglob("*")
            if path.is_file()
        ),
    }


@pytest.mark.parametrize(
    ("case", "actor"),
    [(case, actor) for case in CASES for actor in case.actors],
    ids=lambda value: value.route if isinstance(value, Refusal) else value,
)
def test_a_refused_request_changes_nothing(case, actor, world):
    ids, actors = world
    client = APIClient()
    client.force_login(actors[actor])
    before = snapshot()
    body = payload(case.payload, ids)
    fmt = "json" if case.payload == "lab_api" else "multipart"
    response = client.post(case.url.format(**ids), body, format=fmt)
    assert response.status_code in {302, 400, 403, 404}, response.content[:300]
    assert snapshot() == before
