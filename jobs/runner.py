"""Runs one claimed job: the context a handler sees, and the fencing that stops a worker without a lease."""

import logging
import time
from dataclasses import dataclass, field
from uuid import UUID

from . import services
from .models import Job
from .registry import get_kind

logger = logging.getLogger(__name__)


class LeaseLost(Exception):
    """Another worker owns the job now (or it was cancelled); this worker must stop without writing."""


@dataclass
class JobContext:
    job: Job
    token: UUID
    heartbeat_every: float = 0.5
    _last_beat: float = field(default=0.0, init=False)
    _last_progress: int = field(default=-1, init=False)

    @property
    def params(self) -> dict:
        return self.job.params

    def progress(self, percent: float) -> None:
        """Throttled: a changed percentage or an aging lease causes one UPDATE, not every call."""
        value = max(0, min(99, int(percent)))  # 100 is written only by success
        now = time.monotonic()
        if value == self._last_progress and now - self._last_beat < self.heartbeat_every:
            return
        if not services.job_heartbeat(job_id=self.job.pk, token=self.token, progress=value):
            raise LeaseLost(f"job {self.job.pk} lease lost")
        self._last_beat, self._last_progress = now, value

    def log(self, message: str) -> None:
        if not services.job_log(job_id=self.job.pk, token=self.token, message=message):
            raise LeaseLost(f"job {self.job.pk} lease lost")

    def add_result_file(self, *, name: str, path: str, size: int, sha384: str) -> None:
        if not services.job_add_result_file(
            job_id=self.job.pk, token=self.token, name=name, path=path, size=size, sha384=sha384
        ):
            raise LeaseLost(f"job {self.job.pk} lease lost")


def run_job(*, job_id: int, worker: str | None = None) -> str:
    """Claim, run and finish one job. Returns what happened, for the task result and the logs."""
    token = services.job_claim(job_id=job_id, worker=worker or services.worker_identity())
    if token is None:
        return "not-claimed"
    job = Job.objects.get(pk=job_id)
    ctx = JobContext(job=job, token=token)
    kind = get_kind(job.kind)
    try:
        ctx.log(f"attempt {job.attempts} started on {job.worker}")
        kind.handler(ctx)
    except LeaseLost:
        logger.warning("job %s: lease lost, stopping without finishing", job_id)
        return "lease-lost"
    except Exception as exc:  # a handler failure is the job's outcome, recorded, not a worker crash
        logger.exception("job %s failed", job_id)
        finished = services.job_fail(job_id=job_id, token=token, error=f"{type(exc).__name__}: {exc}")
        outcome = "failed"
    else:
        finished = services.job_succeed(job_id=job_id, token=token)
        outcome = "succeeded"
    if not finished:
        return "lease-lost"
    if kind.on_finish is not None:
        kind.on_finish(job_id)
    return outcome
