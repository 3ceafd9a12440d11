"""Paper Labs throughput: the full engine vs a bare fused numba kernel, and vs vectorbt, on the same bars.

Run: .venv/bin/python bench/risklab.py [--bars N] [--seed S] [--quick]
The lab part is 4 profiles x 4 scenarios (baseline, flash_crash, dry_liquidity, latency_spike) with one
strategy plus the stress probes (one per profile and stressed scenario, and its unstressed reference),
including scenario transforms, strategy signals, metrics and chart series; every simulated bar counts as
a bar-step. Compile time is excluded by a warm-up on a small slice.

vectorbt part: one simulation of the same strategy on the same bars with limits, costs and the
participation cap off, in this process, by Paper Labs (simulate + metrics, one thread, on scratch arrays
reused as a lab worker reuses them) and by vectorbt (Portfolio.from_orders at the same target fractions +
value, returns, total return, max drawdown); both equity curves are compared so the two runs are the
same simulation.

``--quick``: 200,000 bars, one timed run, no vectorbt (importing it and compiling its kernels on a fresh
environment take longer than the whole quick run).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from numba import njit  # noqa: E402

from risklab.engine.data import SAMPLE_DATA, load_bars  # noqa: E402
from risklab.engine.engine import ExecutionModel, simulate  # noqa: E402
from risklab.engine.lab import build_report, build_row, lab_threads, submit_scenario  # noqa: E402
from risklab.engine.metrics import path_metrics  # noqa: E402
from risklab.engine.profiles import load_profiles  # noqa: E402
from risklab.engine.report_pdf import page_count, render_pdf  # noqa: E402
from risklab.engine.scenarios import block_bootstrap_bars, build_scenario  # noqa: E402
from risklab.engine.strategies import STRATEGIES  # noqa: E402

SCENARIOS = ("baseline", "flash_crash", "dry_liquidity", "latency_spike")


@njit(cache=False)
def bare_kernel(close, fraction):
    """returns -> equity -> running max -> drawdown, one pass, nothing else."""
    equity = 1.0
    peak = 1.0
    worst = 0.0
    for i in range(1, close.shape[0]):
        equity *= 1.0 + fraction * (close[i] / close[i - 1] - 1.0)
        if equity > peak:
            peak = equity
        dd = 1.0 - equity / peak
        if dd > worst:
            worst = dd
    return worst


def run_lab_arrays(bars, profiles, strategy_name, execution):
    """The lab's own code path (``lab.submit_scenario``): scenario transforms, signals shared by the
    profiles (and by scenarios that keep the prices), simulations in the engine's thread pool, metrics and
    chart series. Returns (rows, charts, simulated bar-steps)."""
    rows, charts, pending = [], [], []
    signals: dict = {}
    steps = 0
    entry = {"name": "bench"}
    for scenario_name in SCENARIOS:
        scenario = build_scenario(scenario_name, bars, seed=0)
        job = submit_scenario(scenario, [strategy_name], list(profiles.values()), execution, signals, bars)
        steps += (len(job.futures) + len(job.references)) * len(bars)
        pending.append((scenario, job))
    for scenario, job in pending:
        outcomes = job.collect()
        for profile in profiles.values():
            for name in job.strategies:
                per_path, chart = outcomes[(name, profile.name)]
                reference = outcomes.get(("reference", profile.name)) if name != strategy_name else None
                rows.append(build_row(entry, name, profile, scenario, per_path, reference))
                charts.append(
                    {"dataset": "bench", "strategy": name, "profile": profile.name, "scenario": scenario.name}
                    | chart
                )
    return rows, charts, steps


def halted_share(charts, bars) -> float:
    """Share of the charted simulations' bar-steps that came after a drawdown halt (a halted, flat book
    is written out at once rather than stepped through)."""
    seconds = bars.timestamp // 10**9
    after = sum(
        len(bars) - 1 - int(np.searchsorted(seconds, chart["halted_s"]))
        for chart in charts
        if chart["halted_s"] is not None
    )
    return after / (len(charts) * len(bars))


def vectorbt_comparison(bars, profile, strategy_name, repeats):
    """(Paper Labs bar-steps/s, vectorbt bar-steps/s, largest equity difference) for one simulation of
    the same target series on the same bars, limits, costs and the participation cap off; None when
    vectorbt is not installed."""
    try:
        import vectorbt as vbt
    except ImportError:
        return None
    free = ExecutionModel(participation=1e12, impact=0.0)
    # vectorbt drops orders below an absolute size tolerance, and this strategy loses most of its capital
    # on these bars: a large starting cash keeps its orders above it (both equities are compared as
    # fractions of their starting capital).
    their_cash = 1e12
    off = {"stop_loss": 1.0, "daily_loss_limit": 1.0, "max_drawdown_halt": 1.0}
    profile = dataclasses.replace(profile, fees_bps=0.0, slippage_bps=0.0, **off)
    path = build_scenario("baseline", bars, seed=0).paths[0]
    target = STRATEGIES[strategy_name](bars)
    fraction = profile.position_fraction * profile.leverage
    # The engine orders only when the target changes and holds its units in between; vectorbt does the
    # same when the bars without a change carry no order (NaN size).
    changed = np.concatenate(([target[0] != 0.0], target[1:] != target[:-1]))
    size = np.where(changed, target * fraction, np.nan)

    scratch = np.empty(len(bars)), np.empty(len(bars))  # as a lab worker thread keeps them

    def ours():
        result = simulate(path, target, profile, free, returns_buffer=scratch[0], equity_buffer=scratch[1])
        return result.equity, path_metrics(result, free.capital)

    def theirs():
        portfolio = vbt.Portfolio.from_orders(
            bars.close,  # a plain array: a time-zoned index makes vectorbt some 20x slower
            size=size,
            size_type="targetpercent",
            init_cash=their_cash,
            fees=0.0,
            slippage=0.0,
            freq=f"{int(bars.bar_seconds)}s",
        )
        value = portfolio.value()
        portfolio.returns()
        return value.to_numpy(), (portfolio.total_return(), portfolio.max_drawdown())

    ours(), theirs()  # compile (and load vectorbt's cached kernels) outside the clock
    our_seconds = _median_seconds(ours, repeats)
    their_seconds = _median_seconds(theirs, repeats)
    equity, _ = ours()
    value, _ = theirs()
    return (
        len(bars) / our_seconds,
        len(bars) / their_seconds,
        float(np.max(np.abs(equity - value / their_cash))),
    )


def vbt_version() -> str:
    from importlib.metadata import version

    return version("vectorbt")


def _median_seconds(run, repeats) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3, help="timed lab runs; the median is reported")
    parser.add_argument("--strategy", default="ema_crossover", choices=list(STRATEGIES))
    parser.add_argument("--quick", action="store_true", help="200,000 bars and one timed run")
    args = parser.parse_args(argv)
    if args.quick:
        args.bars, args.repeats = min(args.bars, 200_000), 1

    sample = load_bars(SAMPLE_DATA)
    bars = block_bootstrap_bars(sample, np.random.default_rng(args.seed), args.bars, 288)
    profiles = load_profiles()
    execution = ExecutionModel()

    run_lab_arrays(bars.slice(0, 5000), profiles, args.strategy, execution)  # compile outside the clock
    bare_kernel(bars.close[:100], 0.5)

    lab_times = []
    for _ in range(args.repeats):  # each run is the whole lab from the bootstrapped bars
        start = time.perf_counter()
        rows, charts, lab_steps = run_lab_arrays(bars, profiles, args.strategy, execution)
        lab_times.append(time.perf_counter() - start)
    rows, charts, lab_steps = run_lab_arrays(bars, profiles, args.strategy, execution)
    lab_seconds = float(np.median(lab_times))

    repeats = 5
    start = time.perf_counter()
    for _ in range(repeats):
        bare_kernel(bars.close, 0.5)
    kernel_seconds = (time.perf_counter() - start) / repeats
    kernel_rate = len(bars) / kernel_seconds
    lab_rate = lab_steps / lab_seconds

    # PDF throughput on the report of this run.
    report_rows = rows
    plan = {
        "engine_version": "bench",
        "seed": args.seed,
        "config": {"name": "core.yaml", "sha384": "0" * 96},
        "inputs": [
            {
                "name": "bench",
                "sha384": sample.sha384,
                "rows": len(bars),
                "bar_seconds": 300.0,
                "first_timestamp": "",
                "last_timestamp": "",
                "last_timestamp_ns": int(bars.timestamp[-1]),
            }
        ],
        "profiles": {name: p.params() for name, p in profiles.items()},
        "strategies": [args.strategy],
        "scenarios": {name: {} for name in SCENARIOS},
        "execution": execution.params(),
        "overrides": {},
        "units": [{"unit_id": "all"}],
    }
    report, report_charts = build_report(plan, [{"unit_id": "all", "rows": report_rows, "charts": charts}])
    start = time.perf_counter()
    pdf = render_pdf(report, report_charts)
    pdf_seconds = time.perf_counter() - start
    pages = page_count(pdf)

    print(f"machine: {platform.platform()} | cpus {os.cpu_count()} | python {platform.python_version()}")
    print(
        f"bars: {len(bars):,} | lab: {len(profiles)} profiles x {len(SCENARIOS)} scenarios x 1 strategy "
        f"({args.strategy}) + stress probes = {lab_steps:,} bar-steps"
    )
    print(
        f"lab wall time (median of {args.repeats}): {lab_seconds:.3f} s "
        f"-> {lab_rate / 1e6:.1f} M bar-steps/s | runs: {', '.join(f'{t:.3f}' for t in lab_times)} s "
        f"| threads {lab_threads()}"
    )
    print(f"lab bar-steps after a drawdown halt (charted runs): {halted_share(charts, bars):.1%}")
    print(
        f"bare fused kernel: {kernel_seconds * 1e3:.2f} ms per pass -> {kernel_rate / 1e6:.1f} M bar-steps/s"
    )
    print(f"ratio: lab/kernel {lab_rate / kernel_rate:.3f} (goal >= 0.3)")
    print(f"pdf: {pages} pages in {pdf_seconds:.3f} s -> {pages / pdf_seconds:.1f} pages/s")
    if args.quick:
        print("vectorbt: not run at --quick (its import and first compile outlast the quick run)")
        return 0
    compared = vectorbt_comparison(bars, profiles["balanced"], args.strategy, args.repeats)
    if compared is None:
        print("vectorbt: not installed (pip install -r requirements-dev.txt)")
        return 0
    ours, theirs, difference = compared
    print(
        f"same simulation, limits/costs/cap off, one thread: Paper Labs {ours / 1e6:.1f} M bar-steps/s, "
        f"vectorbt {vbt_version()} {theirs / 1e6:.2f} M bar-steps/s | largest equity difference "
        f"{difference:.1e}"
    )
    if not difference <= 1e-9:  # not the same simulation: the ratio would compare two different things
        print(f"bench/risklab.py: error: equity differs from vectorbt's by {difference:.1e} (> 1e-9)")
        return 1
    print(f"ratio: project/vectorbt {ours / theirs:.1f} (goal >= 10)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
