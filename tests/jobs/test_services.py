"""The job lifecycle: one claim wins, leases fence workers, the sweeper recovers lost work."""

from datetime import timedelta

import pytest
from django.utils import timezone

from jobs import services
from jobs.models import Job, JobResultFile, JobStatus


@pytest.fixture
def job(db):
    return Job.objects.create(kind="hash_artefact", params={"path": "x"}, max_attempts=3)


def expire_lease(job):
    Job.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))


def test_a_queued_job_is_claimed_by_exactly_one_worker(job):
    first = services.job_claim(job_id=job.pk, worker="a")
    second = services.job_claim(job_id=job.pk, worker="b")
    assert first is not None and second is None
    job.refresh_from_db()
    assert (job.status, job.worker, job.attempts) == (JobStatus.RUNNING, "a", 1)


def test_a_running_job_with_a_live_lease_cannot_be_taken_over(job):
    services.job_claim(job_id=job.pk, worker="a")
    assert services.job_claim(job_id=job.pk, worker="b") is None


def test_an_expired_lease_is_taken_over_and_fences_the_old_worker(job):
    old = services.job_claim(job_id=job.pk, worker="a")
    expire_lease(job)
    new = services.job_claim(job_id=job.pk, worker="b")
    assert new is not None
    assert services.job_heartbeat(job_id=job.pk, token=old, progress=50) is False
    assert services.job_succeed(job_id=job.pk, token=old) is False
    assert services.job_succeed(job_id=job.pk, token=new) is True
    job.refresh_from_db()
    assert (job.status, job.attempts, job.progress) == (JobStatus.SUCCEEDED, 2, 100)


def test_results_of_an_interrupted_attempt_are_discarded_on_reclaim(job):
    old = services.job_claim(job_id=job.pk, worker="a")
    services.job_add_result_file(job_id=job.pk, token=old, name="r", path="r", size=1, sha384="0" * 96)
    expire_lease(job)
    services.job_claim(job_id=job.pk, worker="b")
    assert not JobResultFile.objects.filter(job=job).exists()


def test_a_job_out_of_attempts_is_failed_by_the_sweeper(job):
    Job.objects.filter(pk=job.pk).update(max_attempts=1)
    services.job_claim(job_id=job.pk, worker="a")
    expire_lease(job)
    assert services.job_sweep()["failed"] == 1
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "lease expired" in job.error
    assert services.job_claim(job_id=job.pk, worker="b") is None


def test_the_sweeper_re_enqueues_expired_and_never_enqueued_jobs(job, monkeypatch):
    sent = []
    monkeypatch.setattr(services, "job_enqueue", lambda *, job_id: sent.append(job_id))
    stuck = Job.objects.create(kind="hash_artefact", max_attempts=3)
    services.job_claim(job_id=stuck.pk, worker="a")
    expire_lease(stuck)
    result = services.job_sweep()
    assert sorted(sent) == sorted([job.pk, stuck.pk])
    assert (result["requeued"], result["failed"]) == (2, 0)


def test_recently_enqueued_jobs_are_left_alone_by_the_sweeper(job, monkeypatch):
    Job.objects.filter(pk=job.pk).update(enqueued_at=timezone.now())
    sent = []
    monkeypatch.setattr(services, "job_enqueue", lambda *, job_id: sent.append(job_id))
    services.job_sweep()
    assert sent == []


def test_job_create_enqueues_only_after_commit(db, django_capture_on_commit_callbacks, monkeypatch):
    sent = []
    monkeypatch.setattr(services, "job_enqueue", lambda *, job_id: sent.append(job_id))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = services.job_create(actor=None, kind="hash_artefact", params={"path": "x"})
    assert sent == []
    for callback in callbacks:
        callback()
    assert sent == [job.pk]


def test_unknown_job_kinds_are_refused_and_nothing_is_written(db):
    with pytest.raises(LookupError):
        services.job_create(actor=None, kind="format_disk")
    assert not Job.objects.exists()


def test_cancelled_job_cannot_be_claimed(job, make_user):
    services.job_cancel(actor=make_user("admin"), job=job)
    assert services.job_claim(job_id=job.pk, worker="a") is None


def test_progress_is_bounded_to_0_100(job):
    token = services.job_claim(job_id=job.pk, worker="a")
    services.job_heartbeat(job_id=job.pk, token=token, progress=250)
    job.refresh_from_db()
    assert job.progress == 100
