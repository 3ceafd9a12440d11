"""Paper Labs writes: dataset registration, lab runs fanned out as one job per (profile × scenario),
and the single assembly that turns gathered unit results into the JSON + PDF report.

`actor` is the person acting; `None` only for the server itself (a management command or a worker), which
has no rule to pass. Every other caller is authorized (risklab/rules.py) before anything is written."""

import datetime as dt
import json
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.authorization import authorize
from audit.errors import Conflict, Invalid
from audit.services import audit_event_record
from audit.trust.canonical import strict_loads
from audit.trust.fsutil import atomic_write_bytes
from audit.trust.hashing import sha384_bytes, sha384_file
from jobs.models import Job, JobStatus
from jobs.services import job_create
from risklab.engine import lab as engine_lab
from risklab.engine.data import load_bars

from .models import Dataset, LabRun, LabRunStatus, LabRunUnit

UNIT_KIND = "paper_labs_unit"
ASSEMBLE_KIND = "paper_labs_assemble"


def reports_dir() -> Path:
    return Path(settings.OEM_DATA_DIR) / "reports" / "paper_labs"


def unit_results_dir(lab_run_id: int) -> Path:
    return Path(settings.OEM_DATA_DIR) / "jobs" / "paper_labs" / str(lab_run_id)


def _ns_to_datetime(ns: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ns / 1e9, tz=dt.UTC)


@transaction.atomic
def dataset_register(*, actor, path: str | Path) -> Dataset:
    """Validate the file (raises MarketDataError with file, row and rule) and record it by hash."""
    if actor is not None:
        authorize(actor, "dataset.register")
    bars = load_bars(path)  # validation happens before anything is written
    dataset, created = Dataset.objects.get_or_create(
        path=str(Path(path).resolve()),
        sha384=bars.sha384,
        defaults={
            "name": bars.name,
            "rows": len(bars),
            "bar_seconds": bars.bar_seconds,
            "first_timestamp": _ns_to_datetime(int(bars.timestamp[0])),
            "last_timestamp": _ns_to_datetime(int(bars.timestamp[-1])),
            "registered_by": actor,
        },
    )
    if created:
        audit_event_record(
            action="dataset.register",
            actor=actor,
            object_type="dataset",
            object_id=dataset.pk,
            detail={"name": dataset.name, "sha384": dataset.sha384, "rows": dataset.rows},
        )
    return dataset


@transaction.atomic
def lab_run_start(*, actor, plan: dict, deployment=None) -> LabRun:
    """Record the plan and queue one job per unit; the jobs are enqueued when this commits."""
    if actor is not None:
        authorize(actor, "lab_run.start")
    lab_run = LabRun.objects.create(plan=plan, created_by=actor, deployment=deployment)
    for unit in plan["units"]:
        job = job_create(
            actor=actor,
            kind=UNIT_KIND,
            params={"lab_run": lab_run.pk, "unit_id": unit["unit_id"]},
            deployment=deployment,
        )
        LabRunUnit.objects.create(lab_run=lab_run, unit_id=unit["unit_id"], job=job)
    audit_event_record(
        action="paper_labs.start",
        actor=actor,
        object_type="lab_run",
        object_id=lab_run.pk,
        deployment=deployment,
        detail={"units": len(plan["units"]), "seed": plan["seed"], "profiles": sorted(plan["profiles"])},
    )
    return lab_run


def run_unit_job(ctx) -> None:
    """Job handler: compute one unit and store its result as a hashed file of this attempt."""
    lab_run = LabRun.objects.get(pk=ctx.params["lab_run"])
    unit = next(u for u in lab_run.plan["units"] if u["unit_id"] == ctx.params["unit_id"])
    ctx.progress(5)
    result = engine_lab.run_unit(lab_run.plan, unit)
    # An intermediate, not evidence: exact float round-trip matters (the gathered report must equal an
    # inline run's byte for byte), and its SHA-384 is recorded so assembly detects any change.
    data = json.dumps(result, sort_keys=True, allow_nan=False, separators=(",", ":")).encode()
    target = unit_results_dir(lab_run.pk) / f"{unit['unit_id'].replace('/', '__')}.json"
    atomic_write_bytes(target, data)
    ctx.add_result_file(name=target.name, path=str(target), size=len(data), sha384=sha384_bytes(data))


def lab_run_maybe_assemble(*, lab_run_id: int) -> bool:
    """Queue the assembly exactly once, when every unit succeeded; fail the run if any unit failed."""
    with transaction.atomic():
        lab_run = LabRun.objects.select_for_update().get(pk=lab_run_id)
        if lab_run.status != LabRunStatus.RUNNING:
            return False
        statuses = set(Job.objects.filter(lab_unit__lab_run=lab_run).values_list("status", flat=True))
        if statuses & {JobStatus.FAILED, JobStatus.CANCELLED}:
            lab_run.status = LabRunStatus.FAILED
            lab_run.error = "a unit failed or was cancelled; no report was written"
            lab_run.finished_at = timezone.now()
            lab_run.save(update_fields=["status", "error", "finished_at"])
            audit_event_record(
                action="paper_labs.fail",
                actor=lab_run.created_by,
                outcome="error",
                object_type="lab_run",
                object_id=lab_run.pk,
                deployment=lab_run.deployment,
            )
            return False
        if statuses != {JobStatus.SUCCEEDED}:
            return False
        lab_run.assemble_job = job_create(
            actor=lab_run.created_by,
            kind=ASSEMBLE_KIND,
            params={"lab_run": lab_run.pk},
            deployment=lab_run.deployment,
        )
        lab_run.status = LabRunStatus.ASSEMBLING
        lab_run.save(update_fields=["assemble_job", "status"])
    return True


def gathered_unit_results(lab_run: LabRun) -> list[dict]:
    """Unit results, each checked against the SHA-384 recorded when its job finished."""
    results = []
    for unit in lab_run.units.select_related("job"):
        files = list(unit.job.result_files.all())
        if len(files) != 1:
            raise ValueError(f"unit {unit.unit_id} has {len(files)} result files, expected 1")
        stored = Path(files[0].path)
        data = stored.read_bytes()
        if sha384_bytes(data) != files[0].sha384:
            raise ValueError(f"unit {unit.unit_id} result changed after it was recorded (SHA-384 differs)")
        results.append(strict_loads(data))
    return results


def assemble_job(ctx) -> None:
    """Job handler: write the report (deterministic bytes, so a retried assembly rewrites the same
    files) and register it on the run once."""
    lab_run = LabRun.objects.get(pk=ctx.params["lab_run"])
    ctx.progress(10)
    result = engine_lab.assemble(lab_run.plan, gathered_unit_results(lab_run), out_dir=reports_dir())
    ctx.progress(90)
    for path in (result.json_path, result.pdf_path):
        ctx.add_result_file(
            name=path.name, path=str(path), size=path.stat().st_size, sha384=result.sha384s[path.name]
        )
    with transaction.atomic():
        registered = LabRun.objects.filter(pk=lab_run.pk, status=LabRunStatus.ASSEMBLING).update(
            status=LabRunStatus.SUCCEEDED,
            run_id=result.run_id,
            verdict=result.verdict,
            json_path=str(result.json_path),
            json_sha384=result.sha384s[result.json_path.name],
            pdf_path=str(result.pdf_path),
            pdf_sha384=result.sha384s[result.pdf_path.name],
            finished_at=timezone.now(),
        )
        if registered:
            audit_event_record(
                action="paper_labs.report",
                actor=lab_run.created_by,
                object_type="lab_run",
                object_id=lab_run.pk,
                deployment=lab_run.deployment,
                detail={
                    "verdict": result.verdict,
                    "json_sha384": result.sha384s[result.json_path.name],
                    "pdf_sha384": sha384_file(result.pdf_path),
                },
            )


def on_unit_finished(job_id: int) -> None:
    lab_run_id = LabRunUnit.objects.filter(job_id=job_id).values_list("lab_run_id", flat=True).first()
    if lab_run_id is not None:
        lab_run_maybe_assemble(lab_run_id=lab_run_id)


def on_assemble_finished(job_id: int) -> None:
    job = Job.objects.get(pk=job_id)
    if job.status == JobStatus.FAILED:
        LabRun.objects.filter(assemble_job_id=job_id, status=LabRunStatus.ASSEMBLING).update(
            status=LabRunStatus.FAILED, error=job.error, finished_at=timezone.now()
        )


def lab_run_sweep() -> dict:
    """Reach the same outcome as the finish hooks when a worker died between finishing and hooking."""
    advanced = 0
    for lab_run_id in LabRun.objects.filter(status=LabRunStatus.RUNNING).values_list("pk", flat=True):
        advanced += lab_run_maybe_assemble(lab_run_id=lab_run_id)
    for job_id in LabRun.objects.filter(
        status=LabRunStatus.ASSEMBLING, assemble_job__status=JobStatus.FAILED
    ).values_list("assemble_job_id", flat=True):
        on_assemble_finished(job_id)
    return {"lab_runs_advanced": advanced}


PAPER_LABS_ARTEFACTS = ("paper_labs_report_json", "paper_labs_report_pdf")


def lab_report_attach(*, actor, lab_run: LabRun, checklist_id: str) -> list:
    """Attach a finished run's JSON and PDF to the checklist step that asks for Paper Labs reports; the files
    are copied into the deployment's evidence and hashed again on arrival (they must still match the run).
    Who may is the step's `checklist.attach` rule; every refusal comes before the checklist is opened."""
    from django.core.files import File

    from audit.runbooks.model import RunbookError
    from audit.runbooks.model import checklist as checklist_definition
    from audit.services import checklist_attach

    if lab_run.status != LabRunStatus.SUCCEEDED or lab_run.deployment is None:
        raise Invalid("only a finished lab run of a deployment can be attached")
    try:
        definition = checklist_definition(checklist_id)
    except RunbookError as exc:
        raise Invalid(str(exc)) from None
    step = next(
        (s for s in definition.steps if {a.name for a in s.artefacts} >= set(PAPER_LABS_ARTEFACTS)), None
    )
    if step is None:
        raise Invalid(f"checklist {checklist_id} has no step for Paper Labs reports")
    # Who may attach is asked before the run's files are read.
    authorize(
        actor, "checklist.attach", checklist_id=checklist_id, step_id=step.id, deployment=lab_run.deployment
    )
    reports = (
        ("paper_labs_report_json", Path(lab_run.json_path), lab_run.json_sha384),
        ("paper_labs_report_pdf", Path(lab_run.pdf_path), lab_run.pdf_sha384),
    )
    for _name, path, recorded in reports:
        if not path.is_file() or sha384_file(path) != recorded:
            raise Conflict(f"{path.name} no longer matches the hash recorded for this run")
    attached = []
    for name, path, _recorded in reports:
        with open(path, "rb") as handle:
            # Hashed again on arrival: a file changed since the check above is recorded as what arrived.
            attached.append(
                checklist_attach(
                    actor=actor,
                    deployment=lab_run.deployment,
                    checklist_id=checklist_id,
                    step_id=step.id,
                    name=name,
                    uploaded=File(handle, name=path.name),
                )
            )
    return attached
