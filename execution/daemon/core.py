"""The daemon's trading core: LiveRouter(s), pre-trade risk, journals, fan-out of fills and telemetry.

Two routers at most: ``paper`` (demo and paper orders; only ``kind: paper`` venues) and, when the daemon runs
with ``--mode live``, ``live`` (the live profile's venues). Each has its own journal under
``<data_dir>/journal/`` and its own risk engine; both are replayed and reconciled at start. The routers are
not thread-safe: each router takes ``self.lock`` (shared, re-entrant) around its state changes and releases
it while it waits for the journal fsync (group commit, see ``execution.live_router``), so concurrent
SubmitOrder calls share fsyncs. Multi-router operations (tick, kill switch, disconnect) hold ``self.lock``
for their whole duration.

Fills: every fill gets the daemon's next sequence number (``FillSequence``, shared by both routers) and
reaches ``fill_log`` (``execution.daemon.fill_log``) once durable, in sequence order, for StreamFills and its
resume. Ids: the paper venues mint venue order ids and fill ids with this start's epoch (a counter kept in
``<data_dir>/journal/venue_epoch``), so no id repeats over the life of the data dir. Journals are rotated
into closed segments with a snapshot of the open state when a segment is full (checked on every tick).

Market data: the daemon has no feed yet. The paper venues get a bar per symbol from ``prices`` (the
``--prices`` JSON or ``DEFAULT_PRICES``), re-sent every ``tick_s`` so resting orders keep matching; the same
prices are the risk engine's reference prices.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from audit.trust.canonical import StrictJSONError, canonical_bytes, strict_loads
from audit.trust.fsutil import UnsafeFileError, atomic_write_bytes, read_regular_file
from execution.core.clock import SystemClock
from execution.core.journal import Journal, JournalCorrupt, ReplayReport
from execution.core.lots import LOT_RULES_UNAVAILABLE, LotRule
from execution.core.orders import FillSequence, Order, OrderType, Stage, replaced
from execution.core.risk import RiskEngine, RiskLimits, TradingState
from execution.daemon.fill_log import FillEvent, FillLog
from execution.live_router import LiveRouter, RouteResult, RouterEvent, RoutingTable
from execution.venues.base import VenueError
from execution.venues.paper import PaperVenue
from risklab.engine.profiles import profile_from_mapping

DEFAULT_PRICES = {"ETH/BTC": 0.05, "LTC/BTC": 0.0015, "XRP/ETH": 0.0002, "BTC/USDT": 60_000.0}
DEFAULT_BAR_VOLUME = 1_000_000.0


@dataclass
class CoreOptions:
    mode: str
    data_dir: Path
    capital: float = 100_000.0
    prices: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_PRICES))
    journal_sync: bool = True
    risk_limits: RiskLimits | None = None  # override (bench/tests); default: from the mode's risk profile
    tick_s: float = 1.0
    extra_venues: dict[str, object] = field(default_factory=dict)  # name -> Venue (tests, live adapters)
    segment_records: int = 10_000  # journal records per segment before a snapshot


class Subscribers:
    """Fan-out to streaming RPCs: each subscriber has a bounded queue; a slow one loses the oldest items."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: list[tuple[queue.Queue, Callable[[object], bool]]] = []

    def add(self, accept: Callable[[object], bool], maxsize: int = 10_000) -> queue.Queue:
        q: queue.Queue = queue.Queue(maxsize=maxsize)
        with self._lock:
            self._queues.append((q, accept))
        return q

    def remove(self, q: queue.Queue) -> None:
        with self._lock:
            self._queues = [(x, a) for x, a in self._queues if x is not q]

    def publish(self, item: object) -> None:
        with self._lock:
            targets = list(self._queues)
        for q, accept in targets:
            if not accept(item):
                continue
            try:
                q.put_nowait(item)
            except queue.Full:
                try:
                    q.get_nowait()
                    q.put_nowait(item)
                except (queue.Empty, queue.Full):
                    pass

    def close_all(self) -> None:
        with self._lock:
            targets = list(self._queues)
        for q, _ in targets:
            try:
                q.put_nowait(None)
            except queue.Full:
                pass


def next_epoch(path: Path) -> int:
    """Bump and return the id epoch kept in ``path`` (durable before any id of the new epoch is minted)."""
    try:
        doc = strict_loads(read_regular_file(path, max_bytes=4096, what="venue id epoch"))
        if not isinstance(doc, dict) or type(doc.get("epoch")) is not int or doc["epoch"] < 0:
            raise StrictJSONError("epoch must be a non-negative integer")
        epoch = doc["epoch"] + 1
    except FileNotFoundError:
        epoch = 1
    except (UnsafeFileError, StrictJSONError) as exc:
        raise JournalCorrupt(f"venue id epoch {path}: {exc}") from None
    atomic_write_bytes(path, canonical_bytes({"epoch": epoch}) + b"\n", mode=0o600)
    return epoch


def _fill_events(group: str, orders: Iterator[tuple[Order, object]]) -> Iterator[FillEvent]:
    for order, fill in orders:
        yield FillEvent(
            order.client_order_id,
            order.symbol,
            str(order.side),
            fill.venue,
            fill.fill_id,
            fill.qty,
            fill.price,
            fill.fee,
            fill.ts,
            order.owner,
            fill.seq,
            group,
        )


class TradingCore:
    def __init__(
        self, config: dict, options: CoreOptions, *, sinks: list[Callable[[RouterEvent], None]]
    ) -> None:
        self.config = config
        self.options = options
        self.lock = threading.RLock()
        self.clock = SystemClock()
        self.fill_log = FillLog()
        self.fill_sequence = FillSequence()
        self.telemetry = Subscribers()
        self._sinks = sinks
        self.routers: dict[str, LiveRouter] = {}
        self.journals: dict[str, Journal] = {}
        self.paper_venues: list[PaperVenue] = []
        self.restore_counts: dict[str, dict[str, int]] = {}
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self.epoch = 0
        try:
            self._build()
        except BaseException:
            for journal in self.journals.values():
                journal.close()
            raise

    # -- construction ---------------------------------------------------------------------------------------
    def _limits(self, profile_name: str) -> RiskLimits:
        if self.options.risk_limits is not None:
            return self.options.risk_limits
        risk_name = self.config["profiles"][profile_name]["risk_profile"]
        profile = profile_from_mapping(risk_name, self.config["risk_profiles"][risk_name])
        return RiskLimits.from_profile(profile, capital=self.options.capital)

    def _venue(self, name: str):
        if name in self.options.extra_venues:
            return self.options.extra_venues[name]
        spec = self.config["venues"][name]
        if spec.get("kind") == "paper":
            venue = PaperVenue(name, clock=self.clock, epoch=self.epoch)
            for symbol, price in self.options.prices.items():
                venue.on_bar(symbol, price, DEFAULT_BAR_VOLUME)
            self.paper_venues.append(venue)
            return venue
        import os

        from execution.venues.ccxt_venue import CcxtVenue, make_binance  # live only; never in tests

        exchange = make_binance(
            api_key=os.environ.get(f"OEM_VENUE_{name.upper()}_KEY", ""),
            secret=os.environ.get(f"OEM_VENUE_{name.upper()}_SECRET", ""),
            timeout_ms=int(spec.get("timeout_ms", 2000)),
        )
        return CcxtVenue(exchange, name=name)

    def _build(self) -> None:
        journal_dir = Path(self.options.data_dir) / "journal"
        journal_dir.mkdir(parents=True, exist_ok=True)
        self.epoch = next_epoch(journal_dir / "venue_epoch")
        mode = self.options.mode
        groups = {"paper": "paper" if mode == "live" else mode}
        if mode == "live":
            groups["live"] = "live"
        reports: dict[str, ReplayReport] = {}
        for group, profile in groups.items():
            routing = RoutingTable.from_config(self.config, profile=profile)
            names = set(routing.default) | {v for vs in routing.symbols.values() for v in vs}
            if group == "paper":
                paper_ok = {n for n in names if self.config["venues"][n].get("kind") == "paper"}
                routing.default = [n for n in routing.default if n in paper_ok]
                routing.symbols = {s: [n for n in vs if n in paper_ok] for s, vs in routing.symbols.items()}
                names = paper_ok
            venues = {n: self._venue(n) for n in sorted(names)}
            risk = RiskEngine(self._limits(profile), clock=self.clock)
            for symbol, price in self.options.prices.items():
                risk.set_reference_price(symbol, price)
            journal = Journal(
                journal_dir / f"{group}.jsonl",
                sync=self.options.journal_sync,
                segment_records=self.options.segment_records,
            )
            report = journal.open()
            self.journals[group] = journal
            timeout_s = min(float(self.config["venues"][n].get("timeout_ms", 500)) for n in names) / 1000.0
            router = LiveRouter(
                venues,
                routing,
                risk=risk,
                journal=journal,
                clock=self.clock,
                sink=lambda event, group=group: self._sink(event, group),
                retries=1,
                retry_backoff_s=min(0.05, timeout_s / 4),
                lock=self.lock,
                fill_sequence=self.fill_sequence,
            )
            self.routers[group] = router
            self._attach_fills(group, report)
            reports[group] = report
        # every journal is read before any restore numbers a fill: sequence numbers never repeat
        self.fill_log.offer_head(self.fill_sequence.value)
        for group, router in self.routers.items():
            with self.lock:
                self.restore_counts[group] = router.restore(reports[group])

    def _attach_fills(self, group: str, report: ReplayReport) -> None:
        archive = report.archive

        def from_archive(after: int, upto: int) -> Iterator[FillEvent]:
            for event in _fill_events(group, archive.fills_after(after)):
                if event.seq > upto:
                    return
                yield event

        history = _fill_events(group, ((o, f) for o in report.orders.values() for f in o.fills))
        self.fill_log.attach(group, floor=report.fill_base, archive=from_archive, history=history)
        self.fill_sequence.value = max(self.fill_sequence.value, report.fill_seq)

    # -- events ---------------------------------------------------------------------------------------------
    def _sink(self, event: RouterEvent, group: str = "") -> None:
        full = event
        if "owner" in event.data:  # who placed an order is for its fill stream, not for every viewer
            event = replaced(event, data={k: v for k, v in event.data.items() if k != "owner"})
        for sink in self._sinks:
            try:
                sink(event)
            except Exception:  # noqa: BLE001,S110 - telemetry must never break routing
                pass
        self.telemetry.publish(event)
        if event.kind == "fill":
            d = full.data
            self.fill_log.offer(
                FillEvent(
                    event.client_order_id,
                    str(d.get("symbol", "")),
                    str(d.get("side", "")),
                    event.venue,
                    str(d.get("fill_id", "")),
                    float(d.get("qty", 0.0)),
                    float(d.get("price", 0.0)),
                    float(d.get("fee", 0.0)),
                    event.ts,
                    str(d.get("owner", "")),
                    int(d.get("seq", 0)),
                    group,
                )
            )

    # -- trading --------------------------------------------------------------------------------------------
    @staticmethod
    def group_for(stage: Stage) -> str:
        return "live" if stage is Stage.LIVE else "paper"

    def submit(
        self,
        *,
        cid: str,
        symbol: str,
        side: str,
        qty: float,
        order_type: str,
        limit_price,
        stage: Stage,
        owner: str,
    ) -> RouteResult:
        order = Order(
            cid,
            symbol,
            side,
            qty,
            type=OrderType(order_type or "market"),
            limit_price=limit_price,
            stage=stage,
            owner=owner,
        )
        router = self.routers.get(self.group_for(stage))
        if router is None:
            return RouteResult(
                None, False, reason="STAGE_NOT_SERVED", message=f"no {stage} router in this mode"
            )
        refused = self.lot_refusal(router, order)
        if refused is not None:
            return refused
        return router.submit(order)  # takes self.lock itself; not held while the journal syncs

    def lot_rule(self, symbol: str, stage: Stage) -> LotRule | None:
        """The lot rule of the venues ``symbol`` routes to at ``stage`` (None: any quantity); raises the
        venue's ``VenueError`` when it cannot tell (e.g. its markets cannot be loaded)."""
        router = self.routers.get(self.group_for(Stage(stage)))
        return router.lot_rule(symbol) if router is not None else None

    @staticmethod
    def lot_refusal(router: LiveRouter, order: Order) -> RouteResult | None:
        """Before the journal: a quantity the venue would truncate (ccxt sends amounts rounded down to the
        market's step) or refuse is refused here, so what is journaled is what the exchange trades. A
        resent client order id is the router's to answer (the journaled order, or a duplicate refusal)."""
        # The resend check comes only after a refusal: the usual order (no lot rule, or on the step) costs
        # no extra lookup under the router's lock.
        try:
            rule = router.lot_rule(order.symbol)
        except VenueError as exc:
            if router.get(order.client_order_id) is not None:
                return None
            return RouteResult(None, False, reason=LOT_RULES_UNAVAILABLE, message=str(exc))
        if rule is None:
            return None
        price = order.limit_price
        if price is None and router.risk is not None:
            price = router.risk.reference_price(order.symbol)
        refused = rule.check(order.qty, price)
        if refused is None or router.get(order.client_order_id) is not None:
            return None
        return RouteResult(None, False, reason=refused[0], message=f"{order.symbol}: {refused[1]}")

    def find(self, cid: str) -> tuple[LiveRouter | None, Order | None]:
        for router in self.routers.values():
            order = router.get(cid)
            if order is not None:
                return router, order
        return None, None

    def cancel(self, cid: str) -> RouteResult:
        with self.lock:
            router, _order = self.find(cid)
        if router is None:
            return RouteResult(None, False, reason="UNKNOWN_ORDER", message=f"no order {cid}")
        return router.cancel(cid)  # takes self.lock itself; not held while the journal syncs

    def set_state(self, state: TradingState, reason: str) -> None:
        with self.lock:
            for router in self.routers.values():
                if router.risk is not None:
                    router.risk.set_state(state, reason)
            self.telemetry.publish(
                RouterEvent("trading_state", self.clock.now(), data={"state": str(state), "reason": reason})
            )

    def trading_state(self) -> tuple[TradingState, str]:
        risk = self.routers["paper"].risk
        return risk.state, risk.state_reason

    def kill_switch(self, reason: str) -> list[RouteResult]:
        with self.lock:
            results: list[RouteResult] = []
            for router in self.routers.values():
                results.extend(router.kill_switch(reason))
            return results

    def on_operator_disconnect(self, owner: str) -> list[RouteResult]:
        with self.lock:
            results: list[RouteResult] = []
            for router in self.routers.values():
                results.extend(router.on_operator_disconnect(owner))
            return results

    def venue_health(self) -> dict[str, dict]:
        with self.lock:
            out: dict[str, dict] = {}
            for router in self.routers.values():
                out.update(router.venue_health())
            return out

    def open_orders(self) -> int:
        with self.lock:
            return sum(len(r.open_orders()) for r in self.routers.values())

    # -- background: bars, polling, reconcile ---------------------------------------------------------------
    def tick(self) -> None:
        with self.lock:
            for venue in self.paper_venues:
                for symbol, price in self.options.prices.items():
                    venue.on_bar(symbol, price, DEFAULT_BAR_VOLUME)
            for router in self.routers.values():
                router.poll()
                router.reconcile()
            self.rotate_journals()

    def rotate_journals(self, *, force: bool = False) -> list[int]:
        """Close full journal segments into the archive and snapshot the open state (see ``journal``)."""
        closed = []
        with self.lock:
            for group, router in self.routers.items():
                number = router.rotate_journal(force=force)
                if number:
                    closed.append(number)
                    archive = self.journals[group].archive
                    self.fill_log.raise_floor(group, archive.segments[-1].fill_seq)
        return closed

    def start(self) -> None:
        def run() -> None:
            while not self._stop.wait(self.options.tick_s):
                try:
                    self.tick()
                except Exception:  # noqa: BLE001,S110 - keep ticking; the router reports via events
                    pass

        self._ticker = threading.Thread(target=run, name="core-ticker", daemon=True)
        self._ticker.start()

    def close(self) -> None:
        self._stop.set()
        self.fill_log.close()
        self.telemetry.close_all()
        if self._ticker is not None:
            self._ticker.join(timeout=5)
        with self.lock:
            for journal in self.journals.values():
                journal.close()
