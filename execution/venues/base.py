"""The venue protocol and its outcome vocabulary.

``submit`` has exactly four outcomes, and the router's safety depends on telling them apart:

- returns a ``VenueOrderState``: the venue has the order (acked, maybe already (partly) filled);
- ``VenueUnavailable``: the order was definitely NOT placed; safe to retry or go elsewhere;
- ``VenueTimeout``: AMBIGUOUS, the order may have been placed; the caller must ``query_order`` before any
  resubmission anywhere;
- ``VenueRejected``: the venue refused this order; final.

``query_order`` raises ``OrderNotFound`` when the venue has no order with that client order id.

A venue may also tell its lot rules, ``lot_rule(symbol) -> LotRule | None`` (``execution.core.lots``; None
or no such method: any quantity); the daemon sizes and checks orders against them before the journal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from execution.core.orders import Fill, Order, OrderStatus


class VenueError(Exception):
    def __init__(self, message: str, *, code: str = "") -> None:
        super().__init__(message)
        self.code = code


class VenueTimeout(VenueError):
    """Ambiguous: the request may have reached the venue and been executed."""


class VenueUnavailable(VenueError):
    """Definitely not executed (down, overloaded, rate limited). ``retry_after`` in seconds when known."""

    def __init__(self, message: str, *, code: str = "", retry_after: float | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class VenueRejected(VenueError):
    """The venue refused the order (invalid, insufficient funds, ...). ``code`` is the reason."""


class OrderNotFound(VenueError):
    """The venue has no order with that client order id."""


@dataclass
class VenueOrderState:
    """What a venue knows about one order: the answer to submit, query and cancel."""

    venue: str
    client_order_id: str
    venue_order_id: str
    status: OrderStatus
    filled_qty: float = 0.0
    fills: list[Fill] = field(default_factory=list)
    reason: str = ""


@dataclass(frozen=True)
class VenueHealth:
    venue: str
    up: bool
    detail: str = ""


@runtime_checkable
class Venue(Protocol):
    """A place orders go. A venue may declare ``in_process = True`` when its whole state lives in this
    process and ends with it (the paper venue): the router then journals an order's NEW and its answer in
    one durable commit (``execution.live_router``). Any other venue is outside: NEW is durable before it
    sees the order."""

    name: str

    def submit(self, order: Order) -> VenueOrderState: ...

    def query_order(self, client_order_id: str, symbol: str) -> VenueOrderState: ...

    def cancel(self, client_order_id: str, symbol: str) -> VenueOrderState: ...

    def poll_fills(self) -> list[Fill]:
        """Fills since the previous call (the venue's fill stream, drained)."""

    def health(self) -> VenueHealth: ...
