"""The smoke_demo and live_dry_run console jobs, run in-process through the worker's runner."""

import hashlib
import json
from pathlib import Path

import pytest

from execution import services as execution_services
from jobs import runner
from jobs import services as job_services
from jobs.models import Job, JobStatus


@pytest.fixture
def no_broker(monkeypatch):
    monkeypatch.setattr(job_services, "job_enqueue", lambda *, job_id: None)


def _result(job):
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.progress == 100, job.error
    result = job.result_files.get()
    data = Path(result.path).read_bytes()
    assert result.sha384 == hashlib.sha384(data).hexdigest() and result.size == len(data)
    return result, json.loads(data.splitlines()[-1])


def test_smoke_demo_job_records_the_report_as_a_hashed_result(
    db, no_broker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = execution_services.smoke_demo_start(cycles=2)
    assert runner.run_job(job_id=job.pk, worker="test") == "succeeded"
    result, summary = _result(job)
    assert result.name.startswith("smoke_demo_") and "/audit/acceptance/" in result.path
    assert summary["passed"] and summary["cycles"] == 2 and summary["orders"] >= 1


def test_live_dry_run_job_records_the_report_as_a_hashed_result(
    db, no_broker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = execution_services.live_dry_run_start(orders=40, fault_rate=0.3, seed=3)
    assert runner.run_job(job_id=job.pk, worker="test") == "succeeded"
    result, summary = _result(job)
    assert "/logs/live_dry_run/" in result.path
    assert summary["passed"] and summary["orders"] == summary["accounted"] == 42


def test_bad_job_parameters_fail_the_job_without_a_report(db, no_broker):
    job = Job.objects.create(kind="live_dry_run", params={"orders": 0})
    assert runner.run_job(job_id=job.pk, worker="test") == "failed"
    job.refresh_from_db()
    assert "--orders must be" in job.error and not job.result_files.exists()
