"""The strategy runtime of one daemon: feed thread -> market data -> paper venues and risk -> strategies.

Per bar, in this order and on the feed's thread: ``MarketData`` records it; every paper venue gets it as
its latest bar (the Paper Labs execution model then fills against the feed's prices, not fixed ones) and
every risk engine as its reference price; resting orders are polled; then the strategies of that symbol
run (``StrategyHost``). A staleness check (its own thread, and at every bar) marks symbols without fresh
data stale in every risk engine, so new orders on them are refused with ``STALE_MARKET_DATA`` whoever
sends them, and fresh again when data returns.

Strategy orders take the daemon's order path (``DaemonOrderPort``): the same mode and live-gate checks as
``SubmitOrder``, then the router (pre-trade risk, journal, venues). Starts, stops, halts and refused starts
are appended to ``<data_dir>/audit/strategy_events.jsonl`` (one canonical JSON object per line, fsynced)
and published as telemetry events of kind ``strategy``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge

from audit.trust.canonical import canonical_bytes
from execution.core.orders import Stage
from execution.feeds.base import Bar, Feed, MarketData
from execution.live_router import RouteResult, RouterEvent
from execution.strategy.context import Refusal, RuntimeGrant
from execution.strategy.host import StrategyHost

_STATE_VALUE = {"STOPPED": 0.0, "RUNNING": 1.0, "HALTED": 2.0}


class DaemonOrderPort:
    """Strategy orders through the daemon's own checks: the stage must be served by this daemon's mode
    (a demo daemon serves demo only, paper serves demo and paper) and live needs the unlocked gate."""

    SERVED = {"demo": {Stage.DEMO}, "paper": {Stage.DEMO, Stage.PAPER}, "live": set(Stage)}

    def __init__(self, core, *, mode: str, grant: Callable[[], RuntimeGrant]) -> None:
        self.core = core
        self.mode = mode
        self.grant = grant

    def submit(self, *, cid, symbol, side, qty, order_type, limit_price, stage, owner) -> RouteResult:
        stage = Stage(stage)
        if stage not in self.SERVED[self.mode]:
            return RouteResult(
                None,
                False,
                reason="STAGE_NOT_SERVED",
                message=f"a {self.mode} daemon takes no {stage} orders",
            )
        if stage is Stage.LIVE and not self.grant().live_unlocked:
            return RouteResult(None, False, reason=str(Refusal.LIVE_LOCKED), message="live is locked")
        return self.core.submit(
            cid=cid,
            symbol=symbol,
            side=side,
            qty=qty,
            order_type=order_type,
            limit_price=limit_price,
            stage=stage,
            owner=owner,
        )

    def lot_rule(self, symbol: str, stage: Stage):
        return self.core.lot_rule(symbol, stage)

    def cancel(self, cid: str) -> RouteResult:
        return self.core.cancel(cid)

    def get(self, cid: str):
        with self.core.lock:
            return self.core.find(cid)[1]


class StrategyMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        self.state = Gauge("oem_strategy_state", "0 stopped, 1 running, 2 halted", ["strategy"], registry=r)
        self.bars = Counter("oem_strategy_bars_total", "Bars a strategy processed", ["strategy"], registry=r)
        self.orders = Counter(
            "oem_strategy_orders_total", "Strategy orders by outcome", ["strategy", "outcome"], registry=r
        )
        self.pnl = Gauge(
            "oem_strategy_pnl", "Strategy P&L (quote currency, fees included)", ["strategy"], registry=r
        )
        self.position = Gauge(
            "oem_strategy_position", "Strategy position", ["strategy", "symbol"], registry=r
        )
        self.stale = Gauge(
            "oem_market_data_stale", "1 when the symbol's market data is stale", ["symbol"], registry=r
        )
        self.feed_bars = Counter(
            "oem_market_data_bars_total", "Bars received from the feed", ["symbol"], registry=r
        )


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def record(self, entry: dict) -> None:
        line = canonical_bytes(entry) + b"\n"
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)


class StrategyRuntime:
    def __init__(
        self,
        *,
        core,
        host: StrategyHost,
        market: MarketData,
        feed: Feed | None,
        registry: CollectorRegistry | None = None,
        audit_path: Path | None = None,
    ) -> None:
        self.core = core
        self.host = host
        self.market = market
        self.feed = feed
        self.metrics = StrategyMetrics(registry or CollectorRegistry())
        self.audit = AuditLog(audit_path) if audit_path else None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._stale: set[str] = set()
        self._counted: dict[str, tuple[int, dict]] = {}
        self.bars_applied = 0
        self.feed_error = ""
        self.feed_done = False
        self.feed_released = threading.Event()
        self.feed_released.set()

    # -- events from the host -------------------------------------------------------------------------------
    def on_host_event(self, kind: str, data: dict) -> None:
        entry = {
            "ts": round(time.time(), 6),
            "event": kind,
            **{k: v for k, v in data.items() if v is not None},
        }
        if self.audit is not None:
            self.audit.record(entry)
        self.core.telemetry.publish(RouterEvent("strategy", time.time(), data=entry))
        self.refresh_metrics()

    # -- market data ----------------------------------------------------------------------------------------
    def on_bar(self, bar: Bar) -> None:
        if not self.market.on_bar(bar):
            return
        self.metrics.feed_bars.labels(bar.symbol).inc()
        with self.core.lock:
            for venue in self.core.paper_venues:
                venue.on_bar(bar.symbol, bar.close, bar.volume)
            for router in self.core.routers.values():
                if router.risk is not None:
                    router.risk.set_reference_price(bar.symbol, bar.close)
            if bar.symbol in self._stale:
                self.check_staleness()
        for router in self.core.routers.values():
            router.poll()
        self.bars_applied += 1
        self.host.on_bar(bar)

    def stale_symbols(self) -> list[str]:
        """Symbols without fresh data. Without a feed there is no market data to be stale: the daemon then
        trades on its fixed ``--prices`` and nothing is refused for staleness."""
        return self.market.stale_symbols() if self.feed is not None else []

    def check_staleness(self) -> list[str]:
        stale = set(self.stale_symbols())
        with self.core.lock:
            for symbol in stale | self._stale:
                why = (
                    f"no market data for more than {self.market.stale_after_s:g}s"
                    if symbol in stale
                    else None
                )
                for router in self.core.routers.values():
                    if router.risk is not None:
                        router.risk.set_stale(symbol, why)
                self.metrics.stale.labels(symbol).set(1.0 if symbol in stale else 0.0)
            changed = stale ^ self._stale
            self._stale = stale
        for symbol in sorted(changed):
            self.core.telemetry.publish(
                RouterEvent("market_data", time.time(), data={"symbol": symbol, "stale": symbol in stale})
            )
        return sorted(stale)

    def refresh_metrics(self) -> None:
        for info in self.host.list():
            self.metrics.state.labels(info.name).set(_STATE_VALUE.get(info.state, 0.0))
            self.metrics.pnl.labels(info.name).set(info.pnl)
            for symbol, qty in info.positions.items():
                self.metrics.position.labels(info.name, symbol).set(qty)
            bars, outcomes = self._counted.get(info.name, (0, {}))
            if info.bars > bars:
                self.metrics.bars.labels(info.name).inc(info.bars - bars)
            current = {"accepted": info.accepted, **info.refused}
            for outcome, count in current.items():
                if count > outcomes.get(outcome, 0):
                    self.metrics.orders.labels(info.name, outcome).inc(count - outcomes.get(outcome, 0))
            self._counted[info.name] = (info.bars, current)

    # -- lifecycle ------------------------------------------------------------------------------------------
    def autostart(self, actor: str = "config") -> None:
        for name, slot in self.host.slots.items():
            if slot.spec.autostart:
                self.host.start(name, actor=actor, reason="autostart")

    def hold_feed(self) -> None:
        """Keep the feed from delivering until ``release_feed`` (a smoke subscribes before the first bar)."""
        self.feed_released.clear()

    def release_feed(self) -> None:
        self.feed_released.set()

    def start(self, *, check_s: float = 1.0) -> None:
        if self.feed is not None:
            self._threads.append(threading.Thread(target=self._run_feed, name="market-feed", daemon=True))
        self._threads.append(
            threading.Thread(target=self._watch, args=(check_s,), name="market-staleness", daemon=True)
        )
        for thread in self._threads:
            thread.start()

    def _run_feed(self) -> None:
        while not self.feed_released.wait(0.1):
            if self._stop.is_set():
                return
        try:
            self.feed.run(self.on_bar, self._stop)
        except Exception as exc:  # noqa: BLE001 - a dead feed makes the data stale, never the daemon
            self.feed_error = f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
        self.feed_done = True

    def _watch(self, check_s: float) -> None:
        while not self._stop.wait(check_s):
            try:
                self.check_staleness()
                self.refresh_metrics()
            except Exception:  # noqa: BLE001,S110 - keep watching; the next round retries
                pass

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
