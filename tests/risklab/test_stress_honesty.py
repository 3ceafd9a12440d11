"""What a risk officer relies on: stresses that were really exercised, stops that fill where the market
was, fill metrics that mean what they say, and no leverage-1 profile that borrows."""

import dataclasses
import io
import json
import re
import subprocess
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from risklab.engine import engine as eng
from risklab.engine.cli import progress_for
from risklab.engine.data import Bars
from risklab.engine.engine import ExecutionModel, simulate
from risklab.engine.lab import PROBE, monotonicity_flags, probe_target, run_lab
from risklab.engine.metrics import path_metrics
from risklab.engine.profiles import ProfileError, load_profiles, parse_manual_overrides
from risklab.engine.report_json import read_report
from risklab.engine.report_pdf import _param_text
from risklab.engine.scenarios import MarketPath, build_scenario
from risklab.engine.strategies import STRATEGIES, buy_and_hold

REPO = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((REPO / "docs" / "schemas" / "paper_labs_report.json").read_text())
STRESSES = {"baseline": {}, "flash_crash": {}, "dry_liquidity": {}, "latency_spike": {}}


@pytest.fixture(autouse=True)
def _no_source_date_epoch(monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)


@pytest.fixture(scope="module")
def conservative_lab(tmp_path_factory):
    out = tmp_path_factory.mktemp("lab")
    result = run_lab(profiles="conservative", strategies="buy_and_hold", scenarios=STRESSES, out_dir=out)
    return result, json.loads(result.json_path.read_text())


def _bars(close, open_=None, high=None, low=None, volume=1e12, name="toy"):
    close = np.asarray(close, dtype=np.float64)
    n = close.size
    open_ = close if open_ is None else np.asarray(open_, dtype=np.float64)
    high = np.maximum(open_, close) if high is None else np.asarray(high, dtype=np.float64)
    low = np.minimum(open_, close) if low is None else np.asarray(low, dtype=np.float64)
    timestamp = np.arange(n, dtype=np.int64) * 300 * 10**9
    return Bars(name, timestamp, open_, high, low, close, np.full(n, volume), 300.0)


def _path(bars, window=None):
    n = len(bars)
    return MarketPath("toy", bars, np.zeros(n), np.zeros(n, dtype=np.int64), window)


def test_a_flat_strategy_is_not_exercised_under_stress_and_its_probe_carries_real_losses(conservative_lab):
    # The bundled sample: conservative buy-and-hold is stopped out on day one and never re-enters.
    _, report = conservative_lab
    jsonschema.validate(report, SCHEMA)
    rows = {(r["strategy"], r["scenario"]): r for r in report["rows"]}
    for scenario in ("flash_crash", "dry_liquidity", "latency_spike"):
        flat = rows[("buy_and_hold", scenario)]
        assert flat["status"] == "not_exercised" and flat["pass"] is False
        assert flat["exercise"]["window_max_exposure"] == 0.0 and flat["exercise"]["window_turnover"] == 0.0
        probe = rows[(PROBE, scenario)]
        assert probe["exercise"]["exercised"]
        assert probe["metrics"]["max_drawdown"] > 0.005 and probe["metrics"]["cvar_99"] > 0.0
        assert probe["status"] in ("pass", "fail")
    assert rows[("buy_and_hold", "baseline")]["exercise"] is None
    assert (PROBE, "baseline") not in rows
    summary = report["summary"]
    assert summary["not_exercised"] == 3
    assert summary["profiles"]["conservative"]["probe_rows"] == 3
    assert summary["flags"] == sum(len(r["flags"]) for r in report["rows"])


def test_a_profile_verdict_needs_its_probe_rows_to_pass(tmp_path):
    # Thresholds no probe can meet: the strategy rows are flat (not exercised), the probes fail.
    overrides = parse_manual_overrides(
        [
            "acceptance.max_drawdown=0.0001",
            "acceptance.cvar_99=0.0001",
            "position_fraction=0.25",
            "stop_loss=0.03",
        ]
    )
    result = run_lab(
        profiles="manual",
        strategies="buy_and_hold",
        scenarios={"baseline": {}, "flash_crash": {}},
        manual_overrides=overrides,
        out_dir=tmp_path,
    )
    report = json.loads(result.json_path.read_text())
    probe = next(r for r in report["rows"] if r["strategy"] == PROBE)
    assert probe["status"] == "fail"
    assert report["summary"]["profiles"]["manual"]["probe_failed"] == 1
    assert report["summary"]["profiles"]["manual"]["verdict"] == "fail" and result.verdict == "fail"


def test_a_gapped_stop_fills_at_the_bars_open_plus_slippage(config_profiles):
    # Entry at 100; the next bar opens at 90, trades up to 95 and closes at 94: the 3 % stop (97) was
    # skipped by the gap, so the exit is at the open, 90, less 10 bps of slippage, not at 97.
    bars = _bars(
        [100.0, 94.0, 94.0], open_=[100.0, 90.0, 94.0], high=[100.0, 95.0, 94.0], low=[100.0, 90.0, 94.0]
    )
    profile = dataclasses.replace(config_profiles["conservative"], fees_bps=0.0, slippage_bps=10.0)
    result = simulate(_path(bars), np.ones(3), profile, ExecutionModel(impact=0.0))
    units = 0.25 / (100.0 * 1.001) * (1.0 - 1e-12)
    expected = 1.0 - units * 100.0 * 1.001 + units * 90.0 * 0.999
    assert result.stats[eng.STOPS] == 1.0
    assert result.equity[1] == pytest.approx(expected, abs=1e-12)


def test_inside_a_flash_crash_a_stop_fills_at_the_crash_price(sample_bars, config_profiles):
    crash = build_scenario("flash_crash", sample_bars, 0, {"at": 2000, "crash_bars": 6, "depth": 0.3})
    path = crash.paths[0]
    profile = dataclasses.replace(config_profiles["conservative"], fees_bps=0.0, slippage_bps=0.0)
    result = simulate(path, probe_target(len(sample_bars), path.window), profile, window=path.window)
    # Held from the close before the crash; the first crash bar opens 5 % lower, through the 3 % stop.
    assert result.stats[eng.STOPS] == 1.0
    assert result.equity[2000] == pytest.approx(1.0 - 0.25 * 0.05, abs=1e-12)


@pytest.mark.parametrize("at", [0.15, 0.5, 0.8, "worst_drawdown"])
@pytest.mark.parametrize("depth", [0.1, 0.3])
def test_a_flash_crash_never_gives_the_probe_a_shallower_drawdown_than_baseline(
    sample_bars, config_profiles, at, depth
):
    crash = build_scenario("flash_crash", sample_bars, 0, {"at": at, "depth": depth}).paths[0]
    real = _path(sample_bars, crash.window)
    target = probe_target(len(sample_bars), crash.window)
    cooled = {name: dataclasses.replace(p, reentry_cooldown_bars=6.0) for name, p in config_profiles.items()}
    for profile in [*config_profiles.values(), *cooled.values()]:
        stressed = path_metrics(simulate(crash, target, profile, window=crash.window), 1.0)
        baseline = path_metrics(simulate(real, target, profile, window=real.window), 1.0)
        assert stressed["max_drawdown"] >= baseline["max_drawdown"] - 1e-12, (profile.name, at)


def test_a_fully_filled_order_has_fill_rate_one_whatever_the_bars_it_took(config_profiles):
    profile = dataclasses.replace(config_profiles["balanced"], fees_bps=10.0)
    one_bar = path_metrics(simulate(_path(_bars(np.full(20, 100.0))), np.ones(20), profile), 1.0)
    assert (one_bar["orders"], one_bar["fills"], one_bar["fill_rate"]) == (1.0, 1.0, 1.0)
    # Volume for a tenth of the order per bar: one order, ten-plus fills, still fully filled.
    thin = _bars(np.full(40, 100.0), volume=0.5 / 100.0 * 0.5 / 0.1 / 10.0)
    worked = path_metrics(simulate(_path(thin), np.ones(40), profile, ExecutionModel(impact=0.0)), 1.0)
    assert worked["orders"] == 1.0 and worked["fills"] >= 10.0
    assert worked["fill_rate"] == 1.0


@pytest.mark.parametrize("scenario", ["baseline", "latency_spike", "dry_liquidity"])
@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_leverage_one_never_borrows_at_full_fraction_with_fees(
    sample_bars, config_profiles, scenario, strategy
):
    profile = dataclasses.replace(
        config_profiles["manual"], position_fraction=1.0, leverage=1.0, fees_bps=10.0, slippage_bps=5.0
    )
    path = build_scenario(scenario, sample_bars, 0, {"window_bars": 3000} if scenario != "baseline" else None)
    path = path.paths[0]
    result = simulate(path, STRATEGIES[strategy](path.bars), profile, window=path.window)
    metrics = path_metrics(result, 1.0)
    assert result.stats[eng.MIN_CASH] >= 0.0
    assert metrics["exposure"] <= 1.0
    if strategy == "buy_and_hold":
        assert metrics["turnover"] <= 1.0 + 1e-12 or metrics["stops"] + metrics["daily_limit_exits"] > 0


def test_a_high_priced_instrument_keeps_its_equity(sample_bars, config_profiles):
    # The same market quoted 1e18 times higher (volume 1e18 times lower) is the same market.
    scale = 1e18
    rich = sample_bars.replace(
        open=sample_bars.open * scale,
        high=sample_bars.high * scale,
        low=sample_bars.low * scale,
        close=sample_bars.close * scale,
        volume=sample_bars.volume / scale,
    )
    for name in ("conservative", "aggressive"):
        for strategy in (buy_and_hold, STRATEGIES["ema_crossover"]):
            plain = simulate(_path(sample_bars), strategy(sample_bars), config_profiles[name])
            priced = simulate(_path(rich), strategy(rich), config_profiles[name])
            assert priced.equity[-1] > 0.5
            np.testing.assert_allclose(priced.equity, plain.equity, rtol=1e-9, atol=0)


def test_a_cooldown_lets_buy_and_hold_back_in_after_a_stop(sample_bars, config_profiles):
    path = _path(sample_bars)
    waiting = config_profiles["conservative"]
    cooled = dataclasses.replace(waiting, reentry_cooldown_bars=12.0)
    flat = path_metrics(simulate(path, buy_and_hold(sample_bars), waiting), 1.0)
    back = path_metrics(simulate(path, buy_and_hold(sample_bars), cooled), 1.0)
    assert flat["stops"] == 1.0 and flat["orders"] == 2.0
    assert back["orders"] > 2.0 and back["exposure"] > 10 * flat["exposure"]
    assert "12 bars after the exit" in cooled.reentry_rule()


def test_a_reentry_cooldown_must_be_a_whole_number_of_bars():
    with pytest.raises(
        ProfileError, match=r"^profile manual: reentry_cooldown_bars=0.5 must be a whole number"
    ):
        load_profiles(
            manual_overrides=parse_manual_overrides(["reentry_cooldown_bars=0.5"]), names=["manual"]
        )
    manual = load_profiles(manual_overrides={"reentry_cooldown_bars": 24.0}, names=["manual"])["manual"]
    assert manual.params()["reentry_cooldown_bars"] == 24.0


def _row(scenario, strategy, total_return, max_drawdown, stops=0.0, exposure=0.5):
    metrics = {"total_return": total_return, "max_drawdown": max_drawdown, "halts": 0.0, "stops": stops}
    metrics["daily_limit_exits"] = 0.0
    exercise = (
        None if scenario == "baseline" else {"exercised": exposure > 0, "window_max_exposure": exposure}
    )
    return {
        "dataset": "d",
        "profile": "p",
        "strategy": strategy,
        "scenario": scenario,
        "metrics": metrics,
        "exercise": exercise,
        "flags": [],
    }


def test_a_stress_that_improves_on_baseline_is_flagged_with_the_engines_reason():
    rows = [
        _row("baseline", "s", -0.10, 0.35),
        _row("flash_crash", "s", -0.05, 0.21, stops=1.0),
        _row("dry_liquidity", "s", -0.12, 0.36),
        _row("latency_spike", "s", -0.10, 0.35, exposure=0.0),
        _row("bootstrap", "s", 0.50, 0.01),  # another market, never compared
    ]
    monotonicity_flags(rows)
    crash, dry, late, boot = (r["flags"] for r in rows[1:])
    assert [(f["metric"], f["reason"]) for f in crash] == [
        ("total_return", "stopped_out"),
        ("max_drawdown", "stopped_out"),
    ]
    assert crash[1] == {"metric": "max_drawdown", "baseline": 0.35, "stress": 0.21, "reason": "stopped_out"}
    assert dry == [] and late == [] and boot == []


def _pairs(params: dict):
    for key, value in params.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            for item in value:
                yield from _pairs(item)
        else:
            yield key, value


def test_the_pdf_states_every_scenario_parameter_and_the_execution_model(tmp_path):
    scenarios = {**STRESSES, "historical": {}, "bootstrap": {"paths": 2}}
    result = run_lab(
        profiles="balanced", strategies="ema_crossover", scenarios=scenarios, fees_bps=7.5, out_dir=tmp_path
    )
    report = json.loads(result.json_path.read_text())
    text = subprocess.run(
        ["pdftotext", "-layout", str(result.pdf_path), "-"], capture_output=True, text=True, check=True
    ).stdout
    squeezed = re.sub(r"\s+", "", text)
    assert "Scenarios and execution" in text
    for row in report["rows"]:
        for key, value in _pairs(row["scenario_params"]):
            if key in ("start_utc", "end_utc"):
                assert value in squeezed, (row["scenario"], key, value)
            else:
                assert f"{key}={_param_text(value)}" in squeezed, (row["scenario"], key, value)
    for key, value in report["parameters"]["execution"].items():
        assert f"{key}={value:g}" in squeezed
    assert "fees_bps=7.5" in squeezed  # the CLI override
    for rule in ("stopfill", "reentry", "stressprobe", "monotonicity", "folding", "worstpath"):
        assert rule in squeezed
    assert "NOTEXERCISED" in squeezed or report["summary"]["not_exercised"] == 0
    assert "time(UTC" in squeezed and "stresswindow" in squeezed


def test_v1_reports_still_validate_and_read_as_pass_or_fail_rows():
    data = (Path(__file__).parent / "data" / "report_v1.json").read_bytes()
    jsonschema.validate(json.loads(data), SCHEMA)
    report = read_report(data)
    assert report["schema"] == "oem/paper-labs-report/v1"
    assert {row["status"] for row in report["rows"]} <= {"pass", "fail"}
    assert all(row["flags"] == [] and row["exercise"] is None for row in report["rows"])
    assert all(row["metrics"]["fills"] == row["metrics"]["trades"] for row in report["rows"])
    assert all(row["metrics"]["orders"] is None for row in report["rows"])


def test_the_progress_is_a_bar_on_a_terminal_and_plain_lines_otherwise():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    plain, terminal = io.StringIO(), Terminal()
    for stream in (plain, terminal):
        progress = progress_for(stream)
        progress(0, 3, "planned")
        progress(3, 3, "manual/bootstrap")
    assert plain.getvalue().splitlines() == ["progress: 0/3 planned", "progress: 3/3 manual/bootstrap"]
    assert "3/3" in terminal.getvalue() and "progress:" not in terminal.getvalue()


def test_a_lab_planned_by_the_previous_engine_is_refused_in_one_line(tmp_path):
    from risklab.engine.lab import LabError, assemble, plan_tasks, run_unit

    plan = {**plan_tasks(profiles="balanced", strategies="buy_and_hold", scenarios="baseline")}
    plan["schema"] = "oem/paper-labs-plan/v1"
    with pytest.raises(
        LabError, match=r"^plan schema 'oem/paper-labs-plan/v1' is not oem/paper-labs-plan/v2"
    ):
        run_unit(plan, plan["units"][0])
    with pytest.raises(LabError, match="start the lab again"):
        assemble(plan, [], tmp_path)
    assert list(tmp_path.iterdir()) == []
