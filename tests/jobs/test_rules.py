"""Who may start, cancel and use jobs, each rule as a sentence: a refused actor writes nothing."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from audit.errors import NotAllowed
from audit.models import AuditEvent, Checklist, StepAttachment
from jobs import services
from jobs.models import Job, JobResultFile, JobStatus
from tests.factories import user_with_role


@pytest.fixture(autouse=True)
def no_broker(monkeypatch, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "uploads"
    monkeypatch.setattr(services, "job_enqueue", lambda *, job_id: None)


def written(settings) -> tuple:
    files = sorted(settings.MEDIA_ROOT.rglob("*")) if settings.MEDIA_ROOT.exists() else []
    rows = tuple(m.objects.count() for m in (Job, JobResultFile, Checklist, StepAttachment, AuditEvent))
    return rows, files


@pytest.mark.parametrize("role", ["auditor", "operator"])
def test_an_auditor_or_operator_may_not_hash_an_artefact_and_no_file_or_row_is_written(db, settings, role):
    before = written(settings)
    with pytest.raises(NotAllowed, match="may not start jobs"):
        services.artefact_hash_start(actor=user_with_role(role), uploaded_file=SimpleUploadedFile("a", b"a"))
    assert written(settings) == before


@pytest.mark.parametrize("role", ["engineer", "auditor", "operator"])
def test_only_the_jobs_creator_or_an_admin_cancels_it_and_a_refusal_leaves_it_queued(db, settings, role):
    job = services.job_create(actor=user_with_role("compliance"), kind="hash_artefact")
    before = written(settings)
    with pytest.raises(NotAllowed, match="only the job's creator or an admin may cancel it"):
        services.job_cancel(actor=user_with_role(role), job=job)
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED and written(settings) == before
    assert services.job_cancel(actor=job.created_by, job=job)


def test_an_admin_cancels_anyones_job(db):
    job = services.job_create(actor=user_with_role("engineer"), kind="hash_artefact")
    assert services.job_cancel(actor=user_with_role("admin"), job=job)


@pytest.mark.parametrize("role", ["engineer", "product_owner", "auditor", "operator"])
def test_only_admins_and_compliance_recheck_the_audit_trail_and_a_refusal_starts_no_job(db, settings, role):
    before = written(settings)
    with pytest.raises(NotAllowed, match="may not re-check the audit trail"):
        services.audit_trail_check_start(actor=user_with_role(role))
    assert written(settings) == before
    assert (
        services.audit_trail_check_start(actor=user_with_role("compliance")).kind == "audit_trail_full_check"
    )


@pytest.mark.parametrize("role", ["auditor", "operator", "compliance"])
def test_a_job_result_is_attached_only_by_the_steps_role_or_an_admin_and_no_checklist_is_opened(
    db, settings, deployment, role
):
    job = Job.objects.create(kind="hash_artefact", status=JobStatus.SUCCEEDED)
    result = JobResultFile.objects.create(job=job, name="r.jsonl", path="r.jsonl", size=1, sha384="0" * 96)
    actor = user_with_role(role, deployments=[deployment])
    before = written(settings)
    with pytest.raises(NotAllowed, match="attaches evidence to this step"):
        services.job_result_attach(
            actor=actor,
            deployment=deployment,
            checklist_id="demo_stage1",
            step_id="smoke_demo",
            name="smoke_demo_report",
            result=result,
        )
    assert written(settings) == before
