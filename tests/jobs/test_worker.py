"""Real Celery workers (subprocesses) on the configured broker: the filesystem broker on the embedded run,
Redis on the PostgreSQL run. A worker killed mid-job loses nothing: the job finishes once, elsewhere."""

import os

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from jobs import services
from jobs.models import Job, JobStatus
from tests.workers import wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def start_hash_job(user, payload: bytes, **params) -> Job:
    job = services.artefact_hash_start(uploaded_file=SimpleUploadedFile("evidence.bin", payload), actor=user)
    if params:
        Job.objects.filter(pk=job.pk).update(params={**job.params, **params})
    return job


def test_a_real_worker_runs_a_job_to_completion(workers, make_user):
    worker = workers()
    job = start_hash_job(make_user("engineer"), b"x" * 300_000)  # enqueued on commit: no atomic block here
    wait_for(
        lambda: Job.objects.get(pk=job.pk).status == JobStatus.SUCCEEDED,
        timeout=180,
        what="success",
        worker=worker,
    )
    job.refresh_from_db()
    assert job.progress == 100 and job.attempts == 1
    assert job.result_files.count() == 1


def test_a_job_whose_worker_dies_is_picked_up_again_and_finishes_once(workers, make_user):
    first = workers(lease_seconds=3)
    # 64 throttled chunks: several seconds of work, so the kill lands mid-job.
    job = start_hash_job(make_user("engineer"), os.urandom(64 * 65536), chunk_bytes=65536, throttle_ms=150)
    wait_for(
        lambda: Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING, progress__gt=5).exists(),
        timeout=180,
        what="the first worker to make progress",
        worker=first,
    )
    first.kill()
    interrupted = Job.objects.get(pk=job.pk)
    assert interrupted.status == JobStatus.RUNNING and interrupted.progress < 100

    wait_for(lambda: services.job_sweep()["requeued"] >= 1, timeout=30, what="the lease to expire")
    second = workers(lease_seconds=30)
    wait_for(
        lambda: Job.objects.get(pk=job.pk).status == JobStatus.SUCCEEDED,
        timeout=120,
        what="the second worker to finish",
        worker=second,
    )
    job.refresh_from_db()
    assert job.attempts == 2
    assert job.result_files.count() == 1
    attempts_logged = sorted(set(job.log_lines.values_list("attempt", flat=True)))
    assert attempts_logged == [1, 2]
