"""The live router: risk check, journal, venue choice, retries, fallback and ambiguity resolution.

Rules it never breaks:
- an order is journaled (NEW) and durable before any venue outside this process sees it, and every later
  state change is journaled before the call that caused it returns;
- a client order id is routed once: a duplicate submit returns the existing order;
- after an AMBIGUOUS outcome (``VenueTimeout``: maybe placed) the router asks that venue about that client
  order id BEFORE sending it anywhere again. Found: adopt the venue's state. Not found: it was never placed,
  retry. No answer: the order is parked as unresolved and is never resubmitted until ``reconcile()`` gets
  an answer. So a fill is never duplicated by a retry or a fallback;
- venues whose circuit breaker is open are skipped (the next in the symbol's preference list is used).

Every decision is emitted as a ``RouterEvent`` to the injected sink (metrics, logs, the gRPC telemetry
stream). Time comes only from the injected clock, so tests are deterministic.

Concurrency and group commit: every public method runs its state changes under ``lock`` (re-entrant; the
daemon passes its own so ticks, cancels and the kill switch exclude routing) and journals them with
``Journal.append_nowait`` -- the file order is the order of the state changes, so per-order ordering is the
lock order. The lock is then RELEASED while the thread waits for the fsync that covers its records
(``Journal.wait_durable``), so concurrent orders share one fsync instead of queueing behind each other's.
Events collected during the locked section reach the sink only after that wait: nothing is told to a caller,
a fill stream or telemetry before it is on disk. ``submit`` runs in two such sections: NEW is durable before
any venue sees the order; if the order changed meanwhile (a cancel, the kill switch) it is not routed. A
duplicate submit or a cancel that reports an existing order waits for that order's last record too.

When every venue the order may go to is in this process (``Venue.in_process``: the paper venues), submit
is one section and one commit: NEW, the venue's answer and its fills become durable together, before the
reply. The rule NEW-before-venue exists for venues that outlive a crash: an exchange holding an order the
journal never recorded. An in-process venue dies with the journal's unsynced tail, and a restart finds no
order there, so either both the order and its fills are on disk or neither ever existed outside memory;
nothing was told to anyone in between.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from audit.trust.live_venues import simulated_venues
from execution.core.clock import Clock, ManualClock, SystemClock
from execution.core.journal import Journal, ReplayReport
from execution.core.lots import LotRule, combine
from execution.core.orders import (
    DuplicateClientOrderId,
    FillSequence,
    Order,
    OrderStatus,
    OrderStore,
    replaced,
)
from execution.core.risk import RiskEngine, RiskLimits, TradingState
from execution.venues.base import (
    OrderNotFound,
    Venue,
    VenueError,
    VenueOrderState,
    VenueRejected,
    VenueTimeout,
    VenueUnavailable,
)


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Closed -> open after ``failure_threshold`` consecutive failures; open -> half-open after
    ``cooldown_s``; half-open lets probes through: a success closes it, a failure re-opens it."""

    def __init__(self, *, failure_threshold: int = 3, cooldown_s: float = 30.0, clock: Clock) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be >= 1")
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self.clock = clock
        self._state = CircuitState.CLOSED
        self._failures = 0
        self._opened_at = 0.0

    @property
    def state(self) -> CircuitState:
        if self._state is CircuitState.OPEN and self.clock.now() - self._opened_at >= self.cooldown_s:
            self._state = CircuitState.HALF_OPEN
        return self._state

    def allow(self) -> bool:
        return self.state is not CircuitState.OPEN

    def record_success(self) -> None:
        self._failures = 0
        self._state = CircuitState.CLOSED

    def record_failure(self) -> None:
        self._failures += 1
        if self.state is CircuitState.HALF_OPEN or self._failures >= self.failure_threshold:
            self._state = CircuitState.OPEN
            self._opened_at = self.clock.now()


@dataclass(frozen=True)
class RouterEvent:
    """One routing decision. ``kind`` values: submitted, duplicate, risk_reject, venue_error, venue_reject,
    ambiguous, resolved, unresolved, fallback, circuit, fill, terminal, cancel, cancel_failed, kill_switch,
    disconnect, restored. ``data`` holds kind-specific fields (latency_s, stage, reason, state, ...)."""

    kind: str
    ts: float
    client_order_id: str = ""
    venue: str = ""
    data: dict = field(default_factory=dict)


EventSink = Callable[[RouterEvent], None]


def _no_sink(event: RouterEvent) -> None:
    return None


@dataclass
class RouteResult:
    order: Order | None
    accepted: bool
    duplicate: bool = False
    reason: str = ""
    message: str = ""


class RoutingTable:
    """Per-symbol venue preference lists (``routing`` section of config/core.yaml)."""

    def __init__(self, default: list[str], symbols: dict[str, list[str]] | None = None) -> None:
        if not default:
            raise ValueError("routing: the default venue list is empty")
        self.default = list(default)
        self.symbols = {k: list(v) for k, v in (symbols or {}).items()}

    @classmethod
    def from_config(cls, config: dict, *, profile: str | None = None) -> RoutingTable:
        """Read ``routing``; with ``profile`` (demo/paper/live) keep only venues that profile allows."""
        routing = config.get("routing")
        if not isinstance(routing, dict) or not isinstance(routing.get("default"), list):
            raise ValueError("config: routing.default must be a list of venue names")
        known = set((config.get("venues") or {}).keys())
        allowed = set(config["profiles"][profile]["venues"]) if profile else known
        if profile == "live":  # never fall back to a simulated venue when trading live
            allowed -= simulated_venues(config)
        table = cls(routing["default"], routing.get("symbols") or {})
        for name in [*table.default, *(v for vs in table.symbols.values() for v in vs)]:
            if name not in known:
                raise ValueError(f"config: routing names unknown venue {name!r}")
        table.default = [v for v in table.default if v in allowed]
        table.symbols = {s: [v for v in vs if v in allowed] for s, vs in table.symbols.items()}
        if not table.default:
            raise ValueError(f"config: no routing.default venue is allowed in profile {profile}")
        return table

    def venues_for(self, symbol: str) -> list[str]:
        return self.symbols.get(symbol) or self.default


_NO_LIMITS = RiskLimits(math.inf, math.inf, math.inf, 10**9)


class _Batch:
    """What one locked section of a router call produced: the highest journal ticket and the events."""

    __slots__ = ("events", "ticket")

    def __init__(self) -> None:
        self.ticket = 0
        self.events: list[RouterEvent] = []


class LiveRouter:
    def __init__(
        self,
        venues: dict[str, Venue],
        routing: RoutingTable,
        *,
        risk: RiskEngine | None = None,
        journal: Journal | None = None,
        clock: Clock | None = None,
        sink: EventSink | None = None,
        retries: int = 1,
        retry_backoff_s: float = 0.05,
        max_backoff_s: float = 1.0,
        breaker_threshold: int = 3,
        breaker_cooldown_s: float = 30.0,
        cancel_on_disconnect: bool = True,
        lock: threading.RLock | None = None,
        fill_sequence: FillSequence | None = None,
    ) -> None:
        self.venues = dict(venues)
        self.routing = routing
        self.risk = risk
        self.journal = journal
        self.clock = clock or SystemClock()
        self.sink = sink or _no_sink
        self.retries = retries
        self.retry_backoff_s = retry_backoff_s
        self.max_backoff_s = max_backoff_s
        self.cancel_on_disconnect_enabled = cancel_on_disconnect
        self.breakers = {
            name: CircuitBreaker(
                failure_threshold=breaker_threshold, cooldown_s=breaker_cooldown_s, clock=self.clock
            )
            for name in self.venues
        }
        self._circuit_seen = {name: CircuitState.CLOSED for name in self.venues}
        self.store = OrderStore()
        self.fill_sequence = fill_sequence or FillSequence()
        # positions of orders already closed when the journal was last snapshotted: the snapshot's risk base
        self._closed_book = RiskEngine(risk.limits if risk is not None else _NO_LIMITS, clock=ManualClock())
        self._open: dict[str, Order] = {}
        self._unresolved: dict[str, str] = {}  # client order id -> venue that may hold it
        self._finished: set[str] = set()
        self._lock = lock if lock is not None else threading.RLock()
        self._batch: _Batch | None = None  # set while a thread holds the lock inside a router call
        self._tickets: dict[str, int] = {}  # client order id -> journal seq of its last record

    # -- locking / durability ------------------------------------------------------------------------------
    def _op(self, fn: Callable[[], RouteResult | None]):
        """Run ``fn`` under the lock, then -- lock released -- wait until its records are durable and only
        then hand its events to the sink. Nested calls (kill switch -> cancel) join the outer batch."""
        batch = None
        try:
            with self._lock:
                if self._batch is not None:  # this thread is already inside a router call
                    return fn()
                batch = self._batch = _Batch()
                try:
                    return fn()
                finally:
                    self._batch = None
        finally:
            if batch is not None:
                self._commit(batch)

    def _commit(self, batch: _Batch) -> None:
        if batch.ticket and self.journal is not None:
            self.journal.wait_durable(batch.ticket)  # raises JournalError: nothing is acknowledged
        for event in batch.events:
            self.sink(event)

    def _needs(self, client_order_id: str) -> None:
        """The current call reports this order: do not return before the order's last record is durable."""
        ticket = self._tickets.get(client_order_id, 0)
        if self._batch is not None and ticket > self._batch.ticket:
            self._batch.ticket = ticket

    # -- events / journal ----------------------------------------------------------------------------------
    def _emit(self, kind: str, order: Order | None = None, venue: str = "", **data) -> None:
        cid = order.client_order_id if order is not None else ""
        event = RouterEvent(kind, self.clock.now(), cid, venue, data)
        if self._batch is not None:
            self._batch.events.append(event)  # told once the batch is durable
        else:
            self.sink(event)

    def _record(self, event: str, order: Order) -> None:
        """Journal the order's new state; the enclosing ``_op`` makes it durable before anyone is told."""
        if self.journal is not None:
            if self._batch is None:  # not inside _op (cannot happen via the public API): be synchronous
                ticket = self.journal.append(event, order, self.clock.now())
            else:
                ticket = self.journal.append_nowait(event, order, self.clock.now())
                self._batch.ticket = max(self._batch.ticket, ticket)
            self._tickets[order.client_order_id] = ticket
            if len(self._tickets) > 100_000:  # forget orders whose last record is long durable
                durable = self.journal.durable_seq
                self._tickets = {c: t for c, t in self._tickets.items() if t > durable}
        if order.is_open:
            self._open[order.client_order_id] = order
        elif order.client_order_id not in self._finished:
            self._finished.add(order.client_order_id)
            self._open.pop(order.client_order_id, None)
            self._unresolved.pop(order.client_order_id, None)
            self._emit("terminal", order, order.venue or "", status=str(order.status), reason=order.reason)

    def _breaker_event(self, name: str) -> None:
        state = self.breakers[name].state
        if state is not self._circuit_seen[name]:
            self._circuit_seen[name] = state
            self._emit("circuit", None, name, state=str(state))

    # -- queries -------------------------------------------------------------------------------------------
    def get(self, client_order_id: str) -> Order | None:
        return self.store.get(client_order_id)

    def open_orders(self) -> list[Order]:
        with self._lock:
            return list(self._open.values())

    def unresolved(self) -> dict[str, str]:
        with self._lock:
            return dict(self._unresolved)

    def lot_rule(self, symbol: str) -> LotRule | None:
        """The lot rule an order for ``symbol`` must meet on every venue it may be routed to (None: any
        quantity). Not under the lock: a venue may load its markets. Raises the venue's ``VenueError``."""
        rules = []
        for name in self.routing.venues_for(symbol):
            lot_rule = getattr(self.venues.get(name), "lot_rule", None)
            if lot_rule is not None:
                rules.append(lot_rule(symbol))
        return combine(rules)

    def venue_health(self) -> dict[str, dict]:
        out = {}
        for name, venue in self.venues.items():
            try:
                health = venue.health()
                up, detail = health.up, health.detail
            except Exception as exc:  # noqa: BLE001 - a health probe must never take the router down
                up, detail = False, f"health probe failed: {exc}"
            out[name] = {"up": up, "detail": detail, "circuit": str(self.breakers[name].state)}
        return out

    def _pending(self, symbol: str) -> float:
        return sum(o.side.sign * o.remaining for o in self._open.values() if o.symbol == symbol)

    # -- submit --------------------------------------------------------------------------------------------
    def submit(self, order: Order) -> RouteResult:
        if self._in_process_only(order.symbol):  # one commit: NEW and the venue's answer
            return self._op(lambda: self._submit_new(order) or self._route(order))
        first = self._op(lambda: self._submit_new(order))  # returns once NEW is durable
        if first is not None:
            return first
        return self._op(lambda: self._submit_route(order))

    def _in_process_only(self, symbol: str) -> bool:
        """Every venue ``symbol`` may be routed to lives in this process (``Venue.in_process``): none can
        outlive a crash holding an order the journal lost, so NEW need not be durable before they see it."""
        names = self.routing.venues_for(symbol)
        return bool(names) and all(getattr(self.venues.get(n), "in_process", False) for n in names)

    def _submit_new(self, order: Order) -> RouteResult | None:
        existing = self.store.get(order.client_order_id)
        if existing is not None:
            if not existing.same_intent(order):
                raise DuplicateClientOrderId(
                    f"client_order_id {order.client_order_id} already used for a different order"
                )
            self._needs(existing.client_order_id)
            self._emit("duplicate", existing, existing.venue or "", status=str(existing.status))
            return RouteResult(existing, existing.status is not OrderStatus.REJECTED, duplicate=True)
        now = self.clock.now()
        order.created_ts = order.updated_ts = now
        if self.risk is not None:
            decision = self.risk.check_new(order, pending=self._pending(order.symbol))
            if not decision.allowed:
                self.store.put(order)  # looked up above, under the same lock: not there
                order.transition(OrderStatus.REJECTED, ts=now, reason=str(decision.reason))
                self._record("risk_reject", order)
                self._emit("risk_reject", order, reason=str(decision.reason), message=decision.message)
                return RouteResult(order, False, reason=str(decision.reason), message=decision.message)
        self.store.put(order)
        self._record("new", order)
        return None

    def _submit_route(self, order: Order) -> RouteResult:
        if (
            order.status is not OrderStatus.NEW
            or order.venue is not None
            or order.client_order_id in self._unresolved
        ):
            # Changed while its NEW record was being synced (a cancel, the kill switch): never route it.
            self._needs(order.client_order_id)
            return RouteResult(
                order,
                False,
                reason=order.reason or f"ALREADY_{order.status}",
                message="the order changed before it was routed",
            )
        return self._route(order)

    def _route(self, order: Order, *, skip: tuple[str, ...] = ()) -> RouteResult:
        names = [n for n in self.routing.venues_for(order.symbol) if n not in skip]
        tried: list[str] = []
        last = "NO_VENUE"
        for name in names:
            venue = self.venues.get(name)
            if venue is None:
                continue
            breaker = self.breakers[name]
            self._breaker_event(name)  # reports open -> half-open once the cool-down has passed
            if not breaker.allow():
                self._emit("circuit_skip", order, name, state=str(breaker.state))
                continue
            if tried:
                self._emit("fallback", order, name, from_venue=tried[-1], reason=last)
            tried.append(name)
            for attempt in range(self.retries + 1):
                started = self.clock.now()
                try:
                    state = venue.submit(order)
                except VenueUnavailable as exc:
                    breaker.record_failure()
                    self._breaker_event(name)
                    last = f"UNAVAILABLE:{exc.code}" if exc.code else "UNAVAILABLE"
                    self._emit(
                        "venue_error", order, name, error="unavailable", code=exc.code, message=str(exc)
                    )
                    if attempt < self.retries and breaker.allow():
                        delay = (
                            exc.retry_after
                            if exc.retry_after is not None
                            else self.retry_backoff_s * 2**attempt
                        )
                        self.clock.sleep(min(delay, self.max_backoff_s))
                        continue
                    break
                except VenueRejected as exc:
                    breaker.record_success()
                    self._breaker_event(name)
                    order.venue = name
                    reason = f"VENUE_REJECTED:{exc.code}" if exc.code else "VENUE_REJECTED"
                    order.transition(OrderStatus.REJECTED, ts=self.clock.now(), reason=reason)
                    self._record("venue_reject", order)
                    self._emit("venue_reject", order, name, reason=reason, message=str(exc))
                    return RouteResult(order, False, reason=reason, message=str(exc))
                except VenueTimeout as exc:
                    breaker.record_failure()
                    self._breaker_event(name)
                    self._emit(
                        "ambiguous", order, name, message=str(exc), latency_s=self.clock.now() - started
                    )
                    outcome = self._resolve(order, name)
                    if outcome == "found":
                        return RouteResult(order, True)
                    if outcome == "unknown":
                        return RouteResult(order, True, reason="AMBIGUOUS", message=str(exc))
                    last = "TIMEOUT_NOT_PLACED"
                    continue  # definitely not placed: retrying with the same client order id is safe
                else:
                    breaker.record_success()
                    self._breaker_event(name)
                    self._emit("submitted", order, name, stage="submit", latency_s=self.clock.now() - started)
                    self._apply(order, state, "ack")
                    return RouteResult(order, True)
        order.transition(OrderStatus.REJECTED, ts=self.clock.now(), reason="NO_VENUE_AVAILABLE")
        self._record("no_venue", order)
        self._emit("venue_reject", order, reason="NO_VENUE_AVAILABLE", last=last, tried=tried)
        return RouteResult(order, False, reason="NO_VENUE_AVAILABLE", message=f"all venues failed ({last})")

    def _resolve(self, order: Order, name: str) -> str:
        """After a timeout: ask the venue. 'found' | 'not_found' | 'unknown' (parked, never resubmitted)."""
        venue = self.venues[name]
        started = self.clock.now()
        try:
            state = venue.query_order(order.client_order_id, order.symbol)
        except OrderNotFound:
            self._emit("resolved", order, name, outcome="not_found", latency_s=self.clock.now() - started)
            return "not_found"
        except VenueError as exc:
            order.venue = name
            self._unresolved[order.client_order_id] = name
            self._record("ambiguous", order)
            self._emit("unresolved", order, name, message=str(exc))
            return "unknown"
        self._emit("resolved", order, name, outcome="found", latency_s=self.clock.now() - started)
        self._apply(order, state, "resolved")
        return "found"

    def _apply(self, order: Order, state: VenueOrderState, event: str) -> bool:
        """Adopt a venue's view of the order (new fills, ack, cancel). Journals once if anything changed."""
        changed = False
        if order.venue != state.venue or order.venue_order_id != state.venue_order_id:
            order.venue, order.venue_order_id = state.venue, state.venue_order_id
            changed = True
        for fill in state.fills:
            if order.status.terminal:
                break
            if order.has_fill(fill):
                continue
            fill = replaced(fill, seq=self.fill_sequence.value + 1)  # noqa: PLW2901
            if order.apply_fill(fill):
                self.fill_sequence.value = fill.seq
                changed = True
                if self.risk is not None:
                    self.risk.on_fill(order.symbol, order.side, fill.qty, fill.price, fill.fee)
                self._emit(
                    "fill",
                    order,
                    fill.venue,
                    qty=fill.qty,
                    price=fill.price,
                    fee=fill.fee,
                    fill_id=fill.fill_id,
                    seq=fill.seq,
                    symbol=order.symbol,
                    side=str(order.side),
                    owner=order.owner,
                )
        now = self.clock.now()
        if order.status is OrderStatus.NEW and state.status in (
            OrderStatus.ACKED,
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.FILLED,
        ):
            order.transition(OrderStatus.ACKED, ts=now)
            changed = True
        if order.is_open and state.status is OrderStatus.CANCELLED:
            order.transition(OrderStatus.CANCELLED, ts=now, reason=state.reason or "CANCELLED_AT_VENUE")
            changed = True
        elif order.status is OrderStatus.NEW and state.status is OrderStatus.REJECTED:
            order.transition(OrderStatus.REJECTED, ts=now, reason=state.reason or "VENUE_REJECTED")
            changed = True
        if changed:
            self._unresolved.pop(order.client_order_id, None)
            self._record(event, order)
        return changed

    # -- follow-up: fills, ambiguity, restart --------------------------------------------------------------
    def poll(self) -> int:
        """Query every open, placed order at its venue and adopt new fills/status. Returns orders changed."""
        return self._op(lambda: self._poll_locked())

    def _poll_locked(self) -> int:
        changed = 0
        for order in list(self._open.values()):
            if order.venue is None or order.client_order_id in self._unresolved:
                continue
            try:
                state = self.venues[order.venue].query_order(order.client_order_id, order.symbol)
            except OrderNotFound:
                self._emit("venue_error", order, order.venue, error="not_found_on_poll")
                continue
            except VenueError as exc:
                self._emit("venue_error", order, order.venue, error="poll_failed", message=str(exc))
                continue
            changed += self._apply(order, state, "poll")
        return changed

    def reconcile(self) -> int:
        """Retry resolution of parked ambiguous orders. Returns how many were resolved."""
        return self._op(lambda: self._reconcile_locked())

    def _reconcile_locked(self) -> int:
        resolved = 0
        for cid, name in list(self._unresolved.items()):
            order = self.store.get(cid)
            if order is None or not order.is_open:
                self._unresolved.pop(cid, None)
                continue
            try:
                state = self.venues[name].query_order(cid, order.symbol)
            except OrderNotFound:
                self._unresolved.pop(cid, None)
                resolved += 1
                self._emit("resolved", order, name, outcome="not_found")
                order.venue = None
                self._route(order)
                continue
            except VenueError:
                continue
            self._unresolved.pop(cid, None)
            resolved += 1
            self._emit("resolved", order, name, outcome="found")
            self._apply(order, state, "resolved")
        return resolved

    def restore(self, report: ReplayReport) -> dict[str, int]:
        """Rebuild from a journal replay and reconcile every open order with the venues.

        An order with a known venue is queried there. An order journaled NEW without a venue (crash between
        journaling and the venue's answer) is looked for at every venue in its preference list; if none has
        it, it was never placed and is cancelled locally (reason NOT_PLACED_BEFORE_RESTART) rather than sent
        again behind the strategy's back.
        """
        return self._op(lambda: self._restore_locked(report))

    def _restore_locked(self, report: ReplayReport) -> dict[str, int]:
        counts = {"orders": 0, "open": 0, "reconciled": 0, "cancelled": 0, "unresolved": 0}
        self.store.archive = report.archive
        self.fill_sequence.value = max(self.fill_sequence.value, report.fill_seq)
        book = report.extra.get("risk") or {}
        self._closed_book.import_book(book)
        if self.risk is not None:
            self.risk.import_book(book)
        for order in report.orders.values():
            self.store.put(order)
            counts["orders"] += 1
            if self.risk is not None:
                for fill in order.fills:
                    self.risk.on_fill(order.symbol, order.side, fill.qty, fill.price, fill.fee)
            if order.is_open:
                self._open[order.client_order_id] = order
                counts["open"] += 1
            else:
                self._finished.add(order.client_order_id)
        cut = {  # acknowledged states a --repair-journal cut off the journal
            r["client_order_id"]: r["status"] or "UNKNOWN"
            for repair in report.repairs
            for r in repair.get("records", [])
            if isinstance(r, dict) and r.get("acknowledged") is not False and r.get("client_order_id")
        }
        for order in list(self._open.values()):
            candidates = [order.venue] if order.venue else self.routing.venues_for(order.symbol)
            found = False
            unreachable = False
            for name in candidates:
                venue = self.venues.get(name)
                if venue is None:
                    unreachable = True
                    continue
                try:
                    state = venue.query_order(order.client_order_id, order.symbol)
                except OrderNotFound:
                    continue
                except VenueError:
                    unreachable = True
                    continue
                self._apply(order, state, "restored")
                found = True
                counts["reconciled"] += 1
                break
            if found:
                continue
            if unreachable:
                self._unresolved[order.client_order_id] = order.venue or candidates[0]
                counts["unresolved"] += 1
                continue
            reason = "NOT_PLACED_BEFORE_RESTART" if order.venue is None else "UNKNOWN_AT_VENUE_AFTER_RESTART"
            if order.client_order_id in cut:  # say what the operator's repair cut, not a guess
                reason = f"JOURNAL_REPAIR_CUT_{cut[order.client_order_id]}"
            order.transition(OrderStatus.CANCELLED, ts=self.clock.now(), reason=reason)
            self._record("restored", order)
            counts["cancelled"] += 1
        self._emit("restored", None, **counts)
        return counts

    def rotate_journal(self, *, force: bool = False) -> int:
        """Close a full journal segment and snapshot the open state (see ``execution.core.journal``).

        Orders closed since the previous snapshot move into the risk base the snapshot keeps, then leave
        memory: from now on they are read from the archive. Returns the segment number, 0 when not due."""
        with self._lock:
            journal = self.journal
            if journal is None or not (force or journal.segment_full):
                return 0
            closed = [o for o in self.store.all() if not o.is_open]
            book = RiskEngine(self._closed_book.limits, clock=ManualClock())
            book.import_book(self._closed_book.export_book())
            for order in closed:
                for fill in order.fills:
                    book.on_fill(order.symbol, order.side, fill.qty, fill.price, fill.fee)
            number = journal.rotate(
                open_orders=self.store.open_orders(),
                fill_seq=self.fill_sequence.value,
                extra={"risk": book.export_book()},
            )
            if number:
                self._closed_book = book
                for cid in self.store.forget_closed():
                    self._finished.discard(cid)
                    self._tickets.pop(cid, None)
            return number

    # -- cancels, kill switch, disconnect ------------------------------------------------------------------
    def cancel(self, client_order_id: str, *, reason: str = "USER_CANCEL") -> RouteResult:
        """Halt first (no new orders can slip in), then cancel every open order."""
        return self._op(lambda: self._cancel_locked(client_order_id, reason=reason))

    def _cancel_locked(self, client_order_id: str, *, reason: str = "USER_CANCEL") -> RouteResult:
        order = self.store.get(client_order_id)
        if order is None:
            return RouteResult(None, False, reason="UNKNOWN_ORDER", message=f"no order {client_order_id}")
        if not order.is_open:
            self._needs(client_order_id)
            return RouteResult(order, False, reason=f"ALREADY_{order.status}", message="order is not open")
        if self.risk is not None:
            self.risk.check_cancel(order)
        names = [order.venue] if order.venue else self.routing.venues_for(order.symbol)
        for name in names:
            try:
                state = self.venues[name].cancel(client_order_id, order.symbol)
            except OrderNotFound:
                continue
            except VenueError as exc:
                self._emit("cancel_failed", order, name, message=str(exc))
                return RouteResult(order, False, reason="VENUE_UNAVAILABLE", message=str(exc))
            state.reason = state.reason or reason
            self._apply(order, state, "cancel")
            self._emit("cancel", order, name, status=str(order.status))
            return RouteResult(order, order.status is OrderStatus.CANCELLED, reason=reason)
        # No venue holds it: it was never placed (or already gone); cancel locally.
        order.transition(OrderStatus.CANCELLED, ts=self.clock.now(), reason=reason)
        self._record("cancel", order)
        self._emit("cancel", order, status=str(order.status))
        return RouteResult(order, True, reason=reason)

    def kill_switch(self, reason: str = "KILL_SWITCH") -> list[RouteResult]:
        """Cancel-on-disconnect: the gRPC server calls this when an operator's stream drops."""
        return self._op(lambda: self._kill_switch_locked(reason))

    def _kill_switch_locked(self, reason: str = "KILL_SWITCH") -> list[RouteResult]:
        if self.risk is not None:
            self.risk.set_state(TradingState.HALTED, reason)
        self._emit("kill_switch", None, reason=reason, open=len(self._open))
        return [self.cancel(o.client_order_id, reason=reason) for o in list(self._open.values())]

    def on_operator_disconnect(self, owner: str) -> list[RouteResult]:
        return self._op(lambda: self._on_operator_disconnect_locked(owner))

    def _on_operator_disconnect_locked(self, owner: str) -> list[RouteResult]:
        if not self.cancel_on_disconnect_enabled:
            return []
        mine = [o for o in self._open.values() if o.owner == owner]
        self._emit("disconnect", None, owner=owner, open=len(mine))
        return [self.cancel(o.client_order_id, reason="CANCEL_ON_DISCONNECT") for o in mine]

    def disconnect_handler(self, owner: str) -> Callable[[], list[RouteResult]]:
        return lambda: self.on_operator_disconnect(owner)
