"""Who may act on checklists and gate decisions (audit/rules.py): each rule is asked by its service before
anything is written, so a refused actor leaves no checklist row, no audit event and no file behind."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from audit.authorization import all_rules, may
from audit.errors import NotAllowed, NotFound
from audit.models import AuditEvent, Checklist, DecisionProposal, StepAttachment, StepSignature
from audit.services import (
    checklist_attach,
    checklist_export,
    checklist_open,
    decision_propose,
    decision_sign,
    step_sign,
)
from tests.factories import PASSWORD, DeploymentFactory, user_with_role

AUDIT_ACTIONS = {
    "checklist.open",
    "checklist.attach",
    "checklist.sign",
    "checklist.export",
    "gate.propose",
    "gate.sign",
    "deployment.create",
    "deployment.assign",
}


@pytest.fixture
def deployment(db):
    return DeploymentFactory(local=False)


def person(role, deployment):
    return user_with_role(role, deployments=[deployment])


def written(deployment) -> tuple:
    """Everything a checklist or gate action could have written."""
    artefacts = deployment.evidence_dir / "audit" / "artefacts"
    return (
        Checklist.objects.count(),
        StepAttachment.objects.count(),
        StepSignature.objects.count(),
        DecisionProposal.objects.count(),
        AuditEvent.objects.count(),
        sorted(str(p) for p in artefacts.rglob("*")) if artefacts.exists() else [],
    )


def sign_smoke_demo(actor, deployment):
    return step_sign(
        actor=actor,
        deployment=deployment,
        checklist_id="demo_stage1",
        step_id="smoke_demo",
        password=PASSWORD,
        meaning="performed",
    )


def attach_smoke_report(actor, deployment, checklist_id="demo_stage1", step_id="smoke_demo"):
    return checklist_attach(
        actor=actor,
        deployment=deployment,
        checklist_id=checklist_id,
        step_id=step_id,
        name="smoke_demo_report",
        uploaded=SimpleUploadedFile("smoke.jsonl", b'{"ok": true}\n'),
    )


def test_every_checklist_and_gate_action_has_exactly_one_rule():
    assert AUDIT_ACTIONS <= {r.action for r in all_rules()}


def test_an_auditor_may_not_sign_a_step_and_nothing_is_written(deployment):
    auditor = person("auditor", deployment)
    before = written(deployment)
    with pytest.raises(NotAllowed, match="signed by the engineer role"):
        sign_smoke_demo(auditor, deployment)
    assert written(deployment) == before


def test_an_auditor_signing_through_the_api_is_a_403_and_nothing_is_written(deployment):
    client = APIClient()
    client.force_authenticate(person("auditor", deployment))
    before = written(deployment)
    response = client.post(
        f"/api/v1/deployments/{deployment.pk}/checklists/demo_stage1/steps/smoke_demo/sign/",
        {"password": PASSWORD, "meaning": "performed"},
        format="json",
    )
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "this step is signed by the engineer role"
    assert written(deployment) == before


def test_an_admin_attaches_evidence_but_does_not_sign_it(deployment):
    admin = user_with_role("admin")
    assert may(admin, "checklist.attach", checklist_id="demo_stage1", step_id="smoke_demo")
    assert not may(admin, "checklist.sign", checklist_id="demo_stage1", step_id="smoke_demo")
    attachment = attach_smoke_report(admin, deployment)
    assert attachment.uploaded_by == admin and Checklist.objects.count() == 1
    with pytest.raises(NotAllowed, match="signed by the engineer role"):
        sign_smoke_demo(admin, deployment)


def test_only_the_steps_role_attaches_its_evidence_and_a_refusal_leaves_no_row_event_or_file(deployment):
    engineer = person("engineer", deployment)
    others = [person(role, deployment) for role in ("compliance", "auditor", "operator")]
    before = written(deployment)
    for refused in others:
        with pytest.raises(NotAllowed, match="only the engineer role attaches evidence to this step"):
            attach_smoke_report(refused, deployment)
    assert written(deployment) == before
    assert attach_smoke_report(engineer, deployment).step_id == "smoke_demo"


def test_a_deployment_the_actor_cannot_see_is_not_found_for_every_checklist_action(deployment):
    outsider = person("engineer", DeploymentFactory())
    compliance_elsewhere = person("compliance", DeploymentFactory())
    before = written(deployment)
    with pytest.raises(NotFound, match="no such deployment"):
        attach_smoke_report(outsider, deployment)
    with pytest.raises(NotFound, match="no such deployment"):
        sign_smoke_demo(outsider, deployment)
    with pytest.raises(NotFound, match="no such deployment"):
        checklist_open(actor=outsider, deployment=deployment, checklist_id="demo_stage1")
    with pytest.raises(NotFound, match="no such deployment"):
        decision_propose(actor=compliance_elsewhere, deployment=deployment, gate="demo_exit")
    assert written(deployment) == before


def test_an_unknown_checklist_or_step_is_not_found_before_any_role_is_looked_at(deployment):
    auditor = person("auditor", deployment)
    with pytest.raises(NotFound, match="no such checklist"):
        attach_smoke_report(auditor, deployment, checklist_id="no_such_checklist")
    with pytest.raises(NotFound, match="no step nope"):
        attach_smoke_report(auditor, deployment, step_id="nope")


def test_an_operator_may_not_open_a_checklist_and_nothing_is_written(deployment):
    operator = person("operator", deployment)
    before = written(deployment)
    with pytest.raises(NotAllowed, match="works on no step of this checklist"):
        checklist_open(actor=operator, deployment=deployment, checklist_id="demo_stage1")
    assert written(deployment) == before


def test_an_auditor_may_not_export_a_checklist_and_nothing_is_written(deployment):
    engineer, auditor = person("engineer", deployment), person("auditor", deployment)
    checklist = checklist_open(actor=engineer, deployment=deployment, checklist_id="demo_stage1")
    before = written(deployment)
    with pytest.raises(NotAllowed, match="your role does not export checklists"):
        checklist_export(actor=auditor, checklist=checklist)
    assert written(deployment) == before


@pytest.mark.parametrize("role", ["engineer", "auditor", "operator", "admin"])
def test_only_compliance_or_the_product_owner_propose_a_gate_decision_and_nothing_is_written(
    deployment, role
):
    actor = person(role, deployment)
    before = written(deployment)
    with pytest.raises(NotAllowed, match="only compliance or the product owner propose a gate decision"):
        decision_propose(actor=actor, deployment=deployment, gate="demo_exit")
    assert written(deployment) == before


@pytest.mark.parametrize("role", ["engineer", "auditor", "operator", "admin"])
def test_a_gate_decision_is_signed_only_by_the_signer_roles_its_status_requires(deployment, role):
    proposal = DecisionProposal.objects.create(
        deployment=deployment,
        gate="demo_exit",
        log="demo",
        entry={"status": "demo_ready"},
        created_by=person("compliance", deployment),
    )
    actor = person(role, deployment)
    before = written(deployment)
    with pytest.raises(NotAllowed, match="this decision is signed by compliance and owner"):
        decision_sign(actor=actor, proposal=proposal, password=PASSWORD)
    assert written(deployment) == before
    assert may(person("product_owner", deployment), "gate.sign", proposal=proposal)


def test_a_page_sends_a_refused_actor_back_with_the_reason_and_an_unknown_step_is_a_404(deployment, client):
    client.force_login(person("auditor", deployment))
    base = f"/deployments/{deployment.pk}/checklists/demo_stage1"
    before = written(deployment)
    response = client.post(f"{base}/steps/smoke_demo/sign/", {"password": PASSWORD, "meaning": "performed"})
    assert response.status_code == 302 and response.url == f"{base}/"
    flashed = [str(m) for m in response.wsgi_request._messages]
    assert flashed == ["Not signed: this step is signed by the engineer role"]
    attach = client.post(f"{base}/steps/smoke_demo/attach/", {"name": "smoke_demo_report", "value": "x"})
    assert attach.status_code == 302
    assert client.post(f"{base}/steps/nope/attach/", {"name": "x", "value": "x"}).status_code == 404
    assert written(deployment) == before
    page = client.get(f"{base}/").content.decode()
    assert "Sign step" not in page and "Attach" not in page


@pytest.mark.parametrize("role", ["compliance", "engineer", "operator", "auditor", "product_owner"])
def test_only_an_admin_creates_a_deployment_or_changes_who_sees_it(deployment, role):
    from audit.services import deployment_assign_user, deployment_create, deployment_unassign_user

    actor = person(role, deployment)
    colleague = user_with_role("operator")
    events, deployments = AuditEvent.objects.count(), deployment.__class__.objects.count()
    with pytest.raises(NotAllowed):
        deployment_create(name="rogue", customer="ACME", actor=actor)
    with pytest.raises(NotAllowed):
        deployment_assign_user(deployment=deployment, user=colleague, actor=actor)
    with pytest.raises(NotAllowed):
        deployment_unassign_user(deployment=deployment, user=actor, actor=actor)
    assert (AuditEvent.objects.count(), deployment.__class__.objects.count()) == (events, deployments)
    assert not colleague.has_perm("audit.view_deployment", deployment)


def test_an_admin_creates_and_assigns_and_the_installation_acts_as_the_system(deployment):
    from audit.services import deployment_assign_user, deployment_create

    admin = user_with_role("admin")
    created = deployment_create(name="desk-2", customer="ACME", actor=admin)
    colleague = user_with_role("operator")
    deployment_assign_user(deployment=created, user=colleague, actor=admin)
    assert colleague.has_perm("audit.view_deployment", created)
    assert deployment_create(name="desk-3", customer="ACME").pk  # init and seed commands: no person
