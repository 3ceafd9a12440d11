"""Console side of the runbook steps: the ``smoke_demo`` and ``live_dry_run`` job kinds.

The handlers call the same pure functions as the management commands (``execution.drills``), with the same
typed options, report progress, and record the report as the job's result file (path, size, SHA-384) so a
checklist can pick it as evidence. A failed check still records its report, then fails the job.

A job stores its options as a small JSON object (``{"cycles": 12}``, ``{"orders": 200, "fault_rate": 0.3,
"seed": 1}``); the dataclasses below read and write exactly that shape, so rows written before them stay
readable. Who may start one: ``runbook_job.start`` (execution/rules.py), asked before anything is written.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from audit.authorization import authorize
from audit.errors import Invalid
from audit.trust.cliutil import UsageError
from jobs.services import job_create

SMOKE_KIND = "smoke_demo"
DRY_RUN_KIND = "live_dry_run"


def _data_dir() -> Path:
    return Path(settings.OEM_DATA_DIR)


def _typed(cls, params: dict):
    """The options a job row holds, each of its declared type (a float field takes an int); anything else
    is refused with one line naming the field."""
    known = {field.name: field for field in dataclasses.fields(cls)}
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise ValueError(f"unknown option(s): {', '.join(unknown)}")
    values = {}
    for name, value in params.items():
        wanted = {"int": int, "float": float}[known[name].type]
        ok = isinstance(value, int) if wanted is int else isinstance(value, int | float)
        if isinstance(value, bool) or not ok:
            raise ValueError(f"option {name} must be a number ({known[name].type}), got {value!r}")
        values[name] = wanted(value)
    return cls(**values)


@dataclass(frozen=True)
class SmokeJobOptions:
    cycles: int = 12

    @classmethod
    def from_params(cls, params: dict) -> SmokeJobOptions:
        return _typed(cls, params)

    def params(self) -> dict:
        return dataclasses.asdict(self)

    def runbook_options(self, data_dir: Path | None = None):
        from execution.drills.smoke import SmokeOptions, validate

        options = SmokeOptions(cycles=self.cycles, data_dir=data_dir)
        validate(options)
        return options


@dataclass(frozen=True)
class DryRunJobOptions:
    orders: int = 200
    fault_rate: float = 0.3
    seed: int = 1

    @classmethod
    def from_params(cls, params: dict) -> DryRunJobOptions:
        return _typed(cls, params)

    def params(self) -> dict:
        return dataclasses.asdict(self)

    def runbook_options(self, data_dir: Path | None = None):
        from execution.drills.dry_run import DryRunOptions, validate

        options = DryRunOptions(
            orders=self.orders, fault_rate=self.fault_rate, seed=self.seed, data_dir=data_dir
        )
        validate(options)
        return options


def _record(ctx, result, what: str) -> None:
    data_size = result.path.stat().st_size
    ctx.add_result_file(name=result.path.name, path=str(result.path), size=data_size, sha384=result.sha384)
    ctx.log(f"report {result.path} sha384:{result.sha384}")
    if not result.passed:
        raise RuntimeError(f"{what} failed: {result.summary}")


def _runbook_options(job_options, data_dir: Path):
    try:
        return job_options.runbook_options(data_dir)
    except UsageError as exc:
        raise ValueError(str(exc)) from None


def smoke_demo_job(ctx) -> None:
    from execution.drills import smoke

    options = _runbook_options(SmokeJobOptions.from_params(ctx.params), _data_dir())
    ctx.progress(1)
    result = smoke.smoke(options, progress=ctx.progress, log=ctx.log)
    _record(ctx, result, "smoke_demo_strategies")


def live_dry_run_job(ctx) -> None:
    from execution.drills import dry_run

    options = _runbook_options(DryRunJobOptions.from_params(ctx.params), _data_dir())
    ctx.progress(1)
    result = dry_run.dry_run(options, progress=ctx.progress, log=ctx.log)
    _record(ctx, result, "live_execution_dry_run")


def _start(*, actor, kind: str, options, deployment):
    authorize(actor, "runbook_job.start", deployment=deployment)
    try:
        options.runbook_options()  # refused here, not discovered by a worker later
    except UsageError as exc:
        raise Invalid(str(exc)) from None
    return job_create(actor=actor, kind=kind, params=options.params(), deployment=deployment)


def smoke_demo_start(*, actor, deployment=None, options: SmokeJobOptions | None = None):
    return _start(actor=actor, kind=SMOKE_KIND, options=options or SmokeJobOptions(), deployment=deployment)


def live_dry_run_start(*, actor, deployment=None, options: DryRunJobOptions | None = None):
    return _start(
        actor=actor, kind=DRY_RUN_KIND, options=options or DryRunJobOptions(), deployment=deployment
    )
