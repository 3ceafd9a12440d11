"""Risk and execution metrics per (strategy, profile, scenario) and the acceptance verdict.

Conventions (the report schema depends on them):
- per-bar returns include the first bar against the starting capital 1.0, so entry costs count;
- ``max_drawdown``, ``var_*`` and ``cvar_*`` are positive loss fractions (0 when nothing is lost);
  VaR is the negated linear-interpolated quantile of per-bar returns, CVaR the negated mean of returns at
  or below it;
- ``sharpe``/``sortino`` are annualised with 365 days of 24 h (crypto trades every day), population std,
  and are 0 when the relevant deviation is 0;
- ``exposure`` is the time-averaged gross position / equity; ``turnover`` is traded notional / capital;
- ``limit_breaches`` counts stop-loss exits, daily-loss-limit trips and orders refused by the rate limit;
  ``halts`` counts max-drawdown halts.
"""

from __future__ import annotations

import math

import numpy as np

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
    "trades",
    "fill_rate",
    "avg_slippage_bps",
    "limit_breaches",
    "halts",
)
# How several paths of one scenario (bootstrap, historical windows) fold into one row: the worst path for
# risk, totals for counts, the mean for the rest.
_WORST = ("max_drawdown", "var_95", "cvar_95", "var_99", "cvar_99")
_TOTAL = ("trades", "limit_breaches", "halts")
_SECONDS_PER_YEAR = 365.0 * 86_400.0


def _order_statistics(values: np.ndarray, ranks: tuple[int, ...], probability: float) -> np.ndarray:
    """The given smallest order statistics, exactly, without partitioning the whole array.

    A strided sample estimates a loose threshold; if at least ``max(ranks) + 1`` values lie at or below
    it, those candidates contain every wanted order statistic and a partition of them is exact.
    Otherwise fall back to the full partition.
    """
    n = values.shape[0]
    need = max(ranks) + 1
    if n > 50_000:
        sample = values[:: max(n // 20_000, 1)]
        loose = np.quantile(sample, min(probability * 3.0 + 1e-3, 1.0))
        candidates = values[values <= loose]
        if candidates.shape[0] >= need:
            return np.partition(candidates, ranks)
    return np.partition(values, ranks)


def _tail_losses(returns: np.ndarray, probability: float) -> tuple[float, float]:
    """(VaR, CVaR) at ``1 - probability`` as positive loss fractions; linear quantile, as numpy's default."""
    n = returns.shape[0]
    h = (n - 1) * probability
    lo = int(math.floor(h))
    hi = min(lo + 1, n - 1)
    part = _order_statistics(returns, (lo, hi), probability)
    quantile = part[lo] + (h - lo) * (part[hi] - part[lo])
    # Every return at or below the quantile sits in part[: hi + 1] (part[hi] >= quantile).
    head = part[: hi + 1]
    tail = head[head <= quantile]
    cvar = -float(tail.mean()) if tail.size else -quantile
    return _loss(-float(quantile)), _loss(cvar)


def _loss(value: float) -> float:
    # Gains are not negative losses, and -0.0 must never reach the report.
    return float(value) if value > 0.0 else 0.0


def path_metrics(result: eng.SimulationResult, capital: float) -> dict[str, float]:
    equity = result.equity
    returns = result.returns
    n = returns.shape[0]
    stats = result.stats
    var_95, cvar_95 = _tail_losses(returns, 0.05)
    var_99, cvar_99 = _tail_losses(returns, 0.01)
    annualiser = math.sqrt(_SECONDS_PER_YEAR / result.bar_seconds)
    mean = float(stats[eng.SUM_RETURN]) / n
    std = math.sqrt(max(float(stats[eng.SUM_RETURN_SQ]) / n - mean * mean, 0.0))
    downside = math.sqrt(float(stats[eng.SUM_DOWNSIDE_SQ]) / n)
    requested = stats[eng.REQUESTED]
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
        "trades": float(stats[eng.TRADES]),
        # Nothing asked means nothing left unfilled.
        "fill_rate": float(stats[eng.FILLED] / requested) if requested > 0.0 else 1.0,
        "avg_slippage_bps": float(stats[eng.SLIP_NOTIONAL] / decision_notional * 1e4)
        if decision_notional
        else 0.0,
        "limit_breaches": float(stats[eng.STOPS] + stats[eng.DAILY_BREACHES] + stats[eng.RATE_REJECTS]),
        "halts": float(stats[eng.HALTS]),
    }


def combine_paths(per_path: list[dict[str, float]]) -> dict[str, float]:
    if len(per_path) == 1:
        return dict(per_path[0])
    out = {}
    for key in METRIC_KEYS:
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


def chart_series(equity: np.ndarray, points: int = 240) -> dict[str, list[float]]:
    """Equity and drawdown reduced to ``points`` buckets for charts; each bucket keeps its deepest
    drawdown so a one-bar crash stays visible."""
    dd = drawdown_series(equity)
    n = equity.shape[0]
    edges = np.unique(np.linspace(0, n, min(points, n) + 1).astype(np.int64))[:-1]
    ends = np.concatenate((edges[1:], [n])) - 1
    return {
        "equity": [float(x) for x in equity[ends]],
        "drawdown": [float(x) for x in np.maximum.reduceat(dd, edges)],
    }
