"""``StrategyContext``: what one strategy sees and may do, and the object the promotion gates lock.

A strategy reads bars and quotes (``bars``, ``latest``), its own positions, open orders and P&L, its risk
profile's limits, the clock and a logger; it acts only through ``submit`` and ``cancel``.

``require_demo_mode`` and ``compliance_confirmed`` are read-only properties. They are read, on every access,
from a ``RuntimeGrant`` source; in the daemon that source is the run-time gate's last result
(``execution.daemon.gate.evaluate_live``: strictly verified, signed decision logs, ``runtime_state``).
There is no setter and the config's ``runtime_flags`` are never read, so neither code nor config can move
them. ``submit`` checks, before the order goes anywhere, in this order:

1. ``require_demo_mode`` -> only the demo stage (``DEMO_MODE_REQUIRED``);
2. live -> ``compliance_confirmed`` (``COMPLIANCE_NOT_CONFIRMED``) and the daemon's live gate
   (``LIVE_LOCKED``);
3. the strategy's declared stage is the highest it may use (``STAGE_NOT_ALLOWED``);
4. the symbol is one the strategy declared (``SYMBOL_NOT_DECLARED``), has data (``NO_MARKET_DATA``) and
   the data is fresh (``STALE_MARKET_DATA``);
5. the quantity, rounded DOWN to the lot step of the venues the order may route to (exact decimal
   arithmetic, see ``execution.core.lots``), is still at least one step and the venue's minimum quantity and
   notional (``BELOW_LOT_SIZE``; ``LOT_RULES_UNAVAILABLE`` when the venue cannot tell its rules now). The
   order is sent with the rounded quantity, so the exchange trades exactly what the journal holds. Paper
   venues have no lot step unless configured: paper and demo quantities are sent as computed.

A refusal returns a ``RouteResult`` with that reason and writes nothing. Orders that pass still meet the
daemon's own checks behind the order port (mode, live gate, pre-trade risk, the router).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from execution.core.clock import Clock
from execution.core.lots import BELOW_LOT_SIZE, LOT_RULES_UNAVAILABLE, LotRule
from execution.core.orders import Order, OrderError, Stage, make_client_order_id
from execution.core.risk import RiskLimits
from execution.feeds.base import Bar, BarWindow
from execution.live_router import RouteResult
from execution.venues.base import VenueError

# Owner of a strategy's orders: STRATEGY_OWNER + name. The daemon refuses tokens whose subject is in this
# namespace, so no client can place, read or adopt orders as a strategy.
STRATEGY_OWNER = "strategy:"


class Refusal(StrEnum):
    DEMO_MODE_REQUIRED = "DEMO_MODE_REQUIRED"
    COMPLIANCE_NOT_CONFIRMED = "COMPLIANCE_NOT_CONFIRMED"
    LIVE_LOCKED = "LIVE_LOCKED"
    STAGE_NOT_ALLOWED = "STAGE_NOT_ALLOWED"
    SYMBOL_NOT_DECLARED = "SYMBOL_NOT_DECLARED"
    NO_MARKET_DATA = "NO_MARKET_DATA"
    STALE_MARKET_DATA = "STALE_MARKET_DATA"
    STRATEGY_NOT_RUNNING = "STRATEGY_NOT_RUNNING"
    INVALID_ORDER = "INVALID_ORDER"
    BELOW_LOT_SIZE = BELOW_LOT_SIZE
    LOT_RULES_UNAVAILABLE = LOT_RULES_UNAVAILABLE


@dataclass(frozen=True)
class RuntimeGrant:
    """What the verified evidence allows right now. The defaults are the safe ones (no evidence)."""

    require_demo_mode: bool = True
    compliance_confirmed: bool = False
    live_unlocked: bool = False
    source: str | None = None  # "file:line" of the entry the flags come from; None = defaults
    live_reasons: tuple[str, ...] = ()

    @classmethod
    def from_gate(cls, gate) -> RuntimeGrant:
        """From an ``execution.daemon.gate.GateResult``: the only producer of grants in the daemon."""
        runtime = gate.runtime
        return cls(
            bool(runtime.require_demo_mode),
            bool(runtime.compliance_confirmed),
            bool(gate.live_unlocked),
            runtime.source,
            tuple(gate.reasons),
        )


_RANK = {Stage.DEMO: 0, Stage.PAPER: 1, Stage.LIVE: 2}


def stage_refusal(grant: RuntimeGrant, stage: Stage, declared: Stage) -> tuple[Refusal, str] | None:
    """Why ``stage`` is refused under ``grant`` to a strategy declared for ``declared`` (None: allowed)."""
    stage = Stage(stage)
    if grant.require_demo_mode and stage is not Stage.DEMO:
        return Refusal.DEMO_MODE_REQUIRED, (
            f"{stage} orders refused: StrategyContext.require_demo_mode is true "
            f"(from {grant.source or 'the safe defaults: no verified decision entry'})"
        )
    if stage is Stage.LIVE:
        if not grant.compliance_confirmed:
            return (
                Refusal.COMPLIANCE_NOT_CONFIRMED,
                "live orders refused: runtime.compliance_confirmed is false",
            )
        if not grant.live_unlocked:
            why = "; ".join(grant.live_reasons[:3]) or "the live gate is locked"
            return Refusal.LIVE_LOCKED, f"live orders refused: {why}"
    if _RANK[stage] > _RANK[Stage(declared)]:
        return Refusal.STAGE_NOT_ALLOWED, f"{stage} orders refused: the strategy is declared for {declared}"
    return None


class OrderPort(Protocol):
    def submit(self, *, cid, symbol, side, qty, order_type, limit_price, stage, owner) -> RouteResult: ...

    def cancel(self, cid: str) -> RouteResult: ...

    def get(self, cid: str) -> Order | None: ...

    # optional: ``lot_rule(symbol, stage) -> LotRule | None`` (an order port without it: any quantity)


class MarketView(Protocol):
    def latest(self, symbol: str) -> Bar | None: ...

    def window(self, symbol: str, n: int | None = None) -> BarWindow | None: ...

    def is_stale(self, symbol: str) -> bool: ...


@dataclass
class ContextStats:
    submitted: int = 0
    accepted: int = 0
    refused: dict[str, int] | None = None
    last_refusal: str = ""

    def refuse(self, reason: str, message: str) -> None:
        if self.refused is None:
            self.refused = {}
        self.refused[reason] = self.refused.get(reason, 0) + 1
        self.last_refusal = f"{reason}: {message}"


class StrategyContext:
    def __init__(
        self,
        *,
        name: str,
        stage: Stage,
        symbols,
        timeframe: str,
        limits: RiskLimits,
        runtime: Callable[[], RuntimeGrant],
        market: MarketView,
        orders: OrderPort,
        clock: Clock,
        log: Callable[[str], None] | None = None,
        run_id: str = "0",
        parameters: dict | None = None,
    ) -> None:
        self._name = name
        self._stage = Stage(stage)
        self._symbols = tuple(symbols)
        self._timeframe = timeframe
        self._limits = limits
        self._runtime = runtime
        self._market = market
        self._orders = orders
        self._clock = clock
        self._log = log or (lambda message: None)
        self._run_id = run_id
        self._parameters = dict(parameters or {})
        self._cids: list[str] = []
        self._seq = 0
        self.running = True
        self.stats = ContextStats()

    # -- what the gates lock: read-only, derived ------------------------------------------------------------
    @property
    def require_demo_mode(self) -> bool:
        return self._runtime().require_demo_mode

    @property
    def compliance_confirmed(self) -> bool:
        return self._runtime().compliance_confirmed

    def may_use(self, stage: Stage | str) -> tuple[Refusal, str] | None:
        return stage_refusal(self._runtime(), Stage(stage), self._stage)

    # -- what a strategy reads ------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._name

    @property
    def stage(self) -> Stage:
        return self._stage

    @property
    def symbols(self) -> tuple[str, ...]:
        return self._symbols

    @property
    def timeframe(self) -> str:
        return self._timeframe

    @property
    def limits(self) -> RiskLimits:
        return self._limits

    @property
    def parameters(self) -> dict:
        return dict(self._parameters)

    def now(self) -> float:
        return self._clock.now()

    def log(self, message: str) -> None:
        self._log(f"strategy {self._name}: {message}")

    def latest(self, symbol: str) -> Bar | None:
        return self._market.latest(symbol)

    def bars(self, symbol: str, n: int | None = None) -> BarWindow | None:
        return self._market.window(symbol, n)

    def orders(self) -> list[Order]:
        return [o for o in (self._orders.get(cid) for cid in self._cids) if o is not None]

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        return [o for o in self.orders() if o.is_open and (symbol is None or o.symbol == symbol)]

    def position(self, symbol: str) -> float:
        return sum(o.side.sign * o.filled_qty for o in self.orders() if o.symbol == symbol)

    def pending(self, symbol: str) -> float:
        """Signed quantity still working in open orders."""
        return sum(o.side.sign * o.remaining for o in self.open_orders(symbol))

    def pnl(self) -> tuple[float, float]:
        """(P&L: cash flow of every fill, fees included, plus open positions at the latest close; fees)."""
        cash = fees = 0.0
        units: dict[str, float] = {}
        for order in self.orders():
            for fill in order.fills:
                cash -= order.side.sign * fill.qty * fill.price + fill.fee
                fees += fill.fee
                units[order.symbol] = units.get(order.symbol, 0.0) + order.side.sign * fill.qty
        for symbol, qty in units.items():
            bar = self._market.latest(symbol)
            if bar is not None:
                cash += qty * bar.close
        return cash, fees

    def adopt(self, client_order_ids) -> None:
        """Orders this strategy placed before a restart (the journal's, owner ``strategy:<name>``): its
        position, P&L and open orders continue instead of starting from zero."""
        for cid in client_order_ids:
            if cid not in self._cids:
                self._cids.append(cid)

    # -- what a strategy does -------------------------------------------------------------------------------
    def _refuse(self, reason: Refusal, message: str) -> RouteResult:
        self.stats.refuse(str(reason), message)
        return RouteResult(None, False, reason=str(reason), message=message)

    def submit(
        self,
        symbol: str,
        side: str,
        qty: float,
        *,
        order_type: str = "market",
        limit_price: float | None = None,
        stage: Stage | str | None = None,
        intent: object = None,
    ) -> RouteResult:
        """Send an order through the daemon; ``intent`` makes the client order id (default: a sequence)."""
        self.stats.submitted += 1
        stage = Stage(stage or self._stage)
        if not self.running:
            return self._refuse(Refusal.STRATEGY_NOT_RUNNING, f"strategy {self._name} is not running")
        refused = self.may_use(stage)
        if refused is not None:
            return self._refuse(*refused)
        if symbol not in self._symbols:
            return self._refuse(Refusal.SYMBOL_NOT_DECLARED, f"{symbol} is not one of {list(self._symbols)}")
        latest = self._market.latest(symbol)
        if latest is None:
            return self._refuse(Refusal.NO_MARKET_DATA, f"no market data for {symbol} yet")
        if self._market.is_stale(symbol):
            return self._refuse(Refusal.STALE_MARKET_DATA, f"market data for {symbol} is stale")
        if not (isinstance(qty, int | float) and math.isfinite(qty) and qty > 0):
            return self._refuse(Refusal.INVALID_ORDER, f"qty must be a positive finite number, got {qty!r}")
        lot_rule = getattr(self._orders, "lot_rule", None)
        if lot_rule is not None:
            try:
                rule: LotRule | None = lot_rule(symbol, stage)
            except VenueError as exc:
                return self._refuse(Refusal.LOT_RULES_UNAVAILABLE, str(exc))
            if rule is not None:
                price = limit_price if order_type == "limit" and limit_price else latest.close
                rounded, refused = rule.fit(qty, price)
                if refused is not None:
                    return self._refuse(Refusal(refused[0]), f"{symbol}: {refused[1]}")
                qty = float(rounded)
        self._seq += 1
        cid = make_client_order_id(
            f"{STRATEGY_OWNER}{self._name}:{self._run_id}", *(intent if intent is not None else (self._seq,))
        )
        try:
            result = self._orders.submit(
                cid=cid,
                symbol=symbol,
                side=side,
                qty=float(qty),
                order_type=order_type,
                limit_price=limit_price,
                stage=stage,
                owner=f"{STRATEGY_OWNER}{self._name}",
            )
        except OrderError as exc:
            return self._refuse(Refusal.INVALID_ORDER, str(exc))
        if result.order is not None and cid not in self._cids:
            self._cids.append(cid)
        if result.accepted:
            self.stats.accepted += 1
        else:
            self.stats.refuse(result.reason or "REJECTED", result.message)
        return result

    def cancel(self, client_order_id: str) -> RouteResult:
        if client_order_id not in self._cids:
            return RouteResult(None, False, reason="UNKNOWN_ORDER", message="not an order of this strategy")
        return self._orders.cancel(client_order_id)
