"""Thin Celery tasks: they take ids and call services."""

from celery import shared_task

from . import runner, services
from .kinds import AUDIT_TRAIL_CHECK_KIND


@shared_task(name="jobs.tasks.run_job", ignore_result=False)
def run_job(job_id: int) -> str:
    return runner.run_job(job_id=job_id)


@shared_task(name="jobs.tasks.sweep_jobs")
def sweep_jobs() -> dict:
    return services.job_sweep()


@shared_task(name="jobs.tasks.sweep_uploads")
def sweep_uploads() -> int:
    """Beat only enqueues: the sweep runs as a job (its row, log and audit trail like any other)."""
    return services.job_create(actor=None, kind="sweep_uploads").pk


@shared_task(name="jobs.tasks.audit_trail_nightly_check")
def audit_trail_nightly_check() -> int:
    return services.job_create(actor=None, kind=AUDIT_TRAIL_CHECK_KIND).pk
