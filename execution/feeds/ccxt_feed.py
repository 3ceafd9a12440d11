"""Public OHLCV polling over ccxt for paper and live: reconnect with back-off, rate-limit aware.

One poll asks the exchange for the last ``limit`` candles of each symbol (``fetch_ohlcv``, public, no API
key) and delivers those newer than the last one delivered, oldest first, so bars missed during an outage
arrive in order after the reconnect and none is delivered twice. A poll that succeeds without a new bar still
counts as fresh data for that symbol (``MarketData.touch``): the candle in progress is the current price.

Failures never raise out of ``poll_once``; they set the delay before the next poll:
- rate limited (HTTP 429/418, ``RateLimitExceeded`` / ``DDoSProtection``): wait at least the exchange's
  back-off (``RATE_LIMIT_BACKOFF_S``), doubling while it persists;
- network trouble (dropped connection, timeout) and unusable answers (5xx): exponential back-off from
  ``backoff_s`` up to ``max_backoff_s``; the next successful poll is the reconnect and resets it.
Data that stops arriving makes the symbols stale (``MarketData``); nothing here guesses prices.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

import ccxt

from execution.feeds.base import Bar, BarSink, FeedError, timeframe_seconds

RATE_LIMIT_BACKOFF_S = 1.0


@dataclass
class PollStats:
    polls: int = 0
    bars: int = 0
    rate_limited: int = 0
    disconnects: int = 0
    reconnects: int = 0
    errors: int = 0
    last_error: str = ""
    failing_since_poll: int = 0  # consecutive failed polls


class CcxtPollingFeed:
    def __init__(
        self,
        exchange: ccxt.Exchange,
        symbols,
        *,
        timeframe: str = "1m",
        poll_s: float | None = None,
        limit: int = 5,
        backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        touch: Callable[[str], None] | None = None,
    ) -> None:
        self.exchange = exchange
        self.symbols = tuple(symbols)
        if not self.symbols:
            raise FeedError("ccxt feed needs at least one symbol")
        self.timeframe = timeframe
        interval = timeframe_seconds(timeframe)
        self.poll_s = float(poll_s if poll_s is not None else min(interval / 4, 15.0))
        if not (math.isfinite(self.poll_s) and self.poll_s > 0):
            raise FeedError(f"poll interval must be positive, got {poll_s!r}")
        self.limit = int(limit)
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.touch = touch or (lambda symbol: None)
        self.name = f"ccxt:{exchange.id}:{timeframe}"
        self.stats = PollStats()
        self._last_ts: dict[str, int] = {}

    def _backoff(self, floor: float) -> float:
        step = self.backoff_s * (2 ** max(self.stats.failing_since_poll - 1, 0))
        return min(max(floor, step), max(self.max_backoff_s, floor))

    def poll_once(self, sink: BarSink) -> float:
        """One round over every symbol; returns the seconds to wait before the next round."""
        self.stats.polls += 1
        failed_with: float | None = None
        for symbol in self.symbols:
            try:
                candles = self.exchange.fetch_ohlcv(symbol, self.timeframe, limit=self.limit)
            except (ccxt.RateLimitExceeded, ccxt.DDoSProtection) as exc:
                self.stats.rate_limited += 1
                self._failed(exc)
                failed_with = max(failed_with or 0.0, RATE_LIMIT_BACKOFF_S)
                break  # the whole client is throttled: ask nothing more this round
            except ccxt.NetworkError as exc:
                self.stats.disconnects += 1
                self._failed(exc)
                failed_with = max(failed_with or 0.0, 0.0)
                break
            except ccxt.BaseError as exc:  # an exchange answer we cannot use: count it, keep polling
                self.stats.errors += 1
                self._failed(exc)
                failed_with = max(failed_with or 0.0, 0.0)
                continue
            if self.stats.failing_since_poll:
                self.stats.reconnects += 1
                self.stats.failing_since_poll = 0
            self._deliver(symbol, candles, sink)
        if failed_with is not None:
            return self._backoff(failed_with)
        return self.poll_s

    def _failed(self, exc: Exception) -> None:
        self.stats.failing_since_poll += 1
        self.stats.last_error = f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"

    def _deliver(self, symbol: str, candles, sink: BarSink) -> None:
        last = self._last_ts.get(symbol)
        fresh = False
        for candle in sorted(candles or [], key=lambda c: c[0]):
            try:
                ts = int(candle[0])
                bar = Bar(symbol, ts / 1000.0, *(float(x) for x in candle[1:6]))
            except (TypeError, ValueError, IndexError) as exc:
                self.stats.errors += 1
                self.stats.last_error = f"{symbol}: unusable candle: {str(exc)[:120]}"
                continue
            fresh = True
            if last is not None and ts <= last:
                continue
            sink(bar)
            self.stats.bars += 1
            self._last_ts[symbol] = last = ts
        if fresh:
            self.touch(symbol)

    def run(self, sink: BarSink, stop: threading.Event) -> None:
        while not stop.is_set():
            delay = self.poll_once(sink)
            if stop.wait(delay):
                return
