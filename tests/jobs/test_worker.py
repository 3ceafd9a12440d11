"""Real Celery workers (subprocesses) on the configured broker: the filesystem broker on the embedded run,
Redis on the PostgreSQL run. A worker killed mid-job loses nothing: the job finishes once, elsewhere."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from jobs import services
from jobs.models import Job, JobStatus

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgresql://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


class Worker:
    def __init__(self, tmp_path: Path, lease_seconds: int):
        env = dict(os.environ)
        env.update(
            DATABASE_URL=database_url(),
            CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
            OEM_DATA_DIR=str(settings.OEM_DATA_DIR),
            OEM_JOB_LEASE_SECONDS=str(lease_seconds),
        )
        self.log = tmp_path / f"worker-{uuid.uuid4().hex[:6]}.log"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "oemconsole",
                "worker",
                "--pool=solo",
                "--concurrency=1",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel=INFO",
                f"--hostname=test-{uuid.uuid4().hex[:8]}@%h",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def workers(tmp_path):
    started: list[Worker] = []

    def start(lease_seconds: int = 30) -> Worker:
        worker = Worker(tmp_path, lease_seconds)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def wait_for(predicate, *, timeout: float, what: str, worker: Worker | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    detail = worker.output()[-3000:] if worker else ""
    raise AssertionError(f"timed out waiting for {what}\n{detail}")


def start_hash_job(user, payload: bytes, **params) -> Job:
    job = services.artefact_hash_start(uploaded_file=SimpleUploadedFile("evidence.bin", payload), user=user)
    if params:
        Job.objects.filter(pk=job.pk).update(params={**job.params, **params})
    return job


def test_a_real_worker_runs_a_job_to_completion(workers, make_user):
    worker = workers()
    job = start_hash_job(make_user("engineer"), b"x" * 300_000)  # enqueued on commit: no atomic block here
    wait_for(
        lambda: Job.objects.get(pk=job.pk).status == JobStatus.SUCCEEDED,
        timeout=90,
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
        timeout=90,
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
