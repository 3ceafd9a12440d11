import dataclasses

import numpy as np
import pandas as pd
import pytest

from risklab.engine.data import Bars
from risklab.engine.engine import ExecutionModel, simulate
from risklab.engine.metrics import METRIC_KEYS, WINDOW_KEYS, path_metrics
from risklab.engine.scenarios import build_scenario
from risklab.engine.strategies import STRATEGIES, buy_and_hold
from tests.risklab.conftest import unlimited


def _run(path, profile, strategy=buy_and_hold, execution=None):
    execution = execution or ExecutionModel()
    result = simulate(path, strategy(path.bars), profile, execution)
    return result, path_metrics(result, execution.capital)


@pytest.mark.parametrize(
    ("name", "fraction"), [("conservative", 0.25), ("balanced", 0.5), ("aggressive", 1.0)]
)
def test_buy_and_hold_without_costs_reproduces_the_analytic_equity(
    sample_bars, config_profiles, name, fraction
):
    profile = unlimited(config_profiles[name], leverage=1.0)
    assert profile.position_fraction == fraction
    path = build_scenario("baseline", sample_bars, seed=0).paths[0]
    result, _ = _run(path, profile)
    close = sample_bars.close
    analytic = 1.0 + fraction * (close / close[0] - 1.0)
    np.testing.assert_allclose(result.equity, analytic, rtol=0, atol=1e-9)


def test_leverage_scales_the_analytic_equity(sample_bars, config_profiles):
    profile = unlimited(config_profiles["aggressive"])  # fraction 1, leverage 2
    path = build_scenario("baseline", sample_bars, seed=0).paths[0]
    result, _ = _run(path, profile)
    close = sample_bars.close
    np.testing.assert_allclose(result.equity, 1.0 + 2.0 * (close / close[0] - 1.0), rtol=0, atol=1e-9)


def test_buy_and_hold_max_drawdown_equals_an_independent_pandas_computation(sample_bars, config_profiles):
    profile = unlimited(config_profiles["balanced"])
    path = build_scenario("baseline", sample_bars, seed=0).paths[0]
    result, metrics = _run(path, profile)
    equity = pd.Series(np.r_[1.0, result.equity])
    expected = float(-(equity / equity.cummax() - 1.0).min())
    assert expected > 0.05  # January 2018 really did fall
    assert metrics["max_drawdown"] == pytest.approx(expected, abs=1e-12)


def test_every_metric_key_is_present_and_finite(sample_bars, config_profiles):
    path = build_scenario("baseline", sample_bars, seed=0).paths[0]
    _, metrics = _run(path, config_profiles["balanced"], STRATEGIES["ema_crossover"])
    assert tuple(metrics) == METRIC_KEYS + WINDOW_KEYS
    assert all(np.isfinite(value) for value in metrics.values())


@pytest.mark.parametrize(("fraction", "depth"), [(1.0, 0.3), (0.5, 0.2), (0.25, 0.4)])
def test_flash_crash_drawdown_at_least_depth_times_fraction(sample_bars, config_profiles, fraction, depth):
    profile = unlimited(config_profiles["manual"], position_fraction=fraction, leverage=1.0)
    # Crash from the highest close: the holding is then worth at least its share of equity.
    at = int(np.argmax(sample_bars.close)) + 1
    scenario = build_scenario("flash_crash", sample_bars, 0, {"depth": depth, "crash_bars": 12, "at": at})
    _, metrics = _run(scenario.paths[0], profile)
    assert metrics["max_drawdown"] >= depth * fraction - 1e-12


def test_flash_crash_gaps_through_the_real_profiles_stops(sample_bars, config_profiles):
    crash = build_scenario("flash_crash", sample_bars, 0, {"at": 1, "crash_bars": 1, "depth": 0.3}).paths[0]
    for profile in config_profiles.values():
        _, metrics = _run(crash, profile)
        # The crash bar gaps, so neither the stop nor the drawdown halt can cut the loss short.
        exposure = profile.position_fraction * profile.leverage
        assert metrics["max_drawdown"] >= 0.3 * exposure - 1e-9
        assert metrics["limit_breaches"] + metrics["halts"] >= 1


@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_dry_liquidity_never_improves_slippage_and_splits_orders_into_more_fills(
    sample_bars, config_profiles, strategy
):
    # The per-order fill rate is not monotone here (which orders get replaced before completing depends
    # on the path), but the thinner market always costs more and needs more fills per order.
    base_path = build_scenario("baseline", sample_bars, 0).paths[0]
    dry_path = build_scenario("dry_liquidity", sample_bars, 0).paths[0]
    partial_fill_seen = False
    for profile in config_profiles.values():
        base = _run(base_path, profile, STRATEGIES[strategy])[1]
        dry = _run(dry_path, profile, STRATEGIES[strategy])[1]
        assert dry["avg_slippage_bps"] >= base["avg_slippage_bps"] - 1e-9
        partial_fill_seen |= dry["fills"] / dry["orders"] > base["fills"] / base["orders"]
    if strategy != "buy_and_hold":
        assert partial_fill_seen


def test_dry_liquidity_fills_partially_when_orders_exceed_available_volume(sample_bars, config_profiles):
    profile = unlimited(config_profiles["aggressive"], slippage_bps=5.0)
    scenario = build_scenario("dry_liquidity", sample_bars, 0, {"factor": 1000.0, "window_bars": 50, "at": 1})
    target = np.r_[np.zeros(5), np.ones(len(sample_bars) - 5)]  # enter inside the dry window
    metrics = path_metrics(simulate(scenario.paths[0], target, profile), 1.0)
    assert metrics["orders"] == 1.0
    assert metrics["fills"] > 1  # the entry needed several bars of the thin market
    assert metrics["fill_rate"] == 1.0  # but it did complete: one order, fully filled


@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_latency_spike_never_improves_fill_prices(sample_bars, config_profiles, strategy):
    base_path = build_scenario("baseline", sample_bars, 0).paths[0]
    late_path = build_scenario("latency_spike", sample_bars, 0, {"delay_bars": 6, "window_bars": 2000}).paths[
        0
    ]
    for profile in config_profiles.values():
        base = _run(base_path, profile, STRATEGIES[strategy])[1]
        late = _run(late_path, profile, STRATEGIES[strategy])[1]
        assert late["avg_slippage_bps"] >= base["avg_slippage_bps"] - 1e-9


def test_a_delayed_order_fills_at_the_worse_of_decision_and_arrival_price(config_profiles):
    # Price falls after the buy decision: a delayed buy must not profit from arriving later.
    close = np.array([100.0, 90.0, 80.0, 80.0, 80.0])
    bars = Bars(
        "toy", np.arange(5, dtype=np.int64) * 300 * 10**9, close, close, close, close, np.full(5, 1e9), 300.0
    )
    profile = unlimited(config_profiles["manual"], position_fraction=1.0)
    late = build_scenario("latency_spike", bars, 0, {"delay_bars": 2, "window_bars": 1, "at": 1})
    target = np.array([0.0, 1.0, 1.0, 1.0, 1.0])
    result = simulate(late.paths[0], target, profile)
    # Decision at 90, arrival at 80: fills at 90, so equity at 80 is 1 - (90 - 80) / 90.
    assert result.equity[-1] == pytest.approx(1.0 - 10.0 / 90.0, abs=1e-12)


def test_constant_prices_give_zero_return_drawdown_and_var(config_profiles):
    n = 500
    flat = np.full(n, 0.05)
    bars = Bars(
        "flat", np.arange(n, dtype=np.int64) * 300 * 10**9, flat, flat, flat, flat, np.full(n, 1e6), 300.0
    )
    path = build_scenario("baseline", bars, 0).paths[0]
    for strategy in STRATEGIES.values():
        for profile in config_profiles.values():
            _, metrics = _run(path, dataclasses.replace(profile, fees_bps=0.0, slippage_bps=0.0), strategy)
            for key in (
                "total_return",
                "max_drawdown",
                "var_95",
                "cvar_95",
                "var_99",
                "cvar_99",
                "sharpe",
                "sortino",
            ):
                assert metrics[key] == 0.0, (key, metrics[key])


def test_stop_loss_exits_and_counts_as_a_limit_breach(config_profiles):
    close = np.r_[np.full(10, 100.0), np.full(10, 90.0)]
    bars = Bars(
        "drop",
        np.arange(20, dtype=np.int64) * 300 * 10**9,
        close,
        close,
        close,
        close,
        np.full(20, 1e9),
        300.0,
    )
    profile = dataclasses.replace(config_profiles["conservative"], fees_bps=0.0, slippage_bps=0.0)
    result, metrics = _run(build_scenario("baseline", bars, 0).paths[0], profile)
    assert metrics["limit_breaches"] >= 1
    assert metrics["exposure"] < 0.25
    # Gap from 100 to 90 fills at the open (90), a 10 % loss on a 25 % position.
    assert result.equity[-1] == pytest.approx(1.0 - 0.25 * 0.10, abs=1e-12)


def test_drawdown_halt_flattens_and_is_counted_once(config_profiles):
    close = np.r_[np.full(5, 100.0), np.linspace(100.0, 40.0, 30), np.linspace(40.0, 100.0, 30)]
    n = close.size
    bars = Bars(
        "slide",
        np.arange(n, dtype=np.int64) * 300 * 10**9,
        close,
        close,
        close,
        close,
        np.full(n, 1e9),
        300.0,
    )
    profile = dataclasses.replace(config_profiles["aggressive"], stop_loss=1.0, daily_loss_limit=1.0)
    result, metrics = _run(build_scenario("baseline", bars, 0).paths[0], profile)
    assert metrics["halts"] == 1.0
    assert result.equity[-1] == result.equity[-30]  # flat after the halt, the recovery is missed
    assert metrics["max_drawdown"] < 0.35 + 0.05


@pytest.mark.parametrize("n", [1000, 200_003])
def test_var_and_cvar_equal_numpy_quantiles_exactly(n):
    from risklab.engine.metrics import _tail_losses

    returns = np.random.default_rng(n).standard_t(3, size=n) * 1e-3
    for probability in (0.05, 0.01):
        quantile = np.quantile(returns, probability)
        var, cvar = _tail_losses(returns, probability)
        assert var == -quantile
        assert cvar == pytest.approx(-returns[returns <= quantile].mean(), rel=1e-12)
