"""Metric definitions checked against an independent library (empyrical-reloaded) on real market data,
with costs and the participation cap off. Where the definitions differ on purpose, the difference itself
is asserted, so a change on either side shows up here."""

import dataclasses
import math

import empyrical
import numpy as np
import pytest

from risklab.engine.data import SAMPLE_DATA, load_bars
from risklab.engine.engine import ExecutionModel, simulate
from risklab.engine.metrics import path_metrics
from risklab.engine.scenarios import build_scenario
from risklab.engine.strategies import STRATEGIES
from tests.risklab.conftest import SHARED_MARKET, unlimited

FREE = ExecutionModel(participation=1e12, impact=0.0)  # the cap off: every order fills at once
DATASETS = [SAMPLE_DATA, *sorted(SHARED_MARKET.glob("*_BTC-5m.parquet"))[:2]]


@pytest.mark.parametrize("data", DATASETS, ids=lambda p: p.name)
@pytest.mark.parametrize("strategy", ["buy_and_hold", "ema_crossover", "zscore_reversion"])
def test_metrics_agree_with_empyrical_on_real_data(config_profiles, data, strategy):
    bars = load_bars(data)
    path = build_scenario("baseline", bars, 0).paths[0]
    profile = unlimited(config_profiles["balanced"])
    result = simulate(path, STRATEGIES[strategy](bars), profile, FREE)
    metrics = path_metrics(result, FREE.capital)
    returns = np.array(result.returns)
    periods = 365.0 * 86_400.0 / bars.bar_seconds

    assert metrics["total_return"] == pytest.approx(empyrical.cum_returns_final(returns), abs=1e-9)
    assert metrics["max_drawdown"] == pytest.approx(-empyrical.max_drawdown(returns), abs=1e-12)
    assert metrics["var_95"] == pytest.approx(max(-empyrical.value_at_risk(returns, 0.05), 0.0), abs=1e-15)
    assert metrics["var_99"] == pytest.approx(max(-empyrical.value_at_risk(returns, 0.01), 0.0), abs=1e-15)
    # CVaR: empyrical averages the floor((n - 1) p) + 1 smallest returns, the engine every return at or
    # below the interpolated quantile: the same set unless returns tie at the quantile.
    assert metrics["cvar_99"] == pytest.approx(
        max(-empyrical.conditional_value_at_risk(returns, 0.01), 0.0), rel=1e-9, abs=1e-15
    )
    # Sortino: both use the downside deviation over all bars, so they agree exactly.
    assert metrics["sortino"] == pytest.approx(
        empyrical.sortino_ratio(returns, annualization=periods), rel=1e-9
    )
    # Sharpe: the engine divides by the population standard deviation, empyrical by the sample one, so
    # the engine's figure is empyrical's times sqrt(n / (n - 1)): that difference, and nothing else.
    n = returns.shape[0]
    expected = empyrical.sharpe_ratio(returns, annualization=periods) * math.sqrt(n / (n - 1))
    assert metrics["sharpe"] == pytest.approx(expected, rel=1e-9)


def test_costs_only_ever_lower_the_result_against_the_free_run(config_profiles):
    bars = load_bars(SAMPLE_DATA)
    path = build_scenario("baseline", bars, 0).paths[0]
    free = unlimited(config_profiles["balanced"])
    costly = dataclasses.replace(free, fees_bps=10.0, slippage_bps=5.0)
    target = STRATEGIES["ema_crossover"](bars)
    cheap = path_metrics(simulate(path, target, free, FREE), 1.0)
    dear = path_metrics(simulate(path, target, costly, FREE), 1.0)
    assert dear["total_return"] < cheap["total_return"]
    assert dear["avg_slippage_bps"] > cheap["avg_slippage_bps"] == 0.0
