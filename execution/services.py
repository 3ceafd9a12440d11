"""Console side of the runbook steps: the ``smoke_demo`` and ``live_dry_run`` job kinds.

The handlers call the same pure functions as the management commands (``execution.runbook``), report
progress, and record the report as the job's result file (path, size, SHA-384) so a checklist can pick it
as evidence. A failed check still records its report, then fails the job.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from audit.trust.cliutil import UsageError
from jobs.services import job_create

SMOKE_KIND = "smoke_demo"
DRY_RUN_KIND = "live_dry_run"
SMOKE_DEFAULTS = {"cycles": 12}
DRY_RUN_DEFAULTS = {"orders": 200, "fault_rate": 0.3, "seed": 1}


def _data_dir() -> Path:
    return Path(settings.OEM_DATA_DIR)


def _args(parser, argv: list[str]):
    try:
        return parser.parse_args(argv)
    except UsageError as exc:
        raise ValueError(str(exc)) from None


def _record(ctx, result, what: str) -> None:
    data_size = result.path.stat().st_size
    ctx.add_result_file(name=result.path.name, path=str(result.path), size=data_size, sha384=result.sha384)
    ctx.log(f"report {result.path} sha384:{result.sha384}")
    if not result.passed:
        raise RuntimeError(f"{what} failed: {result.summary}")


def smoke_demo_job(ctx) -> None:
    from execution.runbook import smoke

    params = {**SMOKE_DEFAULTS, **ctx.params}
    args = _args(smoke._parser(), ["--cycles", str(int(params["cycles"])), "--data-dir", str(_data_dir())])
    try:
        smoke.validate(args, None)
    except UsageError as exc:
        raise ValueError(str(exc)) from None
    ctx.progress(1)
    result = smoke.smoke(args, progress=ctx.progress, log=ctx.log)
    _record(ctx, result, "smoke_demo_strategies")


def live_dry_run_job(ctx) -> None:
    from execution.runbook import dry_run

    params = {**DRY_RUN_DEFAULTS, **ctx.params}
    argv = [
        "--orders", str(int(params["orders"])),
        "--fault-rate", str(float(params["fault_rate"])),
        "--seed", str(int(params["seed"])),
        "--data-dir", str(_data_dir()),
    ]  # fmt: skip
    args = _args(dry_run._parser(), argv)
    try:
        dry_run.validate(args)
    except UsageError as exc:
        raise ValueError(str(exc)) from None
    ctx.progress(1)
    result = dry_run.dry_run(args, progress=ctx.progress, log=ctx.log)
    _record(ctx, result, "live_execution_dry_run")


def smoke_demo_start(*, user=None, deployment=None, cycles: int = SMOKE_DEFAULTS["cycles"]):
    return job_create(kind=SMOKE_KIND, params={"cycles": int(cycles)}, deployment=deployment, created_by=user)


def live_dry_run_start(
    *,
    user=None,
    deployment=None,
    orders: int = DRY_RUN_DEFAULTS["orders"],
    fault_rate: float = DRY_RUN_DEFAULTS["fault_rate"],
    seed: int = DRY_RUN_DEFAULTS["seed"],
):
    params = {"orders": int(orders), "fault_rate": float(fault_rate), "seed": int(seed)}
    return job_create(kind=DRY_RUN_KIND, params=params, deployment=deployment, created_by=user)
