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
    db, no_broker, make_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = execution_services.smoke_demo_start(
            actor=make_user("engineer"), options=execution_services.SmokeJobOptions(cycles=2)
        )
    assert runner.run_job(job_id=job.pk, worker="test") == "succeeded"
    result, summary = _result(job)
    assert result.name.startswith("smoke_demo_") and "/audit/acceptance/" in result.path
    assert summary["passed"] and summary["cycles"] == 2 and summary["orders"] >= 1


def test_live_dry_run_job_records_the_report_as_a_hashed_result(
    db, no_broker, make_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = execution_services.live_dry_run_start(
            actor=make_user("engineer"),
            options=execution_services.DryRunJobOptions(orders=40, fault_rate=0.3, seed=3),
        )
    assert runner.run_job(job_id=job.pk, worker="test") == "succeeded"
    result, summary = _result(job)
    assert "/logs/live_dry_run/" in result.path
    assert summary["passed"] and summary["orders"] == summary["accounted"] == 42


def test_bad_job_parameters_fail_the_job_without_a_report(db, no_broker):
    job = Job.objects.create(kind="live_dry_run", params={"orders": 0})
    assert runner.run_job(job_id=job.pk, worker="test") == "failed"
    job.refresh_from_db()
    assert "--orders must be" in job.error and not job.result_files.exists()


def test_job_options_written_before_the_typed_options_are_read_the_same(db, no_broker):
    """Rows store the options as plain JSON numbers: an older row (a float stored as an int) still runs."""
    options = execution_services.DryRunJobOptions.from_params({"orders": 5, "fault_rate": 0, "seed": 2})
    assert options == execution_services.DryRunJobOptions(orders=5, fault_rate=0.0, seed=2)
    assert options.params() == {"orders": 5, "fault_rate": 0.0, "seed": 2}
    assert execution_services.SmokeJobOptions.from_params({}).cycles == 12


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"orders": "200"}, "option orders must be a number"),
        ({"seed": True}, "option seed must be a number"),
        ({"argv": ["--orders", "2"]}, "unknown option(s): argv"),
    ],
)
def test_a_job_row_with_options_of_the_wrong_type_fails_without_a_report(db, no_broker, params, message):
    job = Job.objects.create(kind="live_dry_run", params=params)
    assert runner.run_job(job_id=job.pk, worker="test") == "failed"
    job.refresh_from_db()
    assert message in job.error and not job.result_files.exists()


@pytest.mark.parametrize("role", ["auditor", "operator"])
def test_an_auditor_or_operator_may_not_start_a_runbook_job_and_nothing_is_written(db, make_user, role):
    from audit.errors import NotAllowed
    from audit.models import AuditEvent

    with pytest.raises(NotAllowed, match="may not start jobs"):
        execution_services.smoke_demo_start(actor=make_user(role))
    assert not Job.objects.exists() and not AuditEvent.objects.exists()


def test_options_out_of_bounds_are_refused_before_a_job_is_created(db, make_user):
    from audit.errors import Invalid

    with pytest.raises(Invalid, match="--orders must be 1..100000"):
        execution_services.live_dry_run_start(
            actor=make_user("engineer"), options=execution_services.DryRunJobOptions(orders=0)
        )
    assert not Job.objects.exists()
