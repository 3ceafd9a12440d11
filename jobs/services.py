"""Writes for jobs: create, claim by conditional UPDATE, heartbeat, finish, sweep expired leases.

The actions a person starts (hash an upload, cancel, re-check the audit trail, attach a job's result as
evidence) are authorized first (jobs/rules.py). `job_create` is the building block behind every job: its
callers authorized the action they start (a lab, a bundle build, a runbook step) before they call it, and
`actor` is `None` only for the server itself (beat, a worker, a management command)."""

import logging
import os
import socket
from datetime import timedelta
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from audit.authorization import authorize
from audit.errors import Conflict, Invalid, NotFound
from audit.services import audit_event_record

from .models import Job, JobLogLine, JobResultFile, JobStatus, new_lease_token
from .registry import get_kind, sweep_hooks

logger = logging.getLogger(__name__)


def worker_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _lease_deadline():
    return timezone.now() + timedelta(seconds=settings.OEM_JOB_LEASE_SECONDS)


@transaction.atomic
def job_create(*, actor, kind: str, params: dict | None = None, deployment=None) -> Job:
    """Create a job row and wake a worker once the row is committed (never before: it could not see it)."""
    get_kind(kind)  # unknown kinds are refused here, not discovered by a worker later
    job = Job.objects.create(
        kind=kind,
        params=params or {},
        deployment=deployment,
        created_by=actor,
        max_attempts=settings.OEM_JOB_MAX_ATTEMPTS,
    )
    audit_event_record(
        action="job.create",
        actor=actor,
        object_type="job",
        object_id=job.pk,
        deployment=deployment,
        detail={"kind": kind},
    )
    transaction.on_commit(lambda: job_enqueue(job_id=job.pk))
    return job


@transaction.atomic
def audit_trail_check_start(*, actor) -> Job:
    """The full audit-trail re-check as a job, on demand (beat starts the nightly one with `job_create`)."""
    from .kinds import AUDIT_TRAIL_CHECK_KIND

    authorize(actor, "job.audit_trail_check")
    return job_create(actor=actor, kind=AUDIT_TRAIL_CHECK_KIND)


def job_enqueue(*, job_id: int) -> None:
    """Send the wake-up message. Failure to reach the broker is logged; the sweeper will retry."""
    from .tasks import run_job

    try:
        run_job.delay(job_id)
    except Exception:
        logger.exception("could not reach the broker for job %s; the sweeper will re-enqueue it", job_id)
        return
    Job.objects.filter(pk=job_id).update(enqueued_at=timezone.now())


def job_claim(*, job_id: int, worker: str) -> UUID | None:
    """Take the job if it is queued or its lease expired. Exactly one concurrent caller wins."""
    now = timezone.now()
    token = new_lease_token()
    claimable = Q(status=JobStatus.QUEUED) | Q(status=JobStatus.RUNNING, lease_expires_at__lt=now)
    with transaction.atomic():
        won = (
            Job.objects.filter(claimable, pk=job_id, attempts__lt=F("max_attempts")).update(
                status=JobStatus.RUNNING,
                lease_token=token,
                lease_expires_at=_lease_deadline(),
                worker=worker,
                attempts=F("attempts") + 1,
                started_at=now,
                progress=0,
                error="",
            )
            == 1
        )
        if not won:
            return None
        # Anything an earlier, interrupted attempt registered is discarded: results come from one attempt.
        JobResultFile.objects.filter(job_id=job_id).delete()
    return token


def _held(job_id: int, token: UUID):
    return Job.objects.filter(pk=job_id, lease_token=token, status=JobStatus.RUNNING)


def job_heartbeat(*, job_id: int, token: UUID, progress: int | None = None) -> bool:
    """Extend the lease (and record progress). False means the lease was lost: stop working."""
    fields = {"lease_expires_at": _lease_deadline()}
    if progress is not None:
        fields["progress"] = max(0, min(100, int(progress)))
    return _held(job_id, token).update(**fields) == 1


def job_log(*, job_id: int, token: UUID, message: str) -> bool:
    job = _held(job_id, token).only("attempts").first()
    if job is None:
        return False
    JobLogLine.objects.create(job_id=job_id, attempt=job.attempts, message=message[:1000])
    return True


def job_add_result_file(*, job_id: int, token: UUID, name: str, path: str, size: int, sha384: str) -> bool:
    with transaction.atomic():
        if not _held(job_id, token).select_for_update().exists():
            return False
        JobResultFile.objects.create(job_id=job_id, name=name, path=path, size=size, sha384=sha384)
    return True


def job_succeed(*, job_id: int, token: UUID) -> bool:
    with transaction.atomic():
        done = (
            _held(job_id, token).update(
                status=JobStatus.SUCCEEDED,
                progress=100,
                finished_at=timezone.now(),
                lease_token=None,
                lease_expires_at=None,
            )
            == 1
        )
        if done:
            job = Job.objects.get(pk=job_id)
            audit_event_record(
                action="job.succeed",
                actor=job.created_by,
                object_type="job",
                object_id=job_id,
                deployment=job.deployment,
                detail={"kind": job.kind, "attempts": job.attempts},
            )
    return done


def job_fail(*, job_id: int, token: UUID, error: str) -> bool:
    with transaction.atomic():
        done = (
            _held(job_id, token).update(
                status=JobStatus.FAILED,
                finished_at=timezone.now(),
                error=error[:2000],
                lease_token=None,
                lease_expires_at=None,
            )
            == 1
        )
        if done:
            job = Job.objects.get(pk=job_id)
            audit_event_record(
                action="job.fail",
                actor=job.created_by,
                outcome="error",
                object_type="job",
                object_id=job_id,
                deployment=job.deployment,
                detail={"kind": job.kind, "error": error[:200]},
            )
    return done


def job_sweep() -> dict[str, int]:
    """Periodic: requeue jobs whose worker vanished, fail those out of attempts, re-wake lost messages."""
    now = timezone.now()
    expired = Job.objects.filter(status=JobStatus.RUNNING, lease_expires_at__lt=now)
    exhausted = expired.filter(attempts__gte=F("max_attempts")).update(
        status=JobStatus.FAILED,
        finished_at=now,
        error="lease expired and no attempts remain (worker lost)",
        lease_token=None,
        lease_expires_at=None,
    )
    requeue_ids = list(expired.filter(attempts__lt=F("max_attempts")).values_list("pk", flat=True))
    stale_before = now - timedelta(seconds=settings.OEM_JOB_REQUEUE_QUEUED_AFTER_SECONDS)
    requeue_ids += list(
        Job.objects.filter(status=JobStatus.QUEUED)
        .filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=stale_before))
        .values_list("pk", flat=True)
    )
    # Running jobs stay RUNNING with their expired lease: job_claim takes them over atomically, so a
    # zombie worker that wakes up can no longer write (its token no longer matches).
    for job_id in requeue_ids:
        job_enqueue(job_id=job_id)
    result = {"requeued": len(requeue_ids), "failed": exhausted}
    for hook in sweep_hooks():
        for key, value in hook().items():
            result[key] = result.get(key, 0) + value
    return result


@transaction.atomic
def job_cancel(*, actor, job: Job) -> bool:
    """Cancel a queued or running job; False when it had already finished."""
    authorize(actor, "job.cancel", job=job)
    cancelled = (
        Job.objects.filter(pk=job.pk, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).update(
            status=JobStatus.CANCELLED, finished_at=timezone.now(), lease_token=None, lease_expires_at=None
        )
        == 1
    )
    if cancelled:
        audit_event_record(
            action="job.cancel",
            actor=actor,
            object_type="job",
            object_id=job.pk,
            deployment=job.deployment,
            detail={"kind": job.kind},
        )
    return cancelled


def _safe_name(name: str) -> str:
    base = os.path.basename(name or "").strip().replace("\x00", "")
    cleaned = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in base)[:120]
    return cleaned.lstrip(".") or "artefact"


def artefact_hash_start(*, actor, uploaded_file, deployment=None) -> Job:
    """Store an upload (within the per-file cap and the deployment's quota) under the data directory and
    start a job that hashes it. If the job cannot be created, the stored file is removed: nothing is left
    half-registered."""
    import uuid
    from pathlib import Path

    from audit.uploads import JOB_UPLOAD_FOLDER, discard_upload, job_upload_owner, store_upload

    authorize(actor, "job.hash_artefact")

    relative = Path(JOB_UPLOAD_FOLDER) / job_upload_owner(deployment) / uuid.uuid4().hex
    relative /= _safe_name(uploaded_file.name)
    target = Path(settings.MEDIA_ROOT) / relative
    store_upload(uploaded_file, target, deployment=deployment)
    try:
        return job_create(
            actor=actor,
            kind="hash_artefact",
            params={"path": str(relative), "name": _safe_name(uploaded_file.name)},
            deployment=deployment,
        )
    except BaseException:
        discard_upload(target)
        raise


def job_result_path(result: JobResultFile):
    """Where a result file is: job uploads are stored relative to MEDIA_ROOT, reports by absolute path."""
    from pathlib import Path

    path = Path(result.path)
    return path if path.is_absolute() else Path(settings.MEDIA_ROOT) / path


def job_result_attach(
    *, actor, deployment, checklist_id: str, step_id: str, name: str, result: JobResultFile
):
    """Attach a file a finished job produced (a hashed upload, a report) to a checklist step instead of
    uploading it again. Who may is the step's `checklist.attach` rule; the file is hashed again on arrival
    and must still match the hash its job recorded. Every refusal comes before the checklist is opened."""
    from django.core.files import File

    from audit.runbooks.model import RunbookError
    from audit.runbooks.model import checklist as checklist_definition
    from audit.services import checklist_attach
    from audit.trust.hashing import sha384_file

    try:
        step = checklist_definition(checklist_id).step(step_id)
    except (RunbookError, KeyError):
        raise NotFound("no such step") from None
    authorize(actor, "checklist.attach", checklist_id=checklist_id, step_id=step_id, deployment=deployment)
    if not any(artefact.name == name and artefact.hash for artefact in step.artefacts):
        raise Invalid(f"step {step_id} has no file artefact named {name}")
    path = job_result_path(result)
    if not path.is_file() or sha384_file(path) != result.sha384:
        raise Conflict(f"{result.name} no longer matches the SHA-384 its job recorded")
    with open(path, "rb") as handle:
        return checklist_attach(
            actor=actor,
            deployment=deployment,
            checklist_id=checklist_id,
            step_id=step_id,
            name=name,
            uploaded=File(handle, name=result.name),
        )


def _job_upload_orphans(now: float) -> list:
    from pathlib import Path

    from audit.services.upload_sweep import stale
    from audit.uploads import JOB_UPLOAD_FOLDER

    root = Path(settings.MEDIA_ROOT) / JOB_UPLOAD_FOLDER
    if not root.is_dir():
        return []
    referenced = set(Job.objects.filter(kind="hash_artefact").values_list("params__path", flat=True))
    referenced |= set(JobResultFile.objects.values_list("path", flat=True))
    orphans = []
    for folder, _dirs, files in os.walk(root):
        for name in files:
            path = Path(folder) / name
            relative = path.relative_to(settings.MEDIA_ROOT).as_posix()
            if relative not in referenced and not path.is_symlink() and stale(path, now):
                orphans.append(path)
    return orphans


def upload_sweep(*, actor=None) -> dict[str, int]:
    """Remove uploaded files no row refers to (past the grace period), in the evidence folders and in the
    job uploads; one audit event says how many went."""
    import time
    from pathlib import Path

    from audit.services.upload_sweep import evidence_upload_sweep, remove_orphan
    from audit.uploads import JOB_UPLOAD_FOLDER

    now = time.time()
    evidence = evidence_upload_sweep(now)
    job_uploads = 0
    for orphan in _job_upload_orphans(now):
        remove_orphan(orphan, Path(settings.MEDIA_ROOT) / JOB_UPLOAD_FOLDER)
        job_uploads += 1
    result = {"evidence_uploads": evidence, "job_uploads": job_uploads}
    if evidence or job_uploads:
        audit_event_record(action="uploads.sweep", actor=actor, object_type="uploads", detail=result)
    return result
