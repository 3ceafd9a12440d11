"""The shortcuts that make a lab fast give exactly what the plain computation gives: tail losses of a
mostly flat run, chart drawdowns reduced in one pass, a halted book written out at once, the deepest
drawdown found without per-bar arrays."""

import dataclasses

import numpy as np
import pytest

from risklab.engine.data import Bars
from risklab.engine.engine import HALT_BAR, ExecutionModel, simulate
from risklab.engine.metrics import _bucket_drawdowns, _tail_losses, drawdown_series, path_metrics
from risklab.engine.scenarios import MarketPath, _episodes, worst_drawdown_episodes
from risklab.engine.strategies import buy_and_hold


def _plain_tail(returns, probability):
    # The definition, on a full sort: linear quantile; CVaR over the hi + 1 smallest at or below it.
    ordered = np.sort(returns)
    n = ordered.size
    h = (n - 1) * probability
    hi = min(int(np.floor(h)) + 1, n - 1)
    quantile = np.quantile(returns, probability)
    head = ordered[: hi + 1]
    return max(-quantile, 0.0), max(-head[head <= quantile].mean(), 0.0)


@pytest.mark.parametrize("flat", [0.5, 0.97, 0.997])
def test_tail_losses_of_a_mostly_flat_run_equal_the_plain_definition(flat):
    rng = np.random.default_rng(7)
    n = 300_000
    returns = rng.standard_t(3, size=n) * 1e-3
    returns[rng.random(n) < flat] = 0.0  # a flat book returns exactly 0: ties at the quantile
    for probability in (0.05, 0.01):
        var, cvar = _tail_losses(returns, probability)
        plain_var, plain_cvar = _plain_tail(returns, probability)
        assert var == plain_var
        assert cvar == pytest.approx(plain_cvar, rel=1e-12, abs=0.0)


@pytest.mark.parametrize("n", [1, 239, 240, 1000, 100_003])
def test_chart_drawdowns_reduced_in_one_pass_equal_the_full_series(n):
    rng = np.random.default_rng(n)
    equity = np.cumprod(1.0 + rng.normal(0.0, 0.01, size=n)) * rng.uniform(0.8, 1.2)
    edges = np.unique(np.linspace(0, n, min(240, n) + 1).astype(np.int64))[:-1]
    expected = np.maximum.reduceat(drawdown_series(equity), edges)
    np.testing.assert_array_equal(_bucket_drawdowns(equity, edges), expected)
    if n > 10:
        equity[n // 2] = np.nan  # a broken equity must stay visible, as the full series shows it
        expected = np.maximum.reduceat(drawdown_series(equity), edges)
        np.testing.assert_array_equal(_bucket_drawdowns(equity, edges), expected)


def test_a_halted_book_keeps_its_equity_and_counts_the_stress_window_after_the_halt(config_profiles):
    close = np.r_[np.full(5, 100.0), np.linspace(100.0, 40.0, 30), np.linspace(40.0, 100.0, 65)]
    n = close.size
    bars = Bars("slide", np.arange(n, dtype=np.int64) * 300 * 10**9, close, close, close, close,
                np.full(n, 1e9), 300.0)  # fmt: skip
    path = MarketPath("slide", bars, np.zeros(n), np.zeros(n, dtype=np.int64), (60, 90))
    profile = dataclasses.replace(config_profiles["aggressive"], stop_loss=1.0, daily_loss_limit=1.0)
    result = simulate(path, buy_and_hold(bars), profile, ExecutionModel(), window=path.window)
    metrics = path_metrics(result, 1.0)
    halt = int(result.stats[HALT_BAR])
    assert metrics["halts"] == 1.0 and 5 < halt < 40
    assert np.all(result.equity[halt:] == result.equity[halt])
    assert np.all(result.returns[halt + 1 :] == 0.0)
    assert metrics["window_bars"] == 30.0 and metrics["window_exposure"] == 0.0
    assert metrics["window_max_exposure"] == 0.0 and metrics["window_turnover"] == 0.0


def _deepest_by_sorting(close):
    starts, lows, troughs = _episodes(close)
    k = int(np.argsort(lows, kind="stable")[0])
    return 1.0 - float(lows[k]), int(starts[k]), int(troughs[k])


def test_the_deepest_drawdown_is_found_in_one_pass_as_sorting_every_episode_finds_it(sample_bars):
    rng = np.random.default_rng(3)
    walk = 100.0 * np.cumprod(1.0 + rng.normal(0.0, 0.01, size=50_000))
    twin_dips = np.r_[100.0, 80.0, 100.0, 90.0, 100.0, 80.0, 100.0]  # equally deep: the first counts
    for close in (sample_bars.close, walk, twin_dips):
        assert worst_drawdown_episodes(close, 1) == [_deepest_by_sorting(close)]
    assert worst_drawdown_episodes(np.linspace(1.0, 2.0, 50), 1) == []  # never falls: no episode
