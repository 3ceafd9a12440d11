"""Stress scenarios: deterministic transforms of real bars into one or more market paths.

Every scenario returns the transformed arrays plus a ``params`` dict with all effective parameters
(defaults filled in, seeded choices resolved to bar indices) so each report row says exactly what ran.
Randomness comes only from the ``rng`` built from the lab seed and the scenario name; scenarios that do
not need it never draw from it, so changing the seed changes nothing but the random scenarios.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numba import njit

from risklab.engine.data import Bars


class ScenarioError(ValueError):
    """Bad scenario name or parameters; one line."""


@dataclass(frozen=True, eq=False)
class MarketPath:
    """One market the engine runs on: bars plus execution conditions per bar.

    ``spread_bps`` is an extra one-way cost on every fill at that bar (a widened half-spread);
    ``delay`` is how many bars an order placed at that bar takes to reach the venue.
    """

    label: str
    bars: Bars
    spread_bps: np.ndarray
    delay: np.ndarray
    window: tuple[int, int] | None = None  # [start, stop) bars where the stress acts; None for baseline


@dataclass(frozen=True, eq=False)
class ScenarioResult:
    name: str
    paths: tuple[MarketPath, ...]
    params: dict


# Scenarios that perturb the real bars in place, so their rows are comparable with baseline rows bar for
# bar (historical windows and bootstrap paths are other markets, not perturbations of this one).
PERTURBATIONS = ("flash_crash", "dry_liquidity", "latency_spike")


def _plain_path(label: str, bars: Bars, window: tuple[int, int] | None = None) -> MarketPath:
    n = len(bars)
    return MarketPath(label, bars, np.zeros(n), np.zeros(n, dtype=np.int64), window)


def utc(ns: int) -> str:
    return np.datetime_as_string(np.datetime64(int(ns), "ns"), unit="s") + "Z"


def _window_params(bars: Bars, start: int, stop: int) -> dict:
    """The stress window as bar indices and as UTC times (start of the first bar, start of the last)."""
    return {
        "window_start_index": start,
        "window_stop_index": stop,
        "start_utc": utc(bars.timestamp[start]),
        "end_utc": utc(bars.timestamp[stop - 1]),
    }


def worst_drawdown_episodes(close: np.ndarray, count: int) -> list[tuple[float, int, int]]:
    """The ``count`` deepest peak-to-trough episodes as (depth, peak index, trough index), deepest first.

    An episode runs from a new running high to the lowest close before the next new high, so episodes
    never overlap.
    """
    close = np.ascontiguousarray(close, dtype=np.float64)
    if count == 1:  # where every stress window is placed: one pass, no per-bar arrays
        low, start, trough = _deepest_episode(close)
        return [(1.0 - low, start, trough)] if 1.0 - low > 0.0 else []
    starts, lows, troughs = _episodes(close)
    order = np.argsort(lows, kind="stable")[:count]
    episodes = []
    for k in order:
        depth = 1.0 - float(lows[k])
        if depth <= 0.0:
            break
        episodes.append((depth, int(starts[k]), int(troughs[k])))
    return episodes


@njit(cache=False, nogil=True)
def _episodes(close):
    # One pass: each episode's start (a close at or above the running high), its lowest close / running
    # high and the first bar at that low. The same divisions as ``close / running_max``, so bit-identical.
    n = close.shape[0]
    starts = np.empty(n, dtype=np.int64)
    lows = np.empty(n)
    troughs = np.empty(n, dtype=np.int64)
    k = -1
    running_max = -np.inf
    for i in range(n):
        c = close[i]
        new_high = i == 0 or c >= running_max
        if c > running_max:
            running_max = c
        ratio = c / running_max
        if new_high:
            k += 1
            starts[k] = i
            lows[k] = ratio
            troughs[k] = i
        elif ratio < lows[k]:
            lows[k] = ratio
            troughs[k] = i
    return starts[: k + 1], lows[: k + 1], troughs[: k + 1]


@njit(cache=False, nogil=True)
def _deepest_episode(close):
    # ``_episodes`` reduced to its deepest episode (the first of equally deep ones, as a stable sort
    # picks): (lowest close / running high, start, trough).
    best_low, best_start, best_trough = np.inf, 0, 0
    start, low, trough = 0, np.inf, 0
    running_max = -np.inf
    for i in range(close.shape[0]):
        c = close[i]
        new_high = i == 0 or c >= running_max
        if c > running_max:
            running_max = c
        ratio = c / running_max
        if new_high:
            if low < best_low:
                best_low, best_start, best_trough = low, start, trough
            start, low, trough = i, ratio, i
        elif ratio < low:
            low, trough = ratio, i
    if low < best_low:
        best_low, best_start, best_trough = low, start, trough
    return best_low, best_start, best_trough


def _resolve_at(bars: Bars, at, rng: np.random.Generator, span: int) -> int:
    """Where a stress window starts: a fraction of the series, a bar index, the start of the worst real
    drawdown, or a seeded random point. Always leaves room for ``span`` bars."""
    n = len(bars)
    last = max(n - span, 1)
    if at == "worst_drawdown":
        episodes = worst_drawdown_episodes(bars.close, 1)
        index = episodes[0][1] if episodes else n // 2
    elif at == "seeded":
        index = int(rng.integers(max(n // 10, 1), max(int(n * 0.8), n // 10 + 2)))
    elif isinstance(at, float) and 0.0 <= at < 1.0:
        index = int(at * n)
    elif isinstance(at, int) and not isinstance(at, bool) and 0 <= at < n:
        index = at
    else:
        raise ScenarioError(
            f"at={at!r} must be 'worst_drawdown', 'seeded', a fraction in [0, 1) or a bar index"
        )
    return int(min(max(index, 1), last))


def baseline(bars: Bars, rng: np.random.Generator) -> ScenarioResult:
    return ScenarioResult("baseline", (_plain_path("baseline", bars),), {})


def flash_crash(
    bars: Bars,
    rng: np.random.Generator,
    depth: float = 0.30,
    crash_bars: int = 6,
    recovery: float = 0.5,
    recovery_bars: int = 36,
    at="worst_drawdown",
) -> ScenarioResult:
    """Prices fall ``depth`` over ``crash_bars`` gapped bars from the close before ``at``, then recover
    ``recovery`` of the drop over ``recovery_bars``; real bar-to-bar moves resume afterwards at the new level.

    Inside the window the path is synthetic (linear in price) so the drop is exactly ``depth``: real noise
    there could otherwise hide part of the crash and make the stress weaker than stated.
    """
    if not 0.0 < depth < 1.0 or not 0.0 <= recovery <= 1.0 or crash_bars < 1 or recovery_bars < 0:
        raise ScenarioError(
            f"flash_crash: need 0<depth<1, 0<=recovery<=1, crash_bars>=1, recovery_bars>=0 "
            f"(got depth={depth}, recovery={recovery}, crash_bars={crash_bars}, "
            f"recovery_bars={recovery_bars})"
        )
    n = len(bars)
    span = crash_bars + recovery_bars
    if n < span + 2:
        raise ScenarioError(f"flash_crash: {n} bars is too short for a {span}-bar crash window")
    start = _resolve_at(bars, at, rng, span + 1)
    anchor = bars.close[start - 1]
    bottom = 1.0 - depth
    settled = bottom + depth * recovery
    down = 1.0 - depth * np.arange(1, crash_bars + 1) / crash_bars
    up = bottom + (settled - bottom) * np.arange(1, recovery_bars + 1) / max(recovery_bars, 1)
    synthetic_close = anchor * np.concatenate((down, up))
    # Crash bars gap (open = close): liquidity is gone on the way down, so a stop fills at the gapped
    # price instead of conveniently at its trigger. Recovery bars trade from the previous close.
    synthetic_open = np.concatenate((anchor * down, anchor * np.concatenate((down[-1:], up[:-1]))))
    stop = start + span
    # Everything after the window keeps its real shape, rescaled to continue from the settled level.
    scale = anchor * settled / bars.close[stop - 1]
    arrays = {}
    for name in ("open", "high", "low", "close"):
        column = getattr(bars, name).copy()
        column[stop:] *= scale
        arrays[name] = column
    arrays["open"][start:stop] = synthetic_open
    arrays["close"][start:stop] = synthetic_close
    arrays["high"][start:stop] = np.maximum(synthetic_open, synthetic_close)
    arrays["low"][start:stop] = np.minimum(synthetic_open, synthetic_close)
    crashed = bars.replace(**arrays)
    params = {
        "depth": depth,
        "crash_bars": crash_bars,
        "recovery": recovery,
        "recovery_bars": recovery_bars,
        "at": at,
        "start_index": start,
        "start_timestamp_ns": int(bars.timestamp[start]),
        **_window_params(bars, start, stop),
    }
    return ScenarioResult("flash_crash", (_plain_path("flash_crash", crashed, (start, stop)),), params)


def dry_liquidity(
    bars: Bars,
    rng: np.random.Generator,
    factor: float = 20.0,
    window_bars: int = 288,
    spread_bps: float = 25.0,
    at="worst_drawdown",
) -> ScenarioResult:
    """Volume divided by ``factor`` for ``window_bars`` and an extra ``spread_bps`` cost per fill there.

    Prices are untouched; the engine turns the thinner volume into partial fills (participation cap) and
    larger impact (slippage grows with order size over available volume).
    """
    if factor < 1.0 or window_bars < 1 or spread_bps < 0.0:
        raise ScenarioError(
            f"dry_liquidity: need factor>=1, window_bars>=1, spread_bps>=0 "
            f"(got factor={factor}, window_bars={window_bars}, spread_bps={spread_bps})"
        )
    n = len(bars)
    window_bars = min(window_bars, n - 1)
    start = _resolve_at(bars, at, rng, window_bars)
    stop = start + window_bars
    volume = bars.volume.copy()
    volume[start:stop] /= factor
    spread = np.zeros(n)
    spread[start:stop] = spread_bps
    path = MarketPath(
        "dry_liquidity", bars.replace(volume=volume), spread, np.zeros(n, dtype=np.int64), (start, stop)
    )
    params = {
        "factor": factor,
        "window_bars": window_bars,
        "spread_bps": spread_bps,
        "at": at,
        "start_index": start,
        "start_timestamp_ns": int(bars.timestamp[start]),
        **_window_params(bars, start, stop),
    }
    return ScenarioResult("dry_liquidity", (path,), params)


def latency_spike(
    bars: Bars, rng: np.random.Generator, delay_bars: int = 3, window_bars: int = 288, at="worst_drawdown"
) -> ScenarioResult:
    """Orders placed in the window reach the venue ``delay_bars`` later and fill at the worse of the
    decision price and the arrival price (the engine applies that rule)."""
    if delay_bars < 1 or window_bars < 1:
        raise ScenarioError(
            f"latency_spike: need delay_bars>=1, window_bars>=1 (got {delay_bars}, {window_bars})"
        )
    n = len(bars)
    window_bars = min(window_bars, n - 1)
    start = _resolve_at(bars, at, rng, window_bars)
    delay = np.zeros(n, dtype=np.int64)
    delay[start : start + window_bars] = delay_bars
    path = MarketPath("latency_spike", bars, np.zeros(n), delay, (start, start + window_bars))
    params = {
        "delay_bars": delay_bars,
        "window_bars": window_bars,
        "at": at,
        "start_index": start,
        "start_timestamp_ns": int(bars.timestamp[start]),
        **_window_params(bars, start, start + window_bars),
    }
    return ScenarioResult("latency_spike", (path,), params)


def historical(bars: Bars, rng: np.random.Generator, windows: int = 3, pad_bars: int = 144) -> ScenarioResult:
    """The ``windows`` deepest real drawdowns, each as its own path padded by ``pad_bars`` either side."""
    if windows < 1 or pad_bars < 0:
        raise ScenarioError(f"historical: need windows>=1, pad_bars>=0 (got {windows}, {pad_bars})")
    n = len(bars)
    episodes = worst_drawdown_episodes(bars.close, windows)
    if not episodes:  # a series that never falls has no drawdown window: run it whole
        episodes = [(0.0, 0, n - 1)]
    paths, found = [], []
    for rank, (depth, peak, trough) in enumerate(episodes):
        lo, hi = max(peak - pad_bars, 0), min(trough + pad_bars + 1, n)
        hi = max(hi, lo + 2)
        # The stress is the fall itself: peak to trough, in the path's own bar indices.
        window = (peak - lo, max(trough + 1, peak + 1) - lo)
        paths.append(_plain_path(f"historical#{rank}", bars.slice(lo, hi), window))
        found.append(
            {
                "depth": depth,
                "start_index": lo,
                "stop_index": hi,
                "peak_index": peak,
                "trough_index": trough,
                "start_utc": utc(bars.timestamp[lo]),
                "end_utc": utc(bars.timestamp[hi - 1]),
            }
        )
    return ScenarioResult(
        "historical", tuple(paths), {"windows": windows, "pad_bars": pad_bars, "found": found}
    )


def block_bootstrap_bars(bars: Bars, rng: np.random.Generator, length: int, block_bars: int) -> Bars:
    """A synthetic series of ``length`` bars made of random blocks of real bars.

    Each sampled bar keeps its real close-to-close return, its real volume and its open/high/low relative
    to its own close. Scaling all four by the same close keeps the OHLC invariants exact in floating point
    (scaling from the previous close would not, by one ulp of cumulative-product drift).
    """
    n = len(bars)
    block = max(1, min(block_bars, n - 1))
    blocks = -(-length // block)
    starts = rng.integers(1, n - block + 1, size=blocks)
    index = (starts[:, None] + np.arange(block)[None, :]).ravel()[:length]
    prev_close = bars.close[index - 1]
    growth = bars.close[index] / prev_close
    close = bars.close[0] * np.cumprod(growth)
    real_close = bars.close[index]
    return Bars(
        name=bars.name,
        timestamp=bars.timestamp[0] + np.arange(length, dtype=np.int64) * int(round(bars.bar_seconds * 1e9)),
        open=close * (bars.open[index] / real_close),
        high=close * (bars.high[index] / real_close),
        low=close * (bars.low[index] / real_close),
        close=close,
        volume=bars.volume[index].copy(),
        bar_seconds=bars.bar_seconds,
        sha384=bars.sha384,
    )


def bootstrap(bars: Bars, rng: np.random.Generator, paths: int = 20, block_bars: int = 288) -> ScenarioResult:
    """``paths`` block-bootstrap resamplings of the real bars, each as long as the original."""
    if paths < 1 or block_bars < 1:
        raise ScenarioError(f"bootstrap: need paths>=1, block_bars>=1 (got {paths}, {block_bars})")
    n = len(bars)
    out = tuple(
        _plain_path(f"bootstrap#{k}", block_bootstrap_bars(bars, rng, n, block_bars), (0, n))
        for k in range(paths)
    )
    # Every resampled path is stress from its first bar to its last.
    params = {"paths": paths, "block_bars": block_bars, **_window_params(bars, 0, n)}
    return ScenarioResult("bootstrap", out, params)


SCENARIOS: dict[str, Callable[..., ScenarioResult]] = {
    "baseline": baseline,
    "flash_crash": flash_crash,
    "dry_liquidity": dry_liquidity,
    "latency_spike": latency_spike,
    "historical": historical,
    "bootstrap": bootstrap,
}


def scenario_rng(seed: int, scenario: str, dataset_sha384: str) -> np.random.Generator:
    """One independent, reproducible stream per (seed, scenario, dataset)."""
    return np.random.default_rng([seed, zlib.crc32(scenario.encode()), int(dataset_sha384[:8] or "0", 16)])


def build_scenario(name: str, bars: Bars, seed: int, params: dict | None = None) -> ScenarioResult:
    if name not in SCENARIOS:
        raise ScenarioError(f"unknown scenario {name!r} (choose from {', '.join(SCENARIOS)})")
    try:
        result = SCENARIOS[name](bars, scenario_rng(seed, name, bars.sha384), **(params or {}))
    except TypeError as exc:  # an unknown keyword: name it instead of dumping a traceback
        raise ScenarioError(f"{name}: {exc}") from None
    for value in _walk_numbers(result.params):
        if isinstance(value, float) and not math.isfinite(value):
            raise ScenarioError(f"{name}: non-finite parameter {value!r}")
    return result


def _walk_numbers(obj):
    if isinstance(obj, dict):
        for value in obj.values():
            yield from _walk_numbers(value)
    elif isinstance(obj, list | tuple):
        for value in obj:
            yield from _walk_numbers(value)
    else:
        yield obj
