"""Risk and execution metrics per (strategy, profile, scenario) and the acceptance verdict.

Conventions (the report schema depends on them):
- per-bar returns include the first bar against the starting capital 1.0, so entry costs count;
- ``max_drawdown``, ``var_*`` and ``cvar_*`` are positive loss fractions (0 when nothing is lost);
  VaR is the negated linear-interpolated quantile of per-bar returns, CVaR the negated mean of returns at
  or below it;
- ``sharpe``/``sortino`` are annualised with 365 days of 24 h (crypto trades every day), population std,
  and are 0 when the relevant deviation is 0;
- ``exposure`` is the time-averaged gross position / equity; ``turnover`` is traded notional / capital;
- ``orders`` counts orders (a target change, or a protective exit), ``fills`` the fills that worked
  them (a partially filled order fills over several bars); ``fill_rate`` is filled / ordered quantity
  summed over orders, so a fully filled order counts 1.0 however many bars it took, and an order
  replaced or cut by the rate limit before completing counts its unfilled rest once;
- ``limit_breaches`` counts stop-loss exits, daily-loss-limit trips and orders refused by the rate limit
  (``stops`` and ``daily_limit_exits`` separately); ``halts`` counts max-drawdown halts;
- ``window_*`` describe the scenario's stress window only (exposure as above, traded notional / capital);
  they decide whether a stress row was exercised at all.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from risklab.engine import engine as eng
from risklab.engine.profiles import Acceptance

METRIC_KEYS = (
    "total_return",
    "max_drawdown",
    "var_95",
    "cvar_95",
    "var_99",
    "cvar_99",
    "sharpe",
    "sortino",
    "exposure",
    "turnover",
    "orders",
    "fills",
    "fill_rate",
    "avg_slippage_bps",
    "limit_breaches",
    "stops",
    "daily_limit_exits",
    "halts",
)
WINDOW_KEYS = ("window_bars", "window_exposure", "window_max_exposure", "window_turnover")
# How several paths of one scenario (bootstrap, historical windows) fold into one row: the worst path for
# risk, totals for counts, the mean for the rest.
_WORST = ("max_drawdown", "var_95", "cvar_95", "var_99", "cvar_99", "window_max_exposure")
_TOTAL = ("orders", "fills", "limit_breaches", "stops", "daily_limit_exits", "halts", "window_bars")
FOLDING_RULES = {
    "worst path": list(_WORST),
    "total over paths": list(_TOTAL),
    "mean over paths": [k for k in (*METRIC_KEYS, *WINDOW_KEYS) if k not in _WORST + _TOTAL],
}
_SECONDS_PER_YEAR = 365.0 * 86_400.0


@njit(cache=False, nogil=True)
def _neumaier_sum(values):
    # Compensated, so a tail of 50,000 returns sums to the last bit or two whatever its order.
    total = 0.0
    compensation = 0.0
    for i in range(values.shape[0]):
        v = values[i]
        t = total + v
        if abs(total) >= abs(v):
            compensation += (total - t) + v
        else:
            compensation += (v - t) + total
        total = t
    return total + compensation


@njit(cache=False, nogil=True)
def _smallest(values, need, probability):
    """At least the ``need`` smallest values (as a multiset), without partitioning the whole array.

    A strided sample estimates a threshold a little above the wanted quantile; if at least ``need`` values
    lie at or below it, those candidates contain every wanted order statistic. Otherwise (ties, or an
    unlucky sample) fall back to a copy of everything: the answer is exact either way.
    """
    n = values.shape[0]
    if n > 50_000:
        sample = values[:: max(n // 20_000, 1)].copy()
        m = sample.shape[0]
        k = min(int(m * (probability + 0.01)) + 1, m - 1)
        loose = np.partition(sample, k)[k]
        below = 0
        equal = 0
        for i in range(n):
            v = values[i]
            if v < loose:
                below += 1
            elif v == loose:
                equal += 1
        if below + equal >= need:
            # Ties at the threshold (a flat strategy's zero returns are most of the bars) beyond the
            # ``need`` smallest are left out: selecting among a million equal values costs more than the
            # whole simulation.
            ties = min(equal, max(need - below, 0))
            out = np.empty(below + ties)
            j = 0
            for i in range(n):
                v = values[i]
                if v < loose:
                    out[j] = v
                    j += 1
                elif v == loose and ties > 0:
                    out[j] = v
                    j += 1
                    ties -= 1
            return out
    return values.copy()


@njit(cache=False, nogil=True)
def _tail_from_head(head, n, probability):
    """(quantile, CVaR sum, CVaR count) given ``head`` holding at least the smallest ``hi + 1`` values.

    Partitions ``head`` in place at ``hi``; returns the index ``hi`` too, so ``head[:hi]`` then holds
    every smaller order statistic for a narrower tail.
    """
    h = (n - 1) * probability
    lo = int(np.floor(h))
    hi = min(lo + 1, n - 1)
    head[:] = np.partition(head, hi)
    at_hi = head[hi]
    at_lo = at_hi
    if lo < hi:
        at_lo = head[0]
        for i in range(1, hi):
            if head[i] > at_lo:
                at_lo = head[i]
    quantile = at_lo + (h - lo) * (at_hi - at_lo)
    # Every return at or below the quantile is among the hi + 1 smallest (at_hi >= quantile).
    count = 0
    for i in range(hi + 1):
        if head[i] <= quantile:
            count += 1
    tail = np.empty(count)
    j = 0
    for i in range(hi + 1):
        if head[i] <= quantile:
            tail[j] = head[i]
            j += 1
    return quantile, _neumaier_sum(tail), count, hi


@njit(cache=False, nogil=True)
def _tails_kernel(returns, p_wide, p_narrow):
    """(quantile, tail sum, tail count) at ``p_wide``, then at ``p_narrow <= p_wide`` from one selection."""
    n = returns.shape[0]
    lo_wide = int(np.floor((n - 1) * p_wide))
    need = min(lo_wide + 1, n - 1) + 1
    head = _smallest(returns, need, p_wide)
    q_wide, s_wide, c_wide, hi_wide = _tail_from_head(head, n, p_wide)
    narrow_head = head[: hi_wide + 1]  # the hi_wide + 1 smallest values: enough for any p <= p_wide
    q_narrow, s_narrow, c_narrow, _ = _tail_from_head(narrow_head, n, p_narrow)
    return q_wide, s_wide, c_wide, q_narrow, s_narrow, c_narrow


def _var_cvar(quantile: float, tail_sum: float, count: int) -> tuple[float, float]:
    cvar = -(tail_sum / count) if count else -quantile
    return _loss(-float(quantile)), _loss(cvar)


def _tail_losses(returns: np.ndarray, probability: float) -> tuple[float, float]:
    """(VaR, CVaR) at ``1 - probability`` as positive loss fractions; linear quantile, as numpy's default."""
    returns = np.ascontiguousarray(returns, dtype=np.float64)
    quantile, tail_sum, count, _, _, _ = _tails_kernel(returns, probability, probability)
    return _var_cvar(quantile, tail_sum, count)


def tail_losses_95_99(returns: np.ndarray) -> tuple[float, float, float, float]:
    """(VaR 95, CVaR 95, VaR 99, CVaR 99) from one selection over the returns."""
    returns = np.ascontiguousarray(returns, dtype=np.float64)
    q95, s95, c95, q99, s99, c99 = _tails_kernel(returns, 0.05, 0.01)
    return (*_var_cvar(q95, s95, c95), *_var_cvar(q99, s99, c99))


def _loss(value: float) -> float:
    # Gains are not negative losses, and -0.0 must never reach the report.
    return float(value) if value > 0.0 else 0.0


def path_metrics(result: eng.SimulationResult, capital: float) -> dict[str, float]:
    equity = result.equity
    returns = result.returns
    n = returns.shape[0]
    stats = result.stats
    var_95, cvar_95, var_99, cvar_99 = tail_losses_95_99(returns)
    annualiser = math.sqrt(_SECONDS_PER_YEAR / result.bar_seconds)
    mean = float(stats[eng.SUM_RETURN]) / n
    std = math.sqrt(max(float(stats[eng.SUM_RETURN_SQ]) / n - mean * mean, 0.0))
    downside = math.sqrt(float(stats[eng.SUM_DOWNSIDE_SQ]) / n)
    ordered = stats[eng.ORDERED]
    window_bars = float(stats[eng.WINDOW_BARS])
    decision_notional = stats[eng.DECISION_NOTIONAL]
    return {
        "total_return": float(equity[-1]) - 1.0,
        "max_drawdown": _loss(float(stats[eng.MAX_DRAWDOWN])),
        "var_95": var_95,
        "cvar_95": cvar_95,
        "var_99": var_99,
        "cvar_99": cvar_99,
        "sharpe": mean / std * annualiser if std > 0.0 else 0.0,
        "sortino": mean / downside * annualiser if downside > 0.0 else 0.0,
        "exposure": float(stats[eng.EXPOSURE_SUM]) / n,
        "turnover": float(stats[eng.TRADED_NOTIONAL]) / capital,
        "orders": float(stats[eng.ORDERS]),
        "fills": float(stats[eng.FILLS]),
        # Nothing asked means nothing left unfilled.
        "fill_rate": min(float(stats[eng.FILLED] / ordered), 1.0) if ordered > 0.0 else 1.0,
        "avg_slippage_bps": float(stats[eng.SLIP_NOTIONAL] / decision_notional * 1e4)
        if decision_notional
        else 0.0,
        "limit_breaches": float(stats[eng.STOPS] + stats[eng.DAILY_BREACHES] + stats[eng.RATE_REJECTS]),
        "stops": float(stats[eng.STOPS]),
        "daily_limit_exits": float(stats[eng.DAILY_BREACHES]),
        "halts": float(stats[eng.HALTS]),
        "window_bars": window_bars,
        "window_exposure": float(stats[eng.WINDOW_EXPOSURE_SUM]) / window_bars if window_bars else 0.0,
        "window_max_exposure": float(stats[eng.WINDOW_MAX_EXPOSURE]),
        "window_turnover": float(stats[eng.WINDOW_TRADED_NOTIONAL]) / capital,
    }


def combine_paths(per_path: list[dict[str, float]]) -> dict[str, float]:
    if len(per_path) == 1:
        return dict(per_path[0])
    out = {}
    for key in per_path[0]:
        values = [m[key] for m in per_path]
        if key in _WORST:
            out[key] = max(values)
        elif key in _TOTAL:
            out[key] = float(sum(values))
        else:
            out[key] = float(np.mean(values))
    return out


def acceptance_checks(metrics: dict[str, float], acceptance: Acceptance) -> dict:
    """Each threshold with the value it was judged on; a row passes when every value is at or under."""
    checks = {}
    for key in ("max_drawdown", "cvar_99"):
        threshold = getattr(acceptance, key)
        checks[key] = {"threshold": threshold, "value": metrics[key], "pass": bool(metrics[key] <= threshold)}
    return checks


def drawdown_series(equity: np.ndarray) -> np.ndarray:
    peak = np.maximum(np.maximum.accumulate(equity), 1.0)
    return 1.0 - equity / peak


@njit(cache=False, nogil=True)
def _bucket_drawdowns(equity, edges):
    """``np.maximum.reduceat(drawdown_series(equity), edges)`` in one pass with no temporaries (NaN
    propagates as it does there); a worker thread reduces each chart right after its simulation."""
    out = np.empty(edges.shape[0])
    running = -np.inf
    k = -1
    deepest = 0.0
    for i in range(equity.shape[0]):
        e = equity[i]
        if e > running or e != e:
            running = e
        peak = running if running > 1.0 or running != running else 1.0
        dd = 1.0 - e / peak
        if k + 1 < edges.shape[0] and i == edges[k + 1]:
            if k >= 0:
                out[k] = deepest
            k += 1
            deepest = dd
        elif dd > deepest or dd != dd:
            deepest = dd
    if k >= 0:
        out[k] = deepest
    return out


def chart_series(equity: np.ndarray, timestamps: np.ndarray | None = None, points: int = 240) -> dict:
    """Equity and drawdown reduced to ``points`` buckets for charts; each bucket keeps its deepest
    drawdown so a one-bar crash stays visible. ``time_s``: each bucket's last bar, UTC epoch seconds."""
    n = equity.shape[0]
    edges = np.unique(np.linspace(0, n, min(points, n) + 1).astype(np.int64))[:-1]
    ends = np.concatenate((edges[1:], [n])) - 1
    out = {
        "equity": [float(x) for x in equity[ends]],
        "drawdown": [
            float(x) for x in _bucket_drawdowns(np.ascontiguousarray(equity, dtype=np.float64), edges)
        ],
    }
    if timestamps is not None:
        out["time_s"] = [int(t) // 10**9 for t in timestamps[ends]]
    return out
