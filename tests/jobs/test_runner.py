"""The hash_artefact kind run in-process through the same runner a worker uses."""

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from jobs import runner, services
from jobs.models import Job, JobStatus


@pytest.fixture
def no_broker(monkeypatch):
    monkeypatch.setattr(services, "job_enqueue", lambda *, job_id: None)


def test_hash_artefact_records_sha384_of_the_upload(
    db, no_broker, make_user, django_capture_on_commit_callbacks
):
    data = b"evidence " * 100_000
    user = make_user("engineer")
    with django_capture_on_commit_callbacks(execute=True):
        job = services.artefact_hash_start(
            uploaded_file=SimpleUploadedFile("smoke report.jsonl", data), actor=user
        )
    assert runner.run_job(job_id=job.pk, worker="test") == "succeeded"
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.progress == 100
    result = job.result_files.get()
    assert result.sha384 == hashlib.sha384(data).hexdigest()
    assert result.size == len(data)
    assert result.name == "smoke_report.jsonl"


def test_a_path_escaping_the_uploads_folder_fails_the_job(db, no_broker):
    job = Job.objects.create(kind="hash_artefact", params={"path": "../../etc/passwd"})
    assert runner.run_job(job_id=job.pk, worker="test") == "failed"
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "escapes the uploads folder" in job.error
    assert not job.result_files.exists()


def test_a_finished_job_is_not_run_again(db, no_broker):
    job = Job.objects.create(kind="hash_artefact", status=JobStatus.SUCCEEDED)
    assert runner.run_job(job_id=job.pk, worker="test") == "not-claimed"
