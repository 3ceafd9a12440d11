"""Checklists signed in the console and gates closed by signed decisions (service level)."""

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import RequestFactory

from audit.errors import Conflict, Invalid, NotAllowed, NotFound
from audit.models import AuditEvent, DecisionProposal, Deployment, StepSignature
from audit.services import (
    SignatureRefused,
    checklist_attach,
    checklist_export,
    checklist_open,
    decision_propose,
    decision_sign,
    signer_key_create,
    step_sign,
)
from audit.trust.hashing import sha384_file
from audit.trust.keyring import KeyRing
from audit.trust.verifier import verify_decision_logs
from tests.evidence_factory import console_uploads, stand_in_verifiers
from tests.factories import PASSWORD, user_with_role
from tests.trust_setup import ADMIN_PASSWORD, installed

ENGINEER_STEPS = [
    "validate_config",
    "smoke_demo",
    "metrics_service",
    "installer_acceptance",
    "verify_demo_log",
]


@pytest.fixture
def env(db, settings, data_dir):
    settings.OEM_DATA_DIR = data_dir
    installed(data_dir)
    deployment = Deployment.objects.create(name="acme", customer="ACME", local=True)
    people = {}
    for role in ("engineer", "product_owner", "compliance", "operator"):
        user = user_with_role(role, deployments=[deployment], first_name=role.title(), last_name="Person")
        signer_key_create(user=user, password=PASSWORD, admin_password=ADMIN_PASSWORD)
        people[role] = user
    return deployment, people, settings


def request():
    return RequestFactory().post("/")


def sign(checklist, step, user, password=PASSWORD, meaning="performed"):
    return step_sign(
        deployment=checklist.deployment,
        checklist_id=checklist.checklist_id,
        step_id=step,
        actor=user,
        password=password,
        meaning=meaning,
        reason="",
        request=request(),
    )


def genuine_uploads(gate, settings):
    """The gate's genuine evidence as the console receives it (files to upload, values to enter)."""
    scratch = Path(settings.OEM_DATA_DIR).parent / f"producers-{gate}"
    keyring = KeyRing.load(settings.OEM_DATA_DIR)
    return console_uploads(gate, keyring=keyring, config_path=settings.OEM_CONFIG_PATH, scratch=scratch)


def attach_demo_evidence(checklist, engineer, settings):
    evidence = genuine_uploads("demo_exit", settings)
    steps = {
        "config_hash": "validate_config",
        "config_signature": "validate_config",
        "bundle_commit": "validate_config",
        "smoke_demo_report": "smoke_demo",
        "ci_run": "installer_acceptance",
    }
    for name, step in steps.items():
        attach(checklist, step, name, engineer, evidence[name])
    attach(checklist, "metrics_service", "metrics_demo_log", engineer, b'{"m": 1}\n')


def attach(checklist, step, name, user, evidence):
    if isinstance(evidence, bytes):
        upload = SimpleUploadedFile(f"{name}.bin", evidence)
        checklist_attach(
            deployment=checklist.deployment,
            checklist_id=checklist.checklist_id,
            step_id=step,
            name=name,
            actor=user,
            uploaded=upload,
        )
    else:
        checklist_attach(
            deployment=checklist.deployment,
            checklist_id=checklist.checklist_id,
            step_id=step,
            name=name,
            actor=user,
            value=evidence,
        )


def complete_demo_checklist(deployment, people, settings):
    checklist = checklist_open(deployment=deployment, checklist_id="demo_stage1", actor=people["engineer"])
    attach_demo_evidence(checklist, people["engineer"], settings)
    for step in ENGINEER_STEPS:
        sign(checklist, step, people["engineer"])
    sign(checklist, "product_owner_approval", people["product_owner"], meaning="approved")
    return checklist


def test_full_demo_exit_writes_a_verified_demo_ready_entry(env):
    deployment, people, settings = env
    checklist = complete_demo_checklist(deployment, people, settings)
    checklist = checklist_export(checklist=checklist, actor=people["engineer"])
    exported = deployment.evidence_dir / checklist.exported_path
    assert sha384_file(exported) == checklist.exported_sha384
    assert exported.with_suffix(".pdf").read_bytes().startswith(b"%PDF")
    proposal = decision_propose(deployment=deployment, gate="demo_exit", actor=people["compliance"])
    decision_sign(proposal=proposal, actor=people["product_owner"], password=PASSWORD, request=request())
    decision_sign(proposal=proposal, actor=people["compliance"], password=PASSWORD, request=request())
    proposal.refresh_from_db()
    assert proposal.status == DecisionProposal.Status.APPENDED
    report = verify_decision_logs(None, None, data_dir=deployment.evidence_dir)
    assert report.ok, report.problems
    assert [e.status for e in report.entries] == ["demo_ready"]
    assert report.entries[0].signers == {
        "owner": people["product_owner"].username,
        "compliance": people["compliance"].username,
    }
    deployment.refresh_from_db()
    assert deployment.stage == "paper"


def test_an_operator_cannot_sign_an_engineer_step_and_nothing_is_written(env):
    from audit.models import Checklist

    deployment, people, settings = env
    events = AuditEvent.objects.count()
    with pytest.raises(NotAllowed, match="signed by the engineer role"):
        step_sign(
            deployment=deployment,
            checklist_id="demo_stage1",
            step_id="verify_demo_log",
            actor=people["operator"],
            password=PASSWORD,
            meaning="performed",
            request=request(),
        )
    assert not StepSignature.objects.exists()
    assert not Checklist.objects.exists()
    assert AuditEvent.objects.count() == events


def test_a_wrong_password_signs_nothing(env):
    deployment, people, settings = env
    checklist = checklist_open(deployment=deployment, checklist_id="demo_stage1", actor=people["engineer"])
    with pytest.raises(SignatureRefused, match="wrong password"):
        sign(checklist, "verify_demo_log", people["engineer"], password="not it")
    assert not StepSignature.objects.exists()


def test_five_wrong_passwords_lock_the_account_and_raise_an_audit_event(env):
    deployment, people, settings = env
    checklist = checklist_open(deployment=deployment, checklist_id="demo_stage1", actor=people["engineer"])
    for _ in range(5):
        with pytest.raises(SignatureRefused):
            sign(checklist, "verify_demo_log", people["engineer"], password="not it")
    with pytest.raises(SignatureRefused, match="wrong password"):  # locked: even the right one fails now
        sign(checklist, "verify_demo_log", people["engineer"])
    assert AuditEvent.objects.filter(action="auth.locked_out", actor=people["engineer"].username).exists()
    assert not StepSignature.objects.exists()


def test_the_same_person_cannot_sign_two_roles_on_one_gate(env):
    deployment, people, settings = env
    both = people["engineer"]
    from django.contrib.auth.models import Group

    both.groups.add(Group.objects.get(name="product_owner"))
    checklist = checklist_open(deployment=deployment, checklist_id="demo_stage1", actor=both)
    sign(checklist, "verify_demo_log", both)
    with pytest.raises(SignatureRefused, match="two-person rule"):
        sign(checklist, "product_owner_approval", both, meaning="approved")


def test_a_signature_needs_its_artefacts_attached_first(env):
    deployment, people, settings = env
    checklist = checklist_open(deployment=deployment, checklist_id="demo_stage1", actor=people["engineer"])
    with pytest.raises(SignatureRefused, match="attach smoke_demo_report"):
        sign(checklist, "smoke_demo", people["engineer"])


def test_replacing_an_artefact_after_signing_voids_the_signature_and_reopens_the_gate(env):
    deployment, people, settings = env
    checklist = complete_demo_checklist(deployment, people, settings)
    checklist_export(checklist=checklist, actor=people["engineer"])
    assert decision_propose(deployment=deployment, gate="demo_exit", actor=people["compliance"])
    checklist_attach(
        deployment=checklist.deployment,
        checklist_id=checklist.checklist_id,
        step_id="smoke_demo",
        name="smoke_demo_report",
        actor=people["engineer"],
        uploaded=SimpleUploadedFile("smoke.jsonl", b'{"ok": false}\n'),
    )
    voided = StepSignature.objects.get(step_id="smoke_demo")
    assert voided.is_void and "replaced after signing" in voided.void_reason
    checklist.refresh_from_db()
    assert checklist.exported_path == ""
    with pytest.raises(Conflict, match="cannot be closed yet"):
        decision_propose(deployment=deployment, gate="demo_exit", actor=people["compliance"])


def test_a_gate_with_missing_evidence_cannot_be_proposed_and_says_what_is_missing(env):
    deployment, people, settings = env
    with pytest.raises(Conflict) as refused:
        decision_propose(deployment=deployment, gate="demo_exit", actor=people["compliance"])
    assert "smoke_demo_report" in str(refused.value) and "checklist demo_stage1" in str(refused.value)


def test_one_person_cannot_sign_a_decision_twice(env):
    deployment, people, settings = env
    checklist = complete_demo_checklist(deployment, people, settings)
    checklist_export(checklist=checklist, actor=people["engineer"])
    proposal = decision_propose(deployment=deployment, gate="demo_exit", actor=people["compliance"])
    decision_sign(proposal=proposal, actor=people["compliance"], password=PASSWORD, request=request())
    with pytest.raises(SignatureRefused, match="already signed"):
        decision_sign(proposal=proposal, actor=people["compliance"], password=PASSWORD, request=request())


def close_gate(deployment, people, gate):
    proposal = decision_propose(deployment=deployment, gate=gate, actor=people["compliance"])
    decision_sign(proposal=proposal, actor=people["product_owner"], password=PASSWORD, request=request())
    decision_sign(proposal=proposal, actor=people["compliance"], password=PASSWORD, request=request())
    proposal.refresh_from_db()
    assert proposal.status == DecisionProposal.Status.APPENDED, proposal.note


def test_demo_to_paper_ready_with_every_step_signed_passes_the_strict_verifier(env):
    deployment, people, settings = env
    admin = user_with_role("admin", first_name="Ada", last_name="Admin")
    signer_key_create(user=admin, password=PASSWORD, admin_password=ADMIN_PASSWORD)
    checklist_export(
        checklist=complete_demo_checklist(deployment, people, settings), actor=people["engineer"]
    )
    close_gate(deployment, people, "demo_exit")

    engineer = people["engineer"]
    paper = checklist_open(deployment=deployment, checklist_id="paper_trading", actor=engineer)

    evidence = genuine_uploads("paper_exit", settings)
    steps = {
        "config_hash": "paper_config",
        "config_signature": "paper_config",
        "paper_labs_report_json": "paper_labs_reports",
        "paper_labs_report_pdf": "paper_labs_reports",
        "bundle_fingerprint": "bundle_fingerprint",
        "bundle": "bundle_fingerprint",
        "paper_smoke_report": "paper_smoke",
        "ci_run": "paper_smoke",
    }
    for name, step in steps.items():
        attach(paper, step, name, engineer, evidence[name])
    attach(paper, "paper_license", "paper_license", admin, b'{"serial": 1}')
    for step in ("paper_config", "paper_labs_reports", "bundle_fingerprint", "paper_smoke"):
        sign(paper, step, engineer)
    sign(paper, "paper_license", admin)
    sign(paper, "compliance_acceptance", people["compliance"], meaning="reviewed")
    sign(paper, "product_owner_approval", people["product_owner"], meaning="approved")
    checklist_export(checklist=paper, actor=people["compliance"])
    with stand_in_verifiers():
        close_gate(deployment, people, "paper_exit")
        report = verify_decision_logs(None, None, data_dir=deployment.evidence_dir)
    assert report.ok, report.problems
    assert [e.status for e in report.entries] == ["demo_ready", "paper_ready"]
    paper_entry = report.logs["paper"][0].entry
    assert paper_entry["runtime_flags"]["runtime.compliance_confirmed"] is False
    assert paper_entry["artefacts"]["paper_labs_report_pdf"]["sha384"] == sha384_file(
        deployment.evidence_dir / paper_entry["artefacts"]["paper_labs_report_pdf"]["path"]
    )


def test_a_hashed_upload_job_result_is_picked_as_step_evidence(env, client, monkeypatch):
    from jobs import runner
    from jobs import services as job_services

    deployment, people, settings = env
    monkeypatch.setattr(job_services, "job_enqueue", lambda *, job_id: None)
    engineer = people["engineer"]
    job = job_services.artefact_hash_start(
        uploaded_file=SimpleUploadedFile("smoke.jsonl", b'{"ok": true}\n'), actor=engineer
    )
    assert runner.run_job(job_id=job.pk, worker="t") == "succeeded"
    result = job.result_files.get()
    client.force_login(engineer)
    url = f"/deployments/{deployment.pk}/checklists/demo_stage1/steps/smoke_demo/pick-job-result/"
    assert "smoke.jsonl" in client.get(url + "?name=smoke_demo_report").content.decode()
    client.post(url, {"name": "smoke_demo_report", "result": result.pk})
    from audit.models import StepAttachment

    attached = StepAttachment.objects.get(name="smoke_demo_report")
    assert attached.sha384 == result.sha384
    client.force_login(people["operator"])
    client.post(url, {"name": "smoke_demo_report", "result": result.pk})  # not the operator's job: 404
    assert StepAttachment.objects.filter(name="smoke_demo_report").count() == 1


def test_an_overlong_value_or_reason_is_refused_not_cut_to_fit(env):
    from audit.models import StepAttachment

    deployment, people, settings = env
    checklist = checklist_open(deployment=deployment, checklist_id="demo_stage1", actor=people["engineer"])
    with pytest.raises(Invalid, match="longer than 500"):
        checklist_attach(
            deployment=checklist.deployment,
            checklist_id=checklist.checklist_id,
            step_id="validate_config",
            name="bundle_commit",
            actor=people["engineer"],
            value="x" * 501,
        )
    assert not StepAttachment.objects.exists()
    with pytest.raises(Invalid, match="reason is longer than 500"):
        step_sign(
            deployment=checklist.deployment,
            checklist_id=checklist.checklist_id,
            step_id="verify_demo_log",
            actor=people["engineer"],
            password=PASSWORD,
            meaning="performed",
            reason="r" * 501,
            request=request(),
        )
    assert not StepSignature.objects.exists()


def test_a_signer_of_another_deployment_is_refused_before_anything_is_written(env):
    from audit.models import Checklist

    deployment, people, settings = env
    elsewhere = Deployment.objects.create(name="elsewhere", customer="ACME", local=True)
    outsider = user_with_role("engineer", deployments=[elsewhere])
    events = AuditEvent.objects.count()
    with pytest.raises(NotFound, match="no such deployment"):
        step_sign(
            deployment=deployment,
            checklist_id="demo_stage1",
            step_id="verify_demo_log",
            actor=outsider,
            password=PASSWORD,
            meaning="performed",
            request=request(),
        )
    assert not Checklist.objects.exists() and AuditEvent.objects.count() == events
