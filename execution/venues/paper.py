"""In-process paper venue: matches against the latest bar with the Paper Labs execution models.

Same model as ``risklab.engine.engine`` (imported, not copied):
- a fill takes at most ``participation * volume`` of the current bar; the rest keeps working on later bars
  (partial fills);
- fill price = base * (1 +- ``fill_cost``(qty, volume, slippage, impact, spread)) and fees are ``fees_bps``
  of traded notional;
- latency: an order reaches the book ``latency_bars`` bars after it was sent and then fills at the worse of
  the decision price and the arrival close ("latency never improves the price").

Ids: venue order ids and fill ids are ``<name>-<epoch>-o<n>`` / ``<name>-<epoch>-f<n>``. The daemon passes
a per-start epoch it keeps on disk (``execution.daemon.core.next_epoch``), so ids never repeat over the life
of its data dir even though the counters restart with the process. A venue built without one (tests,
benchmarks) uses epoch 0, so a seed still gives the same ids.

Deterministic for a given seed: every random draw comes from one ``random.Random(seed)`` in a fixed order.
Fault injection (``PaperFaults``) drives the router tests and the dry-run: venue down, unavailable rate,
reject rate, timeout-after-send rate (the order IS placed, then the call times out), partial-fill rate.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from execution.core.clock import Clock, SystemClock
from execution.core.lots import LotRule
from execution.core.orders import Fill, Order, OrderStatus, OrderType, Side, replaced
from execution.venues.base import (
    OrderNotFound,
    VenueHealth,
    VenueOrderState,
    VenueRejected,
    VenueTimeout,
    VenueUnavailable,
)
from risklab.engine.engine import ExecutionModel, fill_cost


@dataclass
class PaperFaults:
    down: bool = False
    unavailable_rate: float = 0.0  # submit raises VenueUnavailable (not placed)
    reject_rate: float = 0.0  # submit raises VenueRejected
    timeout_after_send_rate: float = 0.0  # order placed, then VenueTimeout (ambiguous)
    partial_fill_rate: float = 0.0  # a match takes only 20-80 % of what it could
    query_unavailable_rate: float = 0.0  # query/cancel raise VenueUnavailable
    scripted: list[str] = field(
        default_factory=list
    )  # one-shot: "down", "timeout", "reject" for next submits


@dataclass
class Bar:
    close: float
    volume: float
    spread_bps: float = 0.0


@dataclass
class _Resting:
    order: Order
    venue_order_id: str
    arrive_at_bar: int
    decision_price: float
    filled: float = 0.0
    status: OrderStatus = OrderStatus.ACKED
    fills: list[Fill] = field(default_factory=list)

    @property
    def remaining(self) -> float:
        left = self.order.qty - self.filled
        return 0.0 if left <= 1e-12 * max(1.0, self.order.qty) else left


class PaperVenue:
    # Its whole state lives in this process and ends with it (a restart finds no order here and cancels
    # what the journal left open): nobody outside the process can hold an order the journal does not.
    in_process = True

    def __init__(
        self,
        name: str = "paper",
        *,
        seed: int = 0,
        clock: Clock | None = None,
        fees_bps: float = 10.0,
        slippage_bps: float = 5.0,
        execution: ExecutionModel | None = None,
        latency_bars: int = 0,
        faults: PaperFaults | None = None,
        epoch: int = 0,
        lots: dict[str, LotRule] | None = None,
    ) -> None:
        self.name = name
        self.lots = dict(lots or {})  # none by default: paper trades any quantity, as Paper Labs does
        self.epoch = int(epoch)
        self.clock = clock or SystemClock()
        self.fee_rate = fees_bps * 1e-4
        self.slip_rate = slippage_bps * 1e-4
        self.execution = execution or ExecutionModel()
        self.latency_bars = latency_bars
        self.faults = faults or PaperFaults()
        self._rng = random.Random(seed)
        self._bars: dict[str, Bar] = {}
        self._bar_index: dict[str, int] = {}
        self._orders: dict[str, _Resting] = {}
        self._fill_seq = 0
        self._order_seq = 0
        self.ledger: list[Fill] = []  # every fill this venue ever made (tests reconcile against it)
        self._unpolled: list[Fill] = []

    def lot_rule(self, symbol: str) -> LotRule | None:
        return self.lots.get(symbol)

    # -- market data ---------------------------------------------------------------------------------------
    def on_bar(self, symbol: str, close: float, volume: float, spread_bps: float = 0.0) -> list[Fill]:
        """A new bar for ``symbol``: working orders that have arrived match against it."""
        self._bars[symbol] = Bar(close, volume, spread_bps)
        self._bar_index[symbol] = self._bar_index.get(symbol, 0) + 1
        new: list[Fill] = []
        for rest in list(self._orders.values()):
            if rest.order.symbol == symbol and rest.status in (
                OrderStatus.ACKED,
                OrderStatus.PARTIALLY_FILLED,
            ):
                new.extend(self._match(rest))
        return new

    # -- venue protocol ------------------------------------------------------------------------------------
    def submit(self, order: Order) -> VenueOrderState:
        scripted = self.faults.scripted.pop(0) if self.faults.scripted else ""
        draw = self._rng.random()  # one draw per submit, always, so fault patterns are seed-stable
        if self.faults.down or scripted == "down":
            raise VenueUnavailable(f"{self.name}: venue down", code="DOWN")
        rest = self._orders.get(order.client_order_id)
        if rest is not None:  # idempotent by client order id: a resend never places a second order
            return self._state(rest)
        f = self.faults
        if draw < f.unavailable_rate:
            raise VenueUnavailable(f"{self.name}: injected unavailability", code="INJECTED")
        draw -= f.unavailable_rate
        if scripted == "reject" or 0 <= draw < f.reject_rate:
            raise VenueRejected(f"{self.name}: injected reject of {order.client_order_id}", code="INJECTED")
        draw -= f.reject_rate
        timeout = scripted == "timeout" or 0 <= draw < f.timeout_after_send_rate
        bar = self._bars.get(order.symbol)
        if bar is None:
            raise VenueRejected(f"{self.name}: no market data for {order.symbol}", code="NO_MARKET_DATA")
        self._order_seq += 1
        rest = _Resting(
            order=replaced(order, status=OrderStatus.NEW, filled_qty=0.0, fees=0.0, fills=[]),
            venue_order_id=f"{self.name}-{self.epoch}-o{self._order_seq}",
            arrive_at_bar=self._bar_index.get(order.symbol, 0) + self.latency_bars,
            decision_price=bar.close,
        )
        self._orders[order.client_order_id] = rest
        self._match(rest)
        if timeout:
            raise VenueTimeout(
                f"{self.name}: timed out after sending {order.client_order_id}", code="INJECTED"
            )
        return self._state(rest)

    def query_order(self, client_order_id: str, symbol: str) -> VenueOrderState:
        self._maybe_query_fault()
        rest = self._orders.get(client_order_id)
        if rest is None or rest.order.symbol != symbol:
            raise OrderNotFound(f"{self.name}: no order {client_order_id}", code="NOT_FOUND")
        return self._state(rest)

    def cancel(self, client_order_id: str, symbol: str) -> VenueOrderState:
        self._maybe_query_fault()
        rest = self._orders.get(client_order_id)
        if rest is None or rest.order.symbol != symbol:
            raise OrderNotFound(f"{self.name}: no order {client_order_id}", code="NOT_FOUND")
        if rest.status in (OrderStatus.ACKED, OrderStatus.PARTIALLY_FILLED):
            rest.status = OrderStatus.CANCELLED
        return self._state(rest)

    def poll_fills(self) -> list[Fill]:
        out, self._unpolled = self._unpolled, []
        return out

    def health(self) -> VenueHealth:
        return VenueHealth(self.name, not self.faults.down, "down (injected)" if self.faults.down else "ok")

    # -- internals -----------------------------------------------------------------------------------------
    def _maybe_query_fault(self) -> None:
        if self.faults.down:
            raise VenueUnavailable(f"{self.name}: venue down", code="DOWN")
        if self.faults.query_unavailable_rate and self._rng.random() < self.faults.query_unavailable_rate:
            raise VenueUnavailable(f"{self.name}: injected query failure", code="INJECTED")

    def _state(self, rest: _Resting) -> VenueOrderState:
        return VenueOrderState(
            venue=self.name,
            client_order_id=rest.order.client_order_id,
            venue_order_id=rest.venue_order_id,
            status=rest.status,
            filled_qty=rest.filled,
            fills=list(rest.fills),
        )

    def _match(self, rest: _Resting) -> list[Fill]:
        order = rest.order
        index = self._bar_index.get(order.symbol, 0)
        bar = self._bars.get(order.symbol)
        if bar is None or index < rest.arrive_at_bar or rest.remaining <= 0:
            return []
        side = order.side.sign
        base = bar.close
        if self.latency_bars and (bar.close - rest.decision_price) * side < 0:
            base = rest.decision_price  # latency never improves the price: the worse of the two
        if order.type is OrderType.LIMIT:
            if (order.side is Side.BUY and bar.close > order.limit_price) or (
                order.side is Side.SELL and bar.close < order.limit_price
            ):
                return []
        cap = self.execution.participation * bar.volume
        qty = min(rest.remaining, cap)
        if self.faults.partial_fill_rate and self._rng.random() < self.faults.partial_fill_rate:
            qty = min(qty, rest.remaining * self._rng.uniform(0.2, 0.8))
        if qty <= 0:
            return []
        cost = float(fill_cost(qty, bar.volume, self.slip_rate, self.execution.impact, bar.spread_bps * 1e-4))
        price = base * (1.0 + side * cost)
        if order.type is OrderType.LIMIT:
            price = min(price, order.limit_price) if order.side is Side.BUY else max(price, order.limit_price)
        if rest.remaining - qty <= 1e-12 * max(1.0, order.qty):
            qty = rest.remaining
        self._fill_seq += 1
        fill = Fill(
            venue=self.name,
            venue_order_id=rest.venue_order_id,
            fill_id=f"{self.name}-{self.epoch}-f{self._fill_seq}",
            qty=qty,
            price=price,
            fee=qty * price * self.fee_rate,
            ts=self.clock.now(),
        )
        rest.filled += qty
        rest.fills.append(fill)
        rest.status = OrderStatus.FILLED if rest.remaining <= 0 else OrderStatus.PARTIALLY_FILLED
        if rest.status is OrderStatus.FILLED:
            rest.filled = order.qty
        self.ledger.append(fill)
        self._unpolled.append(fill)
        return [fill]
