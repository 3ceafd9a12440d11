"""The strategy host: runs the declared strategies on the feed's bars, each isolated from the others.

Strategies run on the feed's thread, one after another per bar, in declaration order (deterministic: the
same replay, seed and speed give the same orders). An exception from a strategy halts that strategy only:
its state becomes HALTED with the error as ``last_error``, it is reported (event, audit line, metric) and
every other strategy, the feed and the daemon go on. Start and stop are decisions of a person (the
daemon's RPCs) and are recorded with the actor; starting refuses a stage the ``StrategyContext`` would
refuse, with the same reason code. Stopping cancels the strategy's open orders and keeps its position.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from execution.core.clock import Clock
from execution.core.risk import RiskLimits
from execution.feeds.base import Bar, MarketData
from execution.strategy import reference
from execution.strategy.context import OrderPort, RuntimeGrant, StrategyContext
from execution.strategy.spec import StrategySpec


class StrategyState(StrEnum):
    RUNNING = "RUNNING"
    STOPPED = "STOPPED"
    HALTED = "HALTED"  # stopped by its own exception; needs a person to start it again


@dataclass
class Slot:
    spec: StrategySpec
    context: StrategyContext
    strategy: reference.Strategy
    state: StrategyState = StrategyState.STOPPED
    last_error: str = ""
    bars: int = 0


@dataclass(frozen=True)
class StrategyInfo:
    name: str
    strategy_class: str
    stage: str
    state: str
    symbols: tuple[str, ...]
    timeframe: str
    risk_profile: str
    positions: dict[str, float]
    pnl: float
    fees: float
    orders: int
    open_orders: int
    accepted: int
    refused: dict[str, int] = field(default_factory=dict)
    last_refusal: str = ""
    last_error: str = ""
    bars: int = 0
    recent_orders: tuple = ()  # the last RECENT_ORDERS Order objects, oldest first


@dataclass(frozen=True)
class ControlResult:
    ok: bool
    info: StrategyInfo | None
    code: str = ""  # NOT_FOUND or a context refusal reason
    message: str = ""


Event = Callable[[str, dict], None]
RECENT_ORDERS = 200


class StrategyHost:
    def __init__(
        self,
        specs: list[StrategySpec],
        *,
        market: MarketData,
        orders: OrderPort,
        runtime: Callable[[], RuntimeGrant],
        limits_for: Callable[[StrategySpec], RiskLimits],
        clock: Clock,
        run_id: str,
        on_event: Event | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.market = market
        self.orders = orders
        self.clock = clock
        self._on_event = on_event or (lambda kind, data: None)
        self._lock = threading.RLock()
        self.slots: dict[str, Slot] = {}
        self._by_symbol: dict[str, list[Slot]] = {}
        for spec in specs:
            context = StrategyContext(
                name=spec.name,
                stage=spec.stage,
                symbols=spec.symbols,
                timeframe=spec.timeframe,
                limits=limits_for(spec),
                runtime=runtime,
                market=market,
                orders=orders,
                clock=clock,
                log=log,
                run_id=run_id,
                parameters=spec.parameters,
            )
            context.running = False
            slot = Slot(spec, context, reference.build(spec.strategy_class, spec.parameters, spec.allocation))
            self.slots[spec.name] = slot
            for symbol in spec.symbols:
                self._by_symbol.setdefault(symbol, []).append(slot)
        market.expect(self._by_symbol)

    @property
    def symbols(self) -> list[str]:
        return sorted(self._by_symbol)

    # -- the feed's thread ----------------------------------------------------------------------------------
    def on_bar(self, bar: Bar) -> None:
        for slot in self._by_symbol.get(bar.symbol, ()):
            if slot.state is not StrategyState.RUNNING:
                continue
            slot.bars += 1
            try:
                slot.strategy.on_bar(slot.context, bar)
            except Exception as exc:  # noqa: BLE001 - isolation: the strategy halts, nothing else does
                self._halt(slot, exc)

    def _halt(self, slot: Slot, exc: BaseException) -> None:
        with self._lock:
            slot.state = StrategyState.HALTED
            slot.context.running = False
            slot.last_error = f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
        self._on_event(
            "strategy_halted",
            {
                "strategy": slot.spec.name,
                "error": slot.last_error,
                "actor": "host",
                "stage": str(slot.spec.stage),
            },
        )

    # -- people's decisions ---------------------------------------------------------------------------------
    def start(self, name: str, *, actor: str, reason: str = "") -> ControlResult:
        with self._lock:
            slot = self.slots.get(name)
            if slot is None:
                return ControlResult(False, None, "NOT_FOUND", f"no strategy {name!r}")
            refused = slot.context.may_use(slot.spec.stage)
            if refused is not None:
                code, message = refused
                self._on_event(
                    "strategy_start_refused",
                    {"strategy": name, "actor": actor, "reason": str(code), "message": message},
                )
                return ControlResult(False, self.info(name), str(code), message)
            if slot.state is not StrategyState.RUNNING:
                if slot.state is StrategyState.HALTED:  # a fresh instance: the failed one's state is suspect
                    slot.strategy = reference.build(
                        slot.spec.strategy_class, slot.spec.parameters, slot.spec.allocation
                    )
                slot.state = StrategyState.RUNNING
                slot.context.running = True
                slot.last_error = ""
            self._on_event(
                "strategy_started",
                {"strategy": name, "actor": actor, "reason": reason, "stage": str(slot.spec.stage)},
            )
            return ControlResult(True, self.info(name))

    def stop(self, name: str, *, actor: str, reason: str = "") -> ControlResult:
        with self._lock:
            slot = self.slots.get(name)
            if slot is None:
                return ControlResult(False, None, "NOT_FOUND", f"no strategy {name!r}")
            if slot.state is StrategyState.RUNNING:
                slot.state = StrategyState.STOPPED
            slot.context.running = False
        cancelled = 0
        for order in slot.context.open_orders():
            cancelled += bool(slot.context.cancel(order.client_order_id).accepted)
        self._on_event(
            "strategy_stopped",
            {"strategy": name, "actor": actor, "reason": reason, "cancelled": cancelled},
        )
        return ControlResult(True, self.info(name))

    # -- reads ----------------------------------------------------------------------------------------------
    def info(self, name: str) -> StrategyInfo:
        slot = self.slots[name]
        ctx = slot.context
        orders = ctx.orders()
        pnl, fees = ctx.pnl()
        return StrategyInfo(
            name=name,
            strategy_class=slot.spec.strategy_class,
            stage=str(slot.spec.stage),
            state=str(slot.state),
            symbols=slot.spec.symbols,
            timeframe=slot.spec.timeframe,
            risk_profile=slot.spec.risk_profile,
            positions={s: ctx.position(s) for s in slot.spec.symbols},
            pnl=pnl,
            fees=fees,
            orders=len(orders),
            open_orders=sum(o.is_open for o in orders),
            accepted=ctx.stats.accepted,
            refused=dict(ctx.stats.refused or {}),
            last_refusal=ctx.stats.last_refusal,
            last_error=slot.last_error,
            bars=slot.bars,
            recent_orders=tuple(orders[-RECENT_ORDERS:]),
        )

    def list(self) -> list[StrategyInfo]:
        return [self.info(name) for name in self.slots]
