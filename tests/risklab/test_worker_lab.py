"""The runbook command fans a lab out to a real worker and follows it to the report."""

import os
import subprocess
import sys

import pytest
from django.conf import settings

from audit.trust.hashing import sha384_file
from risklab.models import LabRun, LabRunStatus
from tests.workers import ROOT, database_url

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_run_risk_simulation_lab_fans_out_to_a_worker_and_prints_report_hashes(workers):
    worker = workers()
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "OEM_DATA_DIR": str(settings.OEM_DATA_DIR),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
    }
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "run_risk_simulation_lab",
            "--profile",
            "conservative",
            "--scenario",
            "flash_crash",
            "--strategy",
            "buy_and_hold",
            "--seed",
            "3",
            "--timeout",
            "240",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr + worker.output()[-3000:]
    lab_run = LabRun.objects.get()
    assert lab_run.status == LabRunStatus.SUCCEEDED
    lines = result.stdout.splitlines()
    assert lines[1] == lab_run.json_path and lines[2] == f"sha384:{sha384_file(lab_run.json_path)}"
    assert lines[3] == lab_run.pdf_path and lines[4] == f"sha384:{sha384_file(lab_run.pdf_path)}"


def test_bad_parameters_exit_non_zero_with_one_line_and_queue_nothing(tmp_path):
    env = {**os.environ, "DATABASE_URL": database_url(), "OEM_DATA_DIR": str(settings.OEM_DATA_DIR)}
    result = subprocess.run(
        [sys.executable, "manage.py", "run_risk_simulation_lab", "--scenario", "meteor_strike"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1
    assert "meteor_strike" in result.stderr
    assert not LabRun.objects.exists()


def test_a_lab_whose_worker_is_killed_mid_unit_completes_once_on_another_worker(workers):
    from jobs import services as job_services
    from jobs.models import Job, JobStatus
    from risklab import services
    from risklab.engine.lab import plan_tasks
    from tests.workers import wait_for

    first = workers(lease_seconds=3)
    plan = plan_tasks(
        profiles=["balanced"], scenarios=["baseline", "bootstrap"], strategies=["ema_crossover"], seed=5
    )
    lab_run = services.lab_run_start(actor=None, plan=plan)  # committed: the jobs are enqueued now
    # The first unit in a fresh worker includes the engine's JIT compilation: seconds of RUNNING to kill into.
    wait_for(
        lambda: Job.objects.filter(lab_unit__lab_run=lab_run, status=JobStatus.RUNNING).exists(),
        timeout=120,
        what="a unit to start",
        worker=first,
    )
    first.kill()
    lab_run.refresh_from_db()
    assert lab_run.status == LabRunStatus.RUNNING and not lab_run.json_path
    wait_for(lambda: job_services.job_sweep()["requeued"] >= 1, timeout=30, what="the lease to expire")
    second = workers(lease_seconds=120)
    wait_for(
        lambda: LabRun.objects.get(pk=lab_run.pk).status == LabRunStatus.SUCCEEDED,
        timeout=240,
        what="the lab to finish on the second worker",
        worker=second,
    )
    lab_run.refresh_from_db()
    assert Job.objects.filter(kind=services.ASSEMBLE_KIND).count() == 1
    assert max(lab_run.units.values_list("job__attempts", flat=True)) == 2
    assert sha384_file(lab_run.json_path) == lab_run.json_sha384
