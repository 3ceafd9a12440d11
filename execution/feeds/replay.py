"""Replay of Parquet OHLCV bars (``risklab`` market data) as a feed: deterministic, with a speed factor.

Bars of every symbol are merged into one sequence ordered by (bar time, symbol), so the same files always
give the same sequence. ``speed`` scales time: 1.0 waits a bar's interval between bars, 100.0 a
hundredth of it, ``0`` (``max``) not at all. Gaps in the data (exchange outages) wait at most one
interval, so a replay never stalls for hours. Files are loaded and validated by
``risklab.engine.data.load_bars`` (the Paper Labs loader): bad data is refused in one line, never repaired.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from execution.feeds.base import Bar, BarSink, FeedError, timeframe_of
from risklab.engine.data import Bars, MarketDataError, load_bars

_SYMBOL_FROM_NAME = re.compile(r"^([A-Z0-9]+)_([A-Z0-9]+)(?:[-.].*)?\Z")


def symbol_from_filename(path: Path) -> str:
    """``ETH_BTC-5m.parquet`` -> ``ETH/BTC`` (the committed sample's naming)."""
    match = _SYMBOL_FROM_NAME.match(Path(path).name.removesuffix(".parquet"))
    if match is None:
        raise FeedError(f"{Path(path).name}: name the file BASE_QUOTE[-anything].parquet to tell its symbol")
    return f"{match.group(1)}/{match.group(2)}"


class ReplayFeed:
    def __init__(
        self,
        bars: dict[str, Bars],
        *,
        speed: float = 0.0,
        start: int = 0,
        stop_after: int | None = None,
        label: str = "",
    ) -> None:
        if not bars:
            raise FeedError("replay needs at least one symbol")
        if not (math.isfinite(speed) and speed >= 0):
            raise FeedError(f"replay speed must be >= 0 (0 = as fast as possible), got {speed!r}")
        self.speed = float(speed)
        self.symbols = tuple(sorted(bars))
        intervals = {round(b.bar_seconds, 6) for b in bars.values()}
        if len(intervals) != 1:
            raise FeedError(f"replay files have different bar intervals: {sorted(intervals)}")
        self.bar_seconds = float(intervals.pop())
        self.timeframe = timeframe_of(self.bar_seconds)
        self.name = label or f"replay:{','.join(b.name for b in bars.values())}"
        self.inputs = {s: {"file": b.name, "sha384": b.sha384, "bars": len(b)} for s, b in bars.items()}
        ts = np.concatenate([bars[s].timestamp for s in self.symbols])
        which = np.concatenate([np.full(len(bars[s]), i) for i, s in enumerate(self.symbols)])
        row = np.concatenate([np.arange(len(bars[s])) for s in self.symbols])
        order = np.lexsort((which, ts))
        self._columns = {
            s: np.stack(
                [
                    bars[s].timestamp / 1e9,
                    bars[s].open,
                    bars[s].high,
                    bars[s].low,
                    bars[s].close,
                    bars[s].volume,
                ]
            )
            for s in self.symbols
        }
        sequence = list(zip(which[order].tolist(), row[order].tolist(), strict=True))
        self._sequence = sequence[start : None if stop_after is None else start + stop_after]
        self.position = 0
        self.delivered = 0

    @classmethod
    def from_files(cls, paths, *, speed: float = 0.0, **kw) -> ReplayFeed:
        bars: dict[str, Bars] = {}
        for path in paths:
            symbol = symbol_from_filename(Path(path))
            if symbol in bars:
                raise FeedError(f"two replay files for {symbol}")
            try:
                bars[symbol] = load_bars(path)
            except MarketDataError as exc:
                raise FeedError(f"replay: {exc}") from None
        label = "replay:" + ",".join(Path(p).name for p in paths) + (f":{speed:g}" if speed else ":max")
        return cls(bars, speed=speed, label=label, **kw)

    def __len__(self) -> int:
        return len(self._sequence)

    @property
    def done(self) -> bool:
        return self.position >= len(self._sequence)

    def next_bar(self) -> Bar | None:
        if self.done:
            return None
        which, row = self._sequence[self.position]
        self.position += 1
        symbol = self.symbols[which]
        ts, o, h, lo, c, v = self._columns[symbol][:, row].tolist()
        return Bar(symbol, ts, o, h, lo, c, v)

    def run(
        self, sink: BarSink, stop: threading.Event, *, wait: Callable[[float], bool] | None = None
    ) -> None:
        wait = wait or stop.wait
        previous_ts: float | None = None
        while not stop.is_set():
            bar = self.next_bar()
            if bar is None:
                return
            if self.speed and previous_ts is not None and bar.ts > previous_ts:
                if wait(min(bar.ts - previous_ts, self.bar_seconds) / self.speed):
                    return
            previous_ts = bar.ts
            sink(bar)
            self.delivered += 1
