"""Orphaned uploads (files no attachment or job refers to) are removed by the sweep, past a grace period;
referenced files, exports and anything outside the upload layout stay."""

import os
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from audit.models import AuditEvent
from audit.services import checklist_attach, checklist_open
from jobs import services as job_services
from jobs.kinds import register_builtin_kinds
from jobs.registry import get_kind
from tests.factories import DeploymentFactory, user_with_role


@pytest.fixture
def storage(settings, tmp_path, monkeypatch):
    monkeypatch.setattr(job_services, "job_enqueue", lambda *, job_id: None)
    settings.OEM_DATA_DIR = tmp_path / "data"
    settings.MEDIA_ROOT = tmp_path / "data" / "uploads"
    settings.OEM_ORPHAN_UPLOAD_GRACE_SECONDS = 60
    return settings


def age(path, seconds=3600):
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_the_sweep_removes_old_orphans_and_keeps_what_rows_refer_to(storage, db, capsys):
    deployment = DeploymentFactory(local=False)
    engineer = user_with_role("engineer", deployments=[deployment])
    checklist = checklist_open(deployment=deployment, checklist_id="demo_stage1", actor=engineer)
    kept = checklist_attach(
        deployment=checklist.deployment,
        checklist_id=checklist.checklist_id,
        step_id="smoke_demo",
        name="smoke_demo_report",
        actor=engineer,
        uploaded=SimpleUploadedFile("s.jsonl", b"{}\n"),
    )
    job = job_services.artefact_hash_start(
        uploaded_file=SimpleUploadedFile("a.bin", b"a"), actor=engineer, deployment=deployment
    )
    evidence = deployment.evidence_dir
    orphan_evidence = evidence / "audit" / "artefacts" / "demo_stage1" / ("f" * 32) / "lost.jsonl"
    orphan_job = storage.MEDIA_ROOT / "artefacts" / f"d{deployment.pk}" / ("e" * 32) / "lost.bin"
    fresh_orphan = storage.MEDIA_ROOT / "artefacts" / "none" / ("d" * 32) / "in-flight.bin"
    export = evidence / "audit" / "artefacts" / "demo_exit" / "checklist_demo_stage1.json"
    for path in (orphan_evidence, orphan_job, fresh_orphan, export):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    for path in (orphan_evidence, orphan_job, export, evidence / kept.path):
        age(path)
    age(storage.MEDIA_ROOT / job.params["path"])

    call_command("sweep_uploads")

    assert capsys.readouterr().out.strip() == "removed 1 evidence upload(s) and 1 job upload(s)"
    assert not orphan_evidence.exists() and not orphan_evidence.parent.exists()
    assert not orphan_job.exists()
    assert fresh_orphan.exists()  # younger than the grace period: its row may still be on its way
    assert export.exists() and (evidence / kept.path).exists()
    assert (storage.MEDIA_ROOT / job.params["path"]).exists()
    event = AuditEvent.objects.get(action="uploads.sweep")
    assert event.detail == {"evidence_uploads": 1, "job_uploads": 1}


def test_the_beat_task_enqueues_the_sweep_as_a_job_of_its_registered_kind(storage, db):
    from jobs.models import Job
    from jobs.runner import run_job
    from jobs.tasks import sweep_uploads

    register_builtin_kinds()
    assert get_kind("sweep_uploads").handler is not None
    assert storage.CELERY_BEAT_SCHEDULE["sweep-orphaned-uploads"]["task"] == "jobs.tasks.sweep_uploads"
    job = Job.objects.get(pk=sweep_uploads())
    assert job.kind == "sweep_uploads"
    orphan = storage.MEDIA_ROOT / "artefacts" / "none" / ("c" * 32) / "lost.bin"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"x")
    age(orphan)
    run_job(job_id=job.pk)  # what a worker runs for the row
    job.refresh_from_db()
    assert job.status == "succeeded" and not orphan.exists()
    assert "job_uploads: 1 removed" in " ".join(job.log_lines.values_list("message", flat=True))


def test_a_sweep_with_nothing_to_remove_records_no_event(storage, db):
    assert job_services.upload_sweep() == {"evidence_uploads": 0, "job_uploads": 0}
    assert not AuditEvent.objects.filter(action="uploads.sweep").exists()


def test_the_sweep_never_follows_a_link_out_of_the_upload_folders(storage, db, tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"keep me")
    deployment = DeploymentFactory(local=False)
    for folder in (
        storage.MEDIA_ROOT / "artefacts" / "none" / ("a" * 32),
        deployment.evidence_dir / "audit" / "artefacts" / "demo_stage1" / ("b" * 32),
    ):
        folder.mkdir(parents=True)
        (folder / "link").symlink_to(outside)
    job_services.upload_sweep()
    assert outside.read_bytes() == b"keep me"


def test_an_upload_name_cannot_place_the_file_outside_its_folder(storage, db):
    deployment = DeploymentFactory(local=False)
    engineer = user_with_role("engineer", deployments=[deployment])
    job = job_services.artefact_hash_start(
        uploaded_file=SimpleUploadedFile("../../../../etc/passwd", b"x"),
        actor=engineer,
        deployment=deployment,
    )
    stored = (storage.MEDIA_ROOT / job.params["path"]).resolve()
    assert stored.parent.parent == (storage.MEDIA_ROOT / "artefacts" / f"d{deployment.pk}").resolve()
    assert stored.name == "passwd"
