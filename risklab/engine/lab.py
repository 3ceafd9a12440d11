"""A Paper Labs run: plan -> independent (profile x scenario) units -> assembled JSON + PDF report.

The split exists for the console: one Celery task per unit, each taking and returning plain JSON-able
dicts, then ``assemble`` on the gathered results. ``run_lab`` does the same thing inline.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from audit.trust.hashing import sha384_bytes, sha384_file
from risklab.engine import ENGINE_VERSION, report_pdf
from risklab.engine.data import SAMPLE_DATA, Bars, load_bars
from risklab.engine.engine import HALT_BAR, ExecutionModel, simulate
from risklab.engine.metrics import (
    FOLDING_RULES,
    WINDOW_KEYS,
    acceptance_checks,
    chart_series,
    combine_paths,
    path_metrics,
)
from risklab.engine.profiles import DEFAULT_CONFIG, PROFILE_NAMES, load_profiles, profile_from_mapping
from risklab.engine.report_json import (
    SCHEMA_ID,
    clean,
    identity_bytes,
    report_bytes,
    write_files_atomically,
)
from risklab.engine.scenarios import (
    PERTURBATIONS,
    SCENARIOS,
    MarketPath,
    ScenarioError,
    ScenarioResult,
    build_scenario,
)
from risklab.engine.strategies import STRATEGIES

PLAN_SCHEMA = "oem/paper-labs-plan/v2"
PROBE = "stress_probe"  # the profile's full position held through the stress window, limits active
_EPSILON = 1e-12  # monotonicity: differences below this are rounding, not an improvement
RULES = {
    "stop_fill": (
        "a stop triggers on the bar's low (long) or high (short); a bar that opens through the stop fills "
        "at its open (inside a flash crash: the crash price), otherwise at the stop price; then the "
        "scenario's slippage, impact and spread apply"
    ),
    "protective_exits": "daily loss limit and drawdown halt exit in full at the close, with slippage",
    "reentry": (
        "after a stop-loss or daily-loss-limit exit: the profile's reentry_cooldown_bars when set "
        "(re-enter at the current target that many bars later), otherwise only on a new signal"
    ),
    "sizing": (
        "orders sized at the decision close; each fill is capped so notional + fees stay within "
        "equity x position_fraction x leverage at the fill price (leverage 1 never borrows)"
    ),
    "dust": "a residual under 1e-9 of the position it is left from is settled at the fill price",
    "exercised": (
        "a stress row is exercised when the strategy held a position or traded inside the stress "
        "window; otherwise its status is not_exercised, never pass"
    ),
    "stress_probe": (
        "per profile and stress scenario: target 1 from the bar before the window to the bar before "
        "its end, limits active; the profile's verdict needs every probe row to pass"
    ),
    "monotonicity": (
        "flash_crash, dry_liquidity and latency_spike rows are compared with baseline (probe rows with "
        "the probe on the unstressed bars): a higher return or a shallower drawdown is flagged with the "
        "reason the engine recorded"
    ),
    "folding": FOLDING_RULES,
}
DEFAULT_SCENARIOS = tuple(SCENARIOS)

Progress = Callable[[int, int, str], None]


class LabError(ValueError):
    """A lab that cannot run or assemble; one line."""


@dataclass(frozen=True)
class LabResult:
    json_path: Path
    pdf_path: Path
    sha384s: dict[str, str]  # file name -> SHA-384 hex
    verdict: str  # "pass" | "fail"
    run_id: str


def default_out_dir() -> Path:
    return Path(os.environ.get("OEM_DATA_DIR", "./var")) / "reports" / "paper_labs"


def _ts_iso(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns / 1e9, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _selection(kind: str, wanted, known) -> list[str]:
    names = list(known) if wanted in (None, "all", ["all"], ("all",)) else list(wanted)
    if isinstance(wanted, str) and wanted != "all":
        names = [wanted]
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise LabError(f"unknown {kind} {', '.join(unknown) or '(none)'} (choose from {', '.join(known)})")
    return list(dict.fromkeys(names))


def plan_tasks(
    *,
    profiles="all",
    strategies="all",
    scenarios="all",
    data_paths=None,
    seed: int = 0,
    fees_bps: float | None = None,
    slippage_bps: float | None = None,
    config_path=None,
    manual_overrides: dict | None = None,
    execution: ExecutionModel | None = None,
) -> dict:
    """Validate everything up front and describe the lab as a JSON-able plan with one unit per
    (profile, scenario). ``scenarios`` may be names or a mapping name -> parameter overrides."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise LabError(f"seed must be a non-negative integer, got {seed!r}")
    profile_names = _selection("profile", profiles, PROFILE_NAMES)
    strategy_names = _selection("strategy", strategies, STRATEGIES)
    scenario_params = scenarios if isinstance(scenarios, dict) else None
    scenario_names = _selection(
        "scenario", list(scenario_params) if scenario_params else scenarios, SCENARIOS
    )
    config_path = Path(config_path) if config_path is not None else DEFAULT_CONFIG
    loaded = load_profiles(config_path, manual_overrides=manual_overrides, names=profile_names)
    profile_params = {name: p.with_costs(fees_bps, slippage_bps).params() for name, p in loaded.items()}
    paths = [Path(p) for p in (data_paths or [SAMPLE_DATA])]
    inputs = []
    for path in paths:
        bars = load_bars(path)  # validates now, so a bad file fails before any unit is queued
        inputs.append(
            {
                "name": bars.name,
                "path": str(path),
                "sha384": bars.sha384,
                "rows": len(bars),
                "bar_seconds": bars.bar_seconds,
                "first_timestamp": _ts_iso(int(bars.timestamp[0])),
                "last_timestamp": _ts_iso(int(bars.timestamp[-1])),
                "last_timestamp_ns": int(bars.timestamp[-1]),
            }
        )
        for name in scenario_names:  # a bad scenario parameter must also fail before anything runs
            build_scenario(name, bars, seed, (scenario_params or {}).get(name))
    if len({i["name"] for i in inputs}) != len(inputs):
        raise LabError("two data files share a file name; rename one so report rows stay unambiguous")
    return {
        "schema": PLAN_SCHEMA,
        "engine_version": ENGINE_VERSION,
        "seed": seed,
        "config": {"name": config_path.name, "sha384": sha384_file(config_path)},
        "inputs": inputs,
        "profiles": profile_params,
        "strategies": strategy_names,
        "scenarios": {name: dict((scenario_params or {}).get(name) or {}) for name in scenario_names},
        "execution": (execution or ExecutionModel()).params(),
        "overrides": {"fees_bps": fees_bps, "slippage_bps": slippage_bps, "manual": manual_overrides or {}},
        "units": [
            {"unit_id": f"{profile}/{scenario}", "profile": profile, "scenario": scenario}
            for profile in profile_names
            for scenario in scenario_names
        ],
    }


def _check_plan(plan: dict) -> None:
    # A lab planned (or half run) by an older engine has unit results in another shape: start it again.
    if plan.get("schema") != PLAN_SCHEMA:
        raise LabError(f"plan schema {plan.get('schema')!r} is not {PLAN_SCHEMA}; start the lab again")


def _load_checked(entry: dict) -> Bars:
    bars = load_bars(entry["path"])
    if bars.sha384 != entry["sha384"]:
        raise LabError(f"{entry['name']}: file changed since the lab was planned (SHA-384 differs)")
    return bars


_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def lab_threads() -> int:
    """Worker threads for simulations: ``RISKLAB_THREADS`` if set, else one per CPU."""
    return max(int(os.environ.get("RISKLAB_THREADS", "0") or 0) or (os.cpu_count() or 1), 1)


def _pool() -> ThreadPoolExecutor:
    """One process-wide pool: the numba kernels release the GIL, so profiles and paths run in parallel."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=lab_threads(), thread_name_prefix="risklab")
        return _POOL


_SCRATCH = threading.local()


def _scratch(name: str, n: int) -> np.ndarray:
    buffer = getattr(_SCRATCH, name, None)
    if buffer is None or buffer.shape[0] < n:
        buffer = np.empty(n)
        setattr(_SCRATCH, name, buffer)
    return buffer


def _simulate_job(path, target, profile, execution, keep_chart):
    # Returns and equity are reduced to metrics and a chart right here, so each worker thread reuses one
    # pair of scratch arrays instead of faulting in fresh memory for every simulation.
    n = len(path.bars)
    result = simulate(
        path,
        target,
        profile,
        execution,
        window=path.window,
        returns_buffer=_scratch("returns", n),
        equity_buffer=_scratch("equity", n),
    )
    chart = None
    if keep_chart:
        chart = {
            "path": path.label,
            **chart_series(result.equity, path.bars.timestamp),
            "window": _window_seconds(path),
            "halted_s": _bar_seconds(path, int(result.stats[HALT_BAR])),
        }
    return path_metrics(result, execution.capital), chart


def probe_target(n: int, window: tuple[int, int]) -> np.ndarray:
    """Full size from the close before the window to the close of its second-last bar: the position is
    held through every stressed bar and its exit is placed inside the window too (latency hits it)."""
    start, stop = window
    target = np.zeros(n)
    target[max(start - 1, 0) : max(stop - 1, start)] = 1.0
    return target


@dataclass
class PendingScenario:
    """Simulations of one scenario submitted to the pool; ``collect`` waits for them in submission order."""

    strategies: list[str]
    profiles: list
    paths: int
    futures: list
    references: dict  # profile name -> future of the probe on the unstressed bars

    def collect(self) -> dict[tuple[str, str], tuple[list[dict], dict | None]]:
        """(strategy, profile name) -> (metrics per path, chart of the first path: path label, equity and
        drawdown series, stress window and halt in UTC seconds); the probe's reference on unstressed bars
        under ("reference", profile name)."""
        out, index = {}, 0
        for name, future in self.references.items():
            out[("reference", name)] = ([future.result()[0]], None)
        for strategy_name in self.strategies:
            for profile in self.profiles:
                per_path, first_chart = [], None
                for k in range(self.paths):
                    metrics, chart = self.futures[index].result()
                    index += 1
                    per_path.append(metrics)
                    if k == 0:
                        first_chart = chart
                out[(strategy_name, profile.name)] = (per_path, first_chart)
        return out


def submit_scenario(
    scenario: ScenarioResult,
    strategies: list[str],
    profiles: list,
    execution: ExecutionModel,
    signals: dict | None = None,
    reference_bars: Bars | None = None,
) -> PendingScenario:
    """Queue every (strategy, profile, path) simulation of one scenario and return at once.

    Each strategy's signal is computed once per path and shared by every profile. ``signals`` caches them
    across scenarios of the same dataset: strategies are pure functions of ``bars.close``, and scenarios
    that leave prices alone share the very same close array, keyed here by identity (the caller keeps
    the scenarios, hence the arrays, alive while the cache is in use).

    A scenario with a stress window also runs the stress probe per profile; for a perturbation of the
    real bars, ``reference_bars`` (those real bars) give the probe's unstressed reference.
    """
    signals = {} if signals is None else signals
    pool = _pool()
    futures = []
    stressed = scenario.paths[0].window is not None
    names = [*strategies, PROBE] if stressed else list(strategies)
    for strategy_name in names:
        targets = []
        for path in scenario.paths:
            if strategy_name == PROBE:
                targets.append(probe_target(len(path.bars), path.window))
                continue
            key = (strategy_name, id(path.bars.close))
            if key not in signals:
                signals[key] = (path.bars.close, STRATEGIES[strategy_name](path.bars))  # pins the id
            targets.append(signals[key][1])
        for profile in profiles:
            for k, (path, target) in enumerate(zip(scenario.paths, targets, strict=True)):
                futures.append(pool.submit(_simulate_job, path, target, profile, execution, k == 0))
    references = {}
    if stressed and reference_bars is not None and scenario.name in PERTURBATIONS:
        window = scenario.paths[0].window
        n = len(reference_bars)
        real = MarketPath("reference", reference_bars, np.zeros(n), np.zeros(n, dtype=np.int64), window)
        target = probe_target(n, window)
        for profile in profiles:
            references[profile.name] = pool.submit(_simulate_job, real, target, profile, execution, False)
    return PendingScenario(names, list(profiles), len(scenario.paths), futures, references)


def run_units(plan: dict, units: list[dict]) -> list[dict]:
    """``run_unit`` for several units at once, sharing each (dataset, scenario)'s transform and signals
    across profiles and running the simulations in parallel; same results, in the order of ``units``."""
    _check_plan(plan)
    execution = ExecutionModel(**plan["execution"])
    profiles = {}
    for unit in units:
        name = unit["profile"]
        if name not in profiles:
            profiles[name] = profile_from_mapping(
                name, {k: v for k, v in plan["profiles"][name].items() if k != "name"}
            )
    scenario_names = list(dict.fromkeys(unit["scenario"] for unit in units))
    rows = {unit["unit_id"]: [] for unit in units}
    charts = {unit["unit_id"]: [] for unit in units}
    for entry in plan["inputs"]:
        bars = _load_checked(entry)
        signals: dict = {}
        pending = []
        for scenario_name in scenario_names:
            scenario = build_scenario(scenario_name, bars, plan["seed"], plan["scenarios"].get(scenario_name))
            wanted = [profiles[u["profile"]] for u in units if u["scenario"] == scenario_name]
            wanted = list({p.name: p for p in wanted}.values())
            pending.append(
                (scenario, submit_scenario(scenario, plan["strategies"], wanted, execution, signals, bars))
            )
        for scenario, job in pending:
            outcomes = job.collect()
            for unit in units:
                if unit["scenario"] != scenario.name:
                    continue
                profile = profiles[unit["profile"]]
                for strategy_name in job.strategies:
                    per_path, first_chart = outcomes[(strategy_name, profile.name)]
                    reference = outcomes.get(("reference", profile.name)) if strategy_name == PROBE else None
                    rows[unit["unit_id"]].append(
                        build_row(entry, strategy_name, profile, scenario, per_path, reference)
                    )
                    charts[unit["unit_id"]].append(
                        {
                            "dataset": entry["name"],
                            "strategy": strategy_name,
                            "profile": profile.name,
                            "scenario": scenario.name,
                            **first_chart,
                        }
                    )
    ids = [unit["unit_id"] for unit in units]
    return [{"unit_id": uid, "rows": rows[uid], "charts": charts[uid]} for uid in ids]


def _bar_seconds(path: MarketPath, bar: int) -> int | None:
    return None if bar < 0 else int(path.bars.timestamp[bar]) // 10**9


def _window_seconds(path: MarketPath) -> list[int] | None:
    if path.window is None:
        return None
    start, stop = path.window
    ts = path.bars.timestamp
    return [int(ts[start]) // 10**9, int(ts[stop - 1]) // 10**9]


def build_row(
    entry: dict, strategy_name: str, profile, scenario: ScenarioResult, per_path, reference
) -> dict:
    folded = combine_paths(per_path)
    metrics = {k: v for k, v in folded.items() if k not in WINDOW_KEYS}
    checks = acceptance_checks(metrics, profile.acceptance)
    exercise = None
    status = "pass" if all(check["pass"] for check in checks.values()) else "fail"
    if scenario.paths[0].window is not None:
        exercise = {k: folded[k] for k in WINDOW_KEYS}
        exercise["exercised"] = bool(folded["window_max_exposure"] > 0.0 or folded["window_turnover"] > 0.0)
        if not exercise["exercised"]:
            status = "not_exercised"
    row = {
        "dataset": entry["name"],
        "strategy": strategy_name,
        "profile": profile.name,
        "scenario": scenario.name,
        "paths": len(scenario.paths),
        "metrics": metrics,
        "exercise": exercise,
        "profile_params": profile.params(),
        "scenario_params": scenario.params,
        "acceptance": checks,
        "status": status,
        "pass": status == "pass",
        "flags": [],
    }
    if reference is not None:
        ref = reference[0][0]
        row["reference"] = {k: ref[k] for k in ("total_return", "max_drawdown", "cvar_99")}
    return row


def _flag_reason(row: dict) -> str:
    """Why a stress may look better than baseline, from what the engine counted on the stressed run."""
    metrics = row["metrics"]
    if row["exercise"] is not None and not row["exercise"]["exercised"]:
        return "not_exposed"
    if metrics["halts"] > 0:
        return "halted"
    if metrics["stops"] > 0:
        return "stopped_out"
    if metrics["daily_limit_exits"] > 0:
        return "daily_limit"
    return "no_limit_event"


def monotonicity_flags(rows: list[dict]) -> None:
    """Flag, in place, every perturbation row whose return is higher or drawdown shallower than its
    reference: the baseline row of the same (dataset, profile, strategy), or for the probe the probe
    on the unstressed bars."""
    baseline = {(r["dataset"], r["profile"], r["strategy"]): r for r in rows if r["scenario"] == "baseline"}
    for row in rows:
        if row["scenario"] not in PERTURBATIONS:
            continue
        if row["strategy"] == PROBE:
            ref = row.get("reference")
        else:
            base = baseline.get((row["dataset"], row["profile"], row["strategy"]))
            ref = base["metrics"] if base is not None else None
        if ref is None:
            continue
        flags = []
        stress = row["metrics"]
        if stress["total_return"] > ref["total_return"] + _EPSILON:
            flags.append({"metric": "total_return", "baseline": ref["total_return"]})
        if stress["max_drawdown"] < ref["max_drawdown"] - _EPSILON:
            flags.append({"metric": "max_drawdown", "baseline": ref["max_drawdown"]})
        reason = _flag_reason(row)
        row["flags"] = [{**flag, "stress": stress[flag["metric"]], "reason": reason} for flag in flags]


def run_unit(plan: dict, unit: dict) -> dict:
    """Simulate one (profile, scenario) for every dataset and strategy; returns a JSON-able dict."""
    return run_units(plan, [unit])[0]


def run_identity(plan: dict) -> tuple[str, str, str]:
    """(run id, report date, date source), all derived from the plan, never from the wall clock.

    The run id hashes parameters and input *hashes* (not paths), so the same data anywhere gives the
    same report. The date is SOURCE_DATE_EPOCH when set (reproducible builds), else the UTC date of the
    latest bar in the inputs.
    """
    identity = {key: plan[key] for key in ("engine_version", "seed", "config", "profiles", "strategies")}
    identity["scenarios"] = plan["scenarios"]
    identity["execution"] = plan["execution"]
    identity["inputs"] = [{"name": i["name"], "sha384": i["sha384"]} for i in plan["inputs"]]
    run_id = sha384_bytes(identity_bytes(identity))[:12]
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        try:
            day = dt.datetime.fromtimestamp(int(epoch), tz=dt.UTC).date()
        except ValueError:
            raise LabError(f"SOURCE_DATE_EPOCH={epoch!r} is not an integer") from None
        return run_id, day.isoformat(), "SOURCE_DATE_EPOCH"
    last = max(i["last_timestamp_ns"] for i in plan["inputs"])
    return run_id, dt.datetime.fromtimestamp(last / 1e9, tz=dt.UTC).date().isoformat(), "data_last_timestamp"


def build_report(plan: dict, unit_results: list[dict]) -> tuple[dict, list[dict]]:
    """Order rows as the plan does (not as workers finished) and compute the verdicts."""
    by_id = {result["unit_id"]: result for result in unit_results}
    expected = [unit["unit_id"] for unit in plan["units"]]
    missing = [unit_id for unit_id in expected if unit_id not in by_id]
    extra = sorted(set(by_id) - set(expected))
    if missing or extra:
        raise LabError(
            f"unit results do not match the plan (missing {missing or '-'}, unexpected {extra or '-'})"
        )
    rows = [row for unit_id in expected for row in by_id[unit_id]["rows"]]
    charts = [chart for unit_id in expected for chart in by_id[unit_id]["charts"]]
    monotonicity_flags(rows)
    profiles_summary = {}
    for name in plan["profiles"]:
        own = [row for row in rows if row["profile"] == name]
        probes = [row for row in own if row["strategy"] == PROBE]
        failed = sum(1 for row in own if row["status"] == "fail")
        # A probe that was not exercised proves nothing either: the profile needs every probe to pass.
        probes_failed = sum(1 for row in probes if row["status"] != "pass")
        profiles_summary[name] = {
            "rows": len(own),
            "failed": failed,
            "not_exercised": sum(1 for row in own if row["status"] == "not_exercised"),
            "probe_rows": len(probes),
            "probe_failed": probes_failed,
            "flags": sum(len(row["flags"]) for row in own),
            "verdict": "fail" if failed or probes_failed else "pass",
        }
    verdict = (
        "pass"
        if rows and all(summary["verdict"] == "pass" for summary in profiles_summary.values())
        else "fail"
    )
    run_id, report_date, date_source = run_identity(plan)
    report = {
        "schema": SCHEMA_ID,
        "run_id": run_id,
        "report_date": report_date,
        "date_source": date_source,
        "engine_version": plan["engine_version"],
        "seed": plan["seed"],
        "inputs": [
            {k: v for k, v in i.items() if k not in ("path", "last_timestamp_ns")} for i in plan["inputs"]
        ],
        "config": plan["config"],
        "parameters": {
            "profiles": plan["profiles"],
            "strategies": plan["strategies"],
            "scenarios": plan["scenarios"],
            "execution": plan["execution"],
            "overrides": plan["overrides"],
            "rules": RULES,
        },
        "rows": rows,
        "summary": {
            "profiles": profiles_summary,
            "rows": len(rows),
            "failed": sum(r["status"] == "fail" for r in rows),
            "not_exercised": sum(r["status"] == "not_exercised" for r in rows),
            "flags": sum(len(r["flags"]) for r in rows),
            "flagged_rows": sum(bool(r["flags"]) for r in rows),
        },
        "verdict": verdict,
    }
    return report, charts


def assemble(plan: dict, unit_results: list[dict], out_dir=None) -> LabResult:
    """Write ``<out>/<date>-<run id>.json`` and ``.pdf`` together, or neither."""
    _check_plan(plan)
    report, charts = build_report(plan, unit_results)
    json_data = report_bytes(report)
    # The PDF is drawn from the same rounded numbers as the JSON, so a fanned-out lab (whose unit results
    # travelled through storage) renders the very same bytes as an inline one.
    pdf_data = report_pdf.render_pdf(clean(report), clean(charts))
    out = Path(out_dir) if out_dir is not None else default_out_dir()
    stem = f"{report['report_date']}-{report['run_id']}"
    json_path, pdf_path = out / f"{stem}.json", out / f"{stem}.pdf"
    write_files_atomically([(json_path, json_data), (pdf_path, pdf_data)])
    return LabResult(
        json_path=json_path,
        pdf_path=pdf_path,
        sha384s={json_path.name: sha384_file(json_path), pdf_path.name: sha384_file(pdf_path)},
        verdict=report["verdict"],
        run_id=report["run_id"],
    )


def run_lab(
    *,
    profiles="all",
    strategies="all",
    scenarios="all",
    data_paths=None,
    seed: int = 0,
    fees_bps: float | None = None,
    slippage_bps: float | None = None,
    out_dir=None,
    progress: Progress | None = None,
    config_path=None,
    manual_overrides: dict | None = None,
    execution: ExecutionModel | None = None,
) -> LabResult:
    """Plan, run every unit inline, assemble. Raises before writing anything on bad inputs."""
    try:
        plan = plan_tasks(
            profiles=profiles,
            strategies=strategies,
            scenarios=scenarios,
            data_paths=data_paths,
            seed=seed,
            fees_bps=fees_bps,
            slippage_bps=slippage_bps,
            config_path=config_path,
            manual_overrides=manual_overrides,
            execution=execution,
        )
    except ScenarioError as exc:
        raise LabError(f"scenario {exc}") from None
    total = len(plan["units"])
    results = []
    if progress:
        progress(0, total, "planned")
    # One batch per scenario: its transform and signals are shared by every profile, and the profiles'
    # simulations run in parallel. The report orders rows by the plan, not by completion.
    by_scenario: dict[str, list[dict]] = {}
    for unit in plan["units"]:
        by_scenario.setdefault(unit["scenario"], []).append(unit)
    done = 0
    for batch in by_scenario.values():
        for result in run_units(plan, batch):
            results.append(result)
            done += 1
            if progress:
                progress(done, total, result["unit_id"])
    return assemble(plan, results, out_dir)
