"""Pre-trade risk: limits from the active risk profile, trading states and the kill switch.

Every denial is a ``RiskDecision`` with a ``DenyReason`` code and a one-line message, so the gRPC API,
metrics (rejects by reason) and the audit trail all report the same thing. Cancels are never blocked:
in HALTED and REDUCING the way out of risk must stay open.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from enum import StrEnum

from execution.core.clock import Clock, SystemClock
from execution.core.orders import Order, OrderType, Side
from risklab.engine.profiles import RiskProfile

_DAY = 86_400.0


class TradingState(StrEnum):
    ACTIVE = "ACTIVE"
    HALTED = "HALTED"  # no new orders; cancels pass
    REDUCING = "REDUCING"  # only orders that reduce the absolute position


class DenyReason(StrEnum):
    HALTED = "HALTED"
    REDUCE_ONLY = "REDUCE_ONLY"
    MAX_ORDER_NOTIONAL = "MAX_ORDER_NOTIONAL"
    MAX_POSITION = "MAX_POSITION"
    DAILY_LOSS = "DAILY_LOSS"
    ORDER_RATE = "ORDER_RATE"
    PRICE_BAND = "PRICE_BAND"
    NO_REFERENCE_PRICE = "NO_REFERENCE_PRICE"
    STALE_MARKET_DATA = "STALE_MARKET_DATA"


@dataclass(frozen=True)
class RiskDecision:
    allowed: bool
    reason: DenyReason | None = None
    message: str = ""

    @classmethod
    def allow(cls) -> RiskDecision:
        return cls(True)

    @classmethod
    def deny(cls, reason: DenyReason, message: str) -> RiskDecision:
        return cls(False, reason, message)


@dataclass(frozen=True)
class RiskLimits:
    """Absolute limits in quote currency (except the rate). ``math.inf`` switches a limit off."""

    max_order_notional: float
    max_position_notional: float
    daily_loss: float
    max_orders: int  # per sliding window
    window_s: float = 60.0
    price_band_bps: float = 500.0  # limit price / market reference price within +-band

    @classmethod
    def from_profile(
        cls, profile: RiskProfile, *, capital: float, price_band_bps: float = 500.0
    ) -> RiskLimits:
        """Map a Paper Labs profile onto live limits for an account of ``capital`` (quote currency).

        One order and the whole position may each use ``position_fraction * leverage`` of capital (the lab
        sizes one position per signal the same way); the daily loss limit is a fraction of capital; the
        order rate is the profile's per-minute rate over a 60 s sliding window.
        """
        if not (math.isfinite(capital) and capital > 0):
            raise ValueError(f"capital must be positive, got {capital!r}")
        exposure = capital * profile.position_fraction * profile.leverage
        return cls(
            max_order_notional=exposure,
            max_position_notional=exposure,
            daily_loss=capital * profile.daily_loss_limit,
            max_orders=max(1, int(profile.max_order_rate_per_min)),
            window_s=60.0,
            price_band_bps=price_band_bps,
        )

    @classmethod
    def from_mapping(cls, mapping: dict) -> RiskLimits:
        known = {
            "max_order_notional",
            "max_position_notional",
            "daily_loss",
            "max_orders",
            "window_s",
            "price_band_bps",
        }
        unknown = sorted(set(mapping) - known)
        if unknown:
            raise ValueError(f"risk limits: unknown key(s) {', '.join(unknown)}")
        return cls(**mapping)


class RiskEngine:
    """Pre-trade checks plus the running state they need (positions, daily P&L, recent order times).

    The router calls ``check_new`` before journaling an order, ``on_fill`` for every fill, and
    ``set_reference_price`` from market data. Time comes from the injected clock only.
    """

    def __init__(self, limits: RiskLimits, *, clock: Clock | None = None) -> None:
        self.limits = limits
        self.clock = clock or SystemClock()
        self.state = TradingState.ACTIVE
        self.state_reason = ""
        self._ref: dict[str, float] = {}
        self._pos: dict[str, float] = {}
        self._cost: dict[str, float] = {}  # average entry price of the open position
        self._realised_day = 0.0
        self._day = self._day_of(self.clock.now())
        self._recent: deque[float] = deque()
        self._stale: dict[str, str] = {}  # symbol -> why its market data is stale

    # -- state ---------------------------------------------------------------------------------------------
    def set_state(self, state: TradingState, reason: str = "") -> None:
        self.state = TradingState(state)
        self.state_reason = reason

    def set_reference_price(self, symbol: str, price: float) -> None:
        if not (math.isfinite(price) and price > 0):
            raise ValueError(f"reference price for {symbol} must be positive, got {price!r}")
        self._ref[symbol] = price

    def set_stale(self, symbol: str, reason: str | None) -> None:
        """Mark ``symbol``'s market data stale (new orders refused) or, with None, fresh again."""
        if reason:
            self._stale[symbol] = reason
        else:
            self._stale.pop(symbol, None)

    def stale_symbols(self) -> list[str]:
        return sorted(self._stale)

    def reference_price(self, symbol: str) -> float | None:
        return self._ref.get(symbol)

    def position(self, symbol: str) -> float:
        return self._pos.get(symbol, 0.0)

    def restore_position(self, symbol: str, qty: float, avg_price: float) -> None:
        self._pos[symbol] = qty
        self._cost[symbol] = avg_price

    def export_book(self) -> dict:
        """Positions, entry prices and realised P&L (journal snapshots keep the book of closed orders)."""
        return {"pos": dict(self._pos), "cost": dict(self._cost), "realised": self._realised_day}

    def import_book(self, book: dict) -> None:
        self._pos.update({str(k): float(v) for k, v in (book.get("pos") or {}).items()})
        self._cost.update({str(k): float(v) for k, v in (book.get("cost") or {}).items()})
        self._realised_day += float(book.get("realised") or 0.0)

    @staticmethod
    def _day_of(ts: float) -> int:
        return int(ts // _DAY)

    def _roll_day(self) -> None:
        day = self._day_of(self.clock.now())
        if day != self._day:
            self._day = day
            self._realised_day = 0.0

    def daily_pnl(self) -> float:
        """Realised P&L today plus open positions marked to the reference price (fees included)."""
        self._roll_day()
        unrealised = 0.0
        for symbol, qty in self._pos.items():
            ref = self._ref.get(symbol)
            if qty and ref is not None:
                unrealised += qty * (ref - self._cost.get(symbol, ref))
        return self._realised_day + unrealised

    def on_fill(self, symbol: str, side: Side, qty: float, price: float, fee: float = 0.0) -> None:
        self._roll_day()
        signed = Side(side).sign * qty
        pos = self._pos.get(symbol, 0.0)
        cost = self._cost.get(symbol, price)
        if pos == 0.0 or (pos > 0) == (signed > 0):
            new = pos + signed
            self._cost[symbol] = (abs(pos) * cost + qty * price) / abs(new)
        else:
            closed = min(abs(signed), abs(pos))
            self._realised_day += closed * (price - cost) * (1 if pos > 0 else -1)
            new = pos + signed
            if new == 0.0 or (new > 0) != (pos > 0):
                self._cost[symbol] = price  # flipped (or flat): the remainder opened at this price
        self._pos[symbol] = 0.0 if abs(new) < 1e-12 else new
        self._realised_day -= fee

    # -- checks --------------------------------------------------------------------------------------------
    def is_reducing(self, order: Order, pending: float = 0.0) -> bool:
        """True when the order (after ``pending`` signed qty of open orders) cannot grow |position|."""
        pos = self.position(order.symbol) + pending
        signed = order.side.sign * order.qty
        return pos != 0.0 and (pos > 0) != (signed > 0) and abs(signed) <= abs(pos) + 1e-12

    def check_new(self, order: Order, *, pending: float = 0.0, record: bool = True) -> RiskDecision:
        """Decide on a new order. ``pending`` is the signed open quantity already working in the symbol.

        An allowed order is counted against the order-rate window when ``record`` is true.
        """
        decision = self._check(order, pending)
        if decision.allowed and record:
            self._recent.append(self.clock.now())
        return decision

    def _check(self, order: Order, pending: float) -> RiskDecision:
        lim = self.limits
        cid = order.client_order_id
        if self.state is TradingState.HALTED:
            why = f" ({self.state_reason})" if self.state_reason else ""
            return RiskDecision.deny(DenyReason.HALTED, f"{cid}: trading is halted{why}; only cancels pass")
        stale = self._stale.get(order.symbol)
        if stale is not None:  # a price nobody has confirmed lately is no reference for any order
            return RiskDecision.deny(DenyReason.STALE_MARKET_DATA, f"{cid}: {order.symbol}: {stale}")
        reducing = self.is_reducing(order, pending)
        if self.state is TradingState.REDUCING and not reducing:
            return RiskDecision.deny(
                DenyReason.REDUCE_ONLY, f"{cid}: REDUCING state admits only orders that shrink the position"
            )
        ref = self._ref.get(order.symbol)
        if ref is None:
            return RiskDecision.deny(
                DenyReason.NO_REFERENCE_PRICE, f"{cid}: no reference price for {order.symbol}"
            )
        if order.type is OrderType.LIMIT:
            band = lim.price_band_bps * 1e-4
            low, high = ref * (1 - band), ref * (1 + band)
            if not low <= order.limit_price <= high:
                return RiskDecision.deny(
                    DenyReason.PRICE_BAND,
                    f"{cid}: limit {order.limit_price:g} outside {lim.price_band_bps:g} bps band "
                    f"[{low:g}, {high:g}] around {ref:g}",
                )
        price = order.limit_price if order.type is OrderType.LIMIT else ref
        notional = order.qty * price
        if notional > lim.max_order_notional:
            return RiskDecision.deny(
                DenyReason.MAX_ORDER_NOTIONAL,
                f"{cid}: notional {notional:g} above max {lim.max_order_notional:g} per order",
            )
        projected = abs(self.position(order.symbol) + pending + order.side.sign * order.qty) * ref
        if not reducing and projected > lim.max_position_notional:
            return RiskDecision.deny(
                DenyReason.MAX_POSITION,
                f"{cid}: position would be {projected:g} notional, above max {lim.max_position_notional:g}",
            )
        pnl = self.daily_pnl()
        if not reducing and pnl <= -lim.daily_loss:
            return RiskDecision.deny(
                DenyReason.DAILY_LOSS,
                f"{cid}: daily loss {-pnl:g} reached limit {lim.daily_loss:g}; only reducing orders pass",
            )
        now = self.clock.now()
        while self._recent and self._recent[0] <= now - lim.window_s:
            self._recent.popleft()
        if len(self._recent) >= lim.max_orders:
            return RiskDecision.deny(
                DenyReason.ORDER_RATE,
                f"{cid}: {len(self._recent)} orders in the last {lim.window_s:g}s (max {lim.max_orders})",
            )
        return RiskDecision.allow()

    def check_cancel(self, order: Order) -> RiskDecision:  # noqa: ARG002 - same shape as check_new
        """Cancels always pass, in every state: they can only take risk off."""
        return RiskDecision.allow()
