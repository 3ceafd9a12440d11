"""Orders, fills and the order state machine.

An order's status only moves along ``_TRANSITIONS``; anything else raises ``InvalidTransition`` so a
venue bug or a replayed journal can never resurrect a finished order. Client order ids are the idempotency
key everywhere (journal, router, venues): ``make_client_order_id`` derives one deterministically from the
caller's intent, and ``OrderStore.add`` returns the existing order for a duplicate instead of a second one.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from enum import StrEnum


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"


class Stage(StrEnum):
    DEMO = "demo"
    PAPER = "paper"
    LIVE = "live"


class OrderStatus(StrEnum):
    NEW = "NEW"
    ACKED = "ACKED"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset({OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED})

_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.NEW: frozenset(
        {
            OrderStatus.ACKED,
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.FILLED,
            OrderStatus.CANCELLED,
            OrderStatus.REJECTED,
        }
    ),
    OrderStatus.ACKED: frozenset({OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED, OrderStatus.CANCELLED}),
    OrderStatus.PARTIALLY_FILLED: frozenset(
        {OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED, OrderStatus.CANCELLED}
    ),
    OrderStatus.FILLED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
    OrderStatus.REJECTED: frozenset(),
}

# Binance (and most venues) accept 1..36 chars of [.A-Za-z0-9:/_-]; the generated ids stay inside that.
CLIENT_ORDER_ID_RE = re.compile(r"^[.A-Za-z0-9:/_-]{1,36}\Z")
_QTY_EPS = 1e-12


class OrderError(ValueError):
    """An order that cannot exist as given; the message is one line."""


class InvalidTransition(OrderError):
    pass


class DuplicateClientOrderId(OrderError):
    """Same client order id, different order: a caller bug, never silently merged."""


def make_client_order_id(namespace: str, *intent: object) -> str:
    """A deterministic id for one trading intent: the same (namespace, intent) always gives the same id.

    ``namespace`` is the session/strategy, ``intent`` whatever makes the order unique to the caller (signal
    timestamp, sequence number...). Resubmitting the same intent after a crash or retry therefore reuses the
    id, which is what makes every resubmission idempotent at the router, the journal and the venue.
    """
    text = "\x1f".join([namespace, *map(str, intent)])
    return "oem-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:28]


def replaced(obj, **changes):
    """``dataclasses.replace`` without running ``__init__``: a copy of a valid object with fields whose new
    values are valid by construction. Every order goes through a few such copies (the paper venue's resting
    copy, a fill's sequence number, a telemetry event without its owner), and ``replace`` re-validates the
    whole object each time."""
    copy = object.__new__(type(obj))
    copy.__dict__.update(obj.__dict__, **changes)
    return copy


@dataclass(frozen=True)
class Fill:
    venue: str
    venue_order_id: str
    fill_id: str
    qty: float
    price: float
    fee: float
    ts: float
    # The daemon's fill sequence number (1, 2, 3 ... for the life of the data dir; 0 = not yet journaled or
    # a journal older than sequence numbers). Clients resume StreamFills from the last one they saw.
    seq: int = 0

    def to_dict(self) -> dict:
        data = {
            "venue": self.venue,
            "venue_order_id": self.venue_order_id,
            "fill_id": self.fill_id,
            "qty": self.qty,
            "price": self.price,
            "fee": self.fee,
            "ts": self.ts,
        }
        if self.seq:
            data["seq"] = self.seq
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Fill:
        return cls(
            venue=str(data["venue"]),
            venue_order_id=str(data["venue_order_id"]),
            fill_id=str(data["fill_id"]),
            qty=float(data["qty"]),
            price=float(data["price"]),
            fee=float(data["fee"]),
            ts=float(data["ts"]),
            seq=int(data.get("seq", 0)),
        )


@dataclass
class Order:
    client_order_id: str
    symbol: str
    side: Side
    qty: float
    type: OrderType = OrderType.MARKET
    limit_price: float | None = None
    stage: Stage = Stage.PAPER
    status: OrderStatus = OrderStatus.NEW
    owner: str = ""  # the operator session that placed it (cancel-on-disconnect)
    venue: str | None = None
    venue_order_id: str | None = None
    filled_qty: float = 0.0
    fees: float = 0.0
    reason: str = ""  # reject / cancel reason code
    created_ts: float = 0.0
    updated_ts: float = 0.0
    fills: list[Fill] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.side = Side(self.side)
        self.type = OrderType(self.type)
        self.stage = Stage(self.stage)
        self.status = OrderStatus(self.status)
        if not CLIENT_ORDER_ID_RE.match(self.client_order_id or ""):
            raise OrderError(
                f"client_order_id {self.client_order_id!r} is not 1-36 chars of [.A-Za-z0-9:/_-]"
            )
        if not self.symbol:
            raise OrderError("symbol is empty")
        if not (isinstance(self.qty, int | float) and math.isfinite(self.qty) and self.qty > 0):
            raise OrderError(f"qty must be a positive finite number, got {self.qty!r}")
        if self.type is OrderType.LIMIT:
            if self.limit_price is None or not math.isfinite(self.limit_price) or self.limit_price <= 0:
                raise OrderError(f"limit order needs a positive limit_price, got {self.limit_price!r}")
        elif self.limit_price is not None:
            raise OrderError("market order must not carry a limit_price")

    # -- derived -------------------------------------------------------------------------------------------
    @property
    def remaining(self) -> float:
        left = self.qty - self.filled_qty
        return 0.0 if left <= _QTY_EPS * max(1.0, self.qty) else left

    @property
    def is_open(self) -> bool:
        return not self.status.terminal

    @property
    def avg_price(self) -> float | None:
        if self.filled_qty <= 0:
            return None
        return sum(f.qty * f.price for f in self.fills) / self.filled_qty

    def same_intent(self, other: Order) -> bool:
        return (self.symbol, self.side, self.qty, self.type, self.limit_price, self.stage) == (
            other.symbol,
            other.side,
            other.qty,
            other.type,
            other.limit_price,
            other.stage,
        )

    # -- state machine -------------------------------------------------------------------------------------
    def transition(self, status: OrderStatus, *, ts: float, reason: str = "") -> None:
        status = OrderStatus(status)
        if status not in _TRANSITIONS[self.status]:
            raise InvalidTransition(f"order {self.client_order_id}: {self.status} -> {status} is not allowed")
        self.status = status
        self.updated_ts = ts
        if reason:
            self.reason = reason

    def has_fill(self, fill: Fill) -> bool:
        return any(f.fill_id == fill.fill_id and f.venue == fill.venue for f in self.fills)

    def apply_fill(self, fill: Fill) -> bool:
        """Add a fill once (deduplicated by venue + fill id). Returns False for a fill already applied."""
        if self.has_fill(fill):
            return False
        if self.status.terminal:
            raise InvalidTransition(f"order {self.client_order_id}: fill {fill.fill_id} after {self.status}")
        if fill.qty <= 0 or fill.qty > self.remaining * (1 + 1e-9) + _QTY_EPS:
            raise OrderError(
                f"order {self.client_order_id}: fill {fill.fill_id} qty {fill.qty} exceeds remaining "
                f"{self.remaining}"
            )
        self.fills.append(fill)
        self.filled_qty = min(self.qty, self.filled_qty + fill.qty)
        self.fees += fill.fee
        if self.venue is None:
            self.venue = fill.venue
        if self.venue_order_id is None:
            self.venue_order_id = fill.venue_order_id
        done = self.remaining == 0.0
        self.transition(OrderStatus.FILLED if done else OrderStatus.PARTIALLY_FILLED, ts=fill.ts)
        if done:
            self.filled_qty = self.qty
        return True

    # -- serialisation (journal) ---------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "client_order_id": self.client_order_id,
            "symbol": self.symbol,
            "side": str(self.side),
            "qty": self.qty,
            "type": str(self.type),
            "limit_price": self.limit_price,
            "stage": str(self.stage),
            "status": str(self.status),
            "owner": self.owner,
            "venue": self.venue,
            "venue_order_id": self.venue_order_id,
            "filled_qty": self.filled_qty,
            "fees": self.fees,
            "reason": self.reason,
            "created_ts": self.created_ts,
            "updated_ts": self.updated_ts,
            "fills": [f.to_dict() for f in self.fills],
        }

    @classmethod
    def from_dict(cls, data: dict) -> Order:
        order = cls(
            client_order_id=data["client_order_id"],
            symbol=data["symbol"],
            side=Side(data["side"]),
            qty=float(data["qty"]),
            type=OrderType(data["type"]),
            limit_price=None if data.get("limit_price") is None else float(data["limit_price"]),
            stage=Stage(data["stage"]),
            status=OrderStatus(data["status"]),
            owner=data.get("owner", ""),
            venue=data.get("venue"),
            venue_order_id=data.get("venue_order_id"),
            filled_qty=float(data.get("filled_qty", 0.0)),
            fees=float(data.get("fees", 0.0)),
            reason=data.get("reason", ""),
            created_ts=float(data.get("created_ts", 0.0)),
            updated_ts=float(data.get("updated_ts", 0.0)),
        )
        order.fills = [Fill.from_dict(f) for f in data.get("fills", [])]
        return order


class OrderStore:
    """All orders of one daemon by client order id. ``add`` is the single idempotency point.

    Orders closed before the latest journal snapshot live only in the journal's archive (``archive``, an
    object with ``find(client_order_id) -> Order | None``): looked up there on demand, so an old client order
    id stays a duplicate for the life of the data dir while memory holds only what is open or recent.
    """

    def __init__(self, archive=None) -> None:
        self._orders: dict[str, Order] = {}
        self.archive = archive

    def add(self, order: Order) -> tuple[Order, bool]:
        """(order, created). A duplicate of the same intent returns the existing order, unchanged."""
        existing = self.get(order.client_order_id)
        if existing is not None:
            if not existing.same_intent(order):
                raise DuplicateClientOrderId(
                    f"client_order_id {order.client_order_id} already used for a different order"
                )
            return existing, False
        self._orders[order.client_order_id] = order
        return order, True

    def get(self, client_order_id: str) -> Order | None:
        order = self._orders.get(client_order_id)
        if order is None and self.archive is not None:
            order = self.archive.find(client_order_id)
        return order

    def __contains__(self, client_order_id: object) -> bool:
        return isinstance(client_order_id, str) and self.get(client_order_id) is not None

    def __len__(self) -> int:
        return len(self._orders)

    def all(self) -> list[Order]:
        """The orders in memory (open ones and those closed since the latest snapshot)."""
        return list(self._orders.values())

    def open_orders(self) -> list[Order]:
        return [o for o in self._orders.values() if o.is_open]

    def put(self, order: Order) -> None:
        """Install an order's replayed state as it is (journal restore: the newest record wins)."""
        self._orders[order.client_order_id] = order

    def forget_closed(self) -> list[str]:
        """Drop closed orders from memory once the archive holds them (after a journal snapshot)."""
        closed = [cid for cid, o in self._orders.items() if not o.is_open]
        for cid in closed:
            del self._orders[cid]
        return closed


class FillSequence:
    """The daemon's fill sequence number: one counter for every router, advanced under the router lock,
    so the journal order of fills is their sequence order. Restored from the journals at start."""

    def __init__(self, value: int = 0) -> None:
        self.value = value
