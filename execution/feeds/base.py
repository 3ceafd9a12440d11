"""Bars, the feed protocol and ``MarketData``: latest bars per symbol, a bounded history, staleness.

``MarketData`` is written by one feed thread and read by strategies on that same thread, plus status
readers on others; a lock guards the per-symbol state. Staleness is judged on receipt time from the
injected clock: a replay of 2018 data is fresh while it plays, and a live feed whose bars stop arriving is
stale after ``stale_after_s`` even though its last bar looked recent.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from execution.core.clock import Clock, SystemClock

DEFAULT_HISTORY = 1_000
DEFAULT_STALE_AFTER_S = 30.0


class FeedError(ValueError):
    """A feed that cannot be built or read; the message is one line."""


@dataclass(frozen=True)
class Bar:
    symbol: str
    ts: float  # bar open time, seconds since the epoch (UTC)
    open: float
    high: float
    low: float
    close: float
    volume: float

    def __post_init__(self) -> None:
        values = (self.open, self.high, self.low, self.close)
        if not all(math.isfinite(v) and v > 0 for v in values):
            raise FeedError(f"{self.symbol}: bar at {self.ts} has a non-positive or non-finite price")
        if not (math.isfinite(self.volume) and self.volume >= 0):
            raise FeedError(f"{self.symbol}: bar at {self.ts} has a negative or non-finite volume")


BarSink = Callable[[Bar], None]


class Feed(Protocol):
    name: str  # what GetStatus shows, e.g. "replay:ETH_BTC-5m.parquet x100"
    timeframe: str  # "5m", "1h"...
    symbols: tuple[str, ...]

    def run(self, sink: BarSink, stop: threading.Event) -> None:
        """Deliver bars to ``sink`` until the data ends or ``stop`` is set (blocking)."""


class BarWindow:
    """The last bars of one symbol as float64 columns (views, oldest first): what a strategy function reads
    (``risklab.engine.strategies`` only reads ``close``)."""

    __slots__ = ("timestamp", "open", "high", "low", "close", "volume")

    def __init__(self, columns: np.ndarray) -> None:
        self.timestamp, self.open, self.high, self.low, self.close, self.volume = columns

    def __len__(self) -> int:
        return int(self.close.shape[0])


class _History:
    """A ring of ``2 * size`` rows: O(1) amortised appends, the window is always one contiguous view."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.data = np.empty((6, 2 * size))
        self.end = 0

    def append(self, bar: Bar) -> None:
        if self.end == self.data.shape[1]:
            self.data[:, : self.size] = self.data[:, self.end - self.size : self.end]
            self.end = self.size
        self.data[:, self.end] = (bar.ts, bar.open, bar.high, bar.low, bar.close, bar.volume)
        self.end += 1

    def window(self, n: int | None = None) -> BarWindow:
        count = min(self.end, self.size if n is None else min(n, self.size))
        return BarWindow(self.data[:, self.end - count : self.end])


@dataclass(frozen=True)
class SymbolStatus:
    symbol: str
    last_close: float
    last_bar_ts: float
    received_at: float
    stale: bool


class MarketData:
    def __init__(
        self,
        *,
        clock: Clock | None = None,
        stale_after_s: float = DEFAULT_STALE_AFTER_S,
        history: int = DEFAULT_HISTORY,
    ) -> None:
        if not (math.isfinite(stale_after_s) and stale_after_s > 0):
            raise FeedError(f"stale_after_s must be a positive number of seconds, got {stale_after_s!r}")
        if history < 2:
            raise FeedError(f"history must be at least 2 bars, got {history}")
        self.clock = clock or SystemClock()
        self.stale_after_s = float(stale_after_s)
        self._history_size = history
        self._lock = threading.Lock()
        self._latest: dict[str, Bar] = {}
        self._received: dict[str, float] = {}
        self._history: dict[str, _History] = {}
        self._expected: set[str] = set()
        self.bars_received = 0

    def expect(self, symbols) -> None:
        """Symbols that must have data: one with none at all is stale from the start."""
        with self._lock:
            self._expected.update(symbols)

    def on_bar(self, bar: Bar) -> bool:
        """Record a bar; False when it is not newer than the symbol's latest (a feed re-sending it)."""
        with self._lock:
            latest = self._latest.get(bar.symbol)
            self._received[bar.symbol] = self.clock.now()
            if latest is not None and bar.ts <= latest.ts:
                return False
            self._latest[bar.symbol] = bar
            history = self._history.get(bar.symbol)
            if history is None:
                history = self._history[bar.symbol] = _History(self._history_size)
            history.append(bar)
            self.bars_received += 1
            return True

    def touch(self, symbol: str) -> None:
        """Fresh data arrived for ``symbol`` without a new bar (a poll that returned the current bar)."""
        with self._lock:
            self._received[symbol] = self.clock.now()

    def latest(self, symbol: str) -> Bar | None:
        with self._lock:
            return self._latest.get(symbol)

    def window(self, symbol: str, n: int | None = None) -> BarWindow | None:
        with self._lock:
            history = self._history.get(symbol)
            return None if history is None else history.window(n)

    def is_stale(self, symbol: str) -> bool:
        with self._lock:
            return self._stale_locked(symbol, self.clock.now())

    def _stale_locked(self, symbol: str, now: float) -> bool:
        received = self._received.get(symbol)
        return received is None or now - received > self.stale_after_s

    def stale_symbols(self) -> list[str]:
        with self._lock:
            now = self.clock.now()
            symbols = self._expected | set(self._received)
            return sorted(s for s in symbols if self._stale_locked(s, now))

    def status(self) -> list[SymbolStatus]:
        with self._lock:
            now = self.clock.now()
            out = []
            for symbol in sorted(self._expected | set(self._received)):
                bar = self._latest.get(symbol)
                out.append(
                    SymbolStatus(
                        symbol,
                        bar.close if bar else 0.0,
                        bar.ts if bar else 0.0,
                        self._received.get(symbol, 0.0),
                        self._stale_locked(symbol, now),
                    )
                )
            return out


def timeframe_seconds(timeframe: str) -> float:
    """``"5m"`` -> 300.0. Units s, m, h, d; anything else is a one-line FeedError."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    number, unit = timeframe[:-1], timeframe[-1:]
    if unit not in units or not number.isdigit() or not 0 < int(number) <= 10_000:
        raise FeedError(f"timeframe {timeframe!r} is not <number><s|m|h|d>")
    return float(int(number) * units[unit])


def timeframe_of(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"
