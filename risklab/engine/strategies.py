"""Strategies as pure functions of bars -> target position per bar.

Shared with the live daemon, so they only read ``bars.close`` (any object with a float64 ``close`` array
works) and never look ahead: the target at bar t uses closes up to and including t, and the engine fills
it at that bar's close at the earliest (market-on-close).

Targets are fractions of the profile's position size in [-1, 1]; the engine scales them by
``position_fraction * leverage``. The shipped strategies are long-only ([0, 1]) by default because the
sample markets are spot pairs; ``allow_short=True`` lets the two active ones go to -1.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numba import njit


def buy_and_hold(bars) -> np.ndarray:
    """Fully long from the first bar: the reference every other strategy is judged against."""
    return np.ones_like(bars.close, dtype=np.float64)


def ema_crossover(bars, fast: int = 12, slow: int = 48, allow_short: bool = False) -> np.ndarray:
    """Trend following: long while the fast EMA is above the slow one (short below if allowed)."""
    if not 0 < fast < slow:
        raise ValueError(f"ema_crossover: need 0 < fast < slow, got fast={fast} slow={slow}")
    close = np.ascontiguousarray(bars.close, dtype=np.float64)
    return _ema_crossover_target(close, fast, slow, -1.0 if allow_short else 0.0)


@njit(cache=False, nogil=True)
def _ema_crossover_target(close: np.ndarray, fast: int, slow: int, below: float) -> np.ndarray:
    # Both EMAs in one pass (the same arithmetic as ``_ema``): two independent recursions overlap in the
    # pipeline, and no intermediate arrays are written.
    alpha_fast = 2.0 / (fast + 1.0)
    alpha_slow = 2.0 / (slow + 1.0)
    n = close.shape[0]
    out = np.empty(n)
    acc_fast = close[0] if n else 0.0
    acc_slow = acc_fast
    for i in range(n):
        acc_fast = acc_fast + alpha_fast * (close[i] - acc_fast)
        acc_slow = acc_slow + alpha_slow * (close[i] - acc_slow)
        # The slow EMA is still dominated by its seed value for the first ``slow`` bars.
        out[i] = 0.0 if i < slow else (1.0 if acc_fast > acc_slow else below)
    return out


@njit(cache=False, nogil=True)
def _hysteresis(z: np.ndarray, entry: float, exit_: float, allow_short: bool) -> np.ndarray:
    # Enter beyond +-entry, leave on crossing back through +-exit: without the memory the position would
    # flip every bar around the threshold and the result would measure fees, not the idea.
    out = np.zeros_like(z)
    state = 0.0
    for i in range(z.shape[0]):
        zi = z[i]
        if state == 0.0:
            if zi < -entry:
                state = 1.0
            elif allow_short and zi > entry:
                state = -1.0
        elif state > 0.0 and zi >= -exit_:
            state = 0.0
        elif state < 0.0 and zi <= exit_:
            state = 0.0
        out[i] = state
    return out


def zscore_reversion(
    bars, window: int = 48, entry: float = 2.0, exit: float = 0.0, allow_short: bool = False
) -> np.ndarray:
    """Mean reversion: buy ``entry`` rolling std below the rolling mean, exit back at ``exit``."""
    if window < 2 or entry <= 0 or exit >= entry:
        raise ValueError(f"zscore_reversion: bad parameters window={window} entry={entry} exit={exit}")
    close = np.ascontiguousarray(bars.close, dtype=np.float64)
    n = close.shape[0]
    z = np.zeros(n)
    if n > window:
        # Centre on the first price so the running sums stay well conditioned over a million bars.
        centred = close - close[0]
        s1 = np.concatenate(([0.0], np.cumsum(centred)))
        s2 = np.concatenate(([0.0], np.cumsum(centred * centred)))
        mean = (s1[window:] - s1[:-window]) / window
        var = np.maximum((s2[window:] - s2[:-window]) / window - mean * mean, 0.0)
        std = np.sqrt(var)
        with np.errstate(divide="ignore", invalid="ignore"):
            zz = np.where(
                std > 1e-12 * np.abs(close[window - 1 :]), (centred[window - 1 :] - mean) / std, 0.0
            )
        z[window - 1 :] = zz
    return _hysteresis(z, float(entry), float(exit), bool(allow_short))


STRATEGIES: dict[str, Callable[..., np.ndarray]] = {
    "buy_and_hold": buy_and_hold,
    "ema_crossover": ema_crossover,
    "zscore_reversion": zscore_reversion,
}
