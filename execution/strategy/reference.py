"""The reference strategies: the Paper Labs functions of ``risklab.engine.strategies``, run bar by bar.

One implementation, not a copy: ``TargetStrategy`` calls the same function the lab calls, on the symbol's
recent bars (``MarketData`` history, oldest first), and takes the target of the newest bar. Like the lab's
engine it acts only when the target changes, sizing the order to ``target * exposure / close`` minus what
the strategy holds, where exposure is its risk profile's position limit times ``allocation``; an order
larger than the per-order limit is sent in parts on consecutive bars.

Custom strategies register a factory with ``register``; the config names classes only from this registry,
never an importable path.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Protocol

import numpy as np

from execution.feeds.base import Bar
from execution.strategy.context import StrategyContext
from risklab.engine.strategies import STRATEGIES

_EPS = 1e-9
_HEADROOM = 1.0 - 1e-9  # sized exactly at the limit, rounding must not push it over


class Strategy(Protocol):
    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None: ...


class TargetStrategy:
    def __init__(
        self, function: Callable[..., np.ndarray], parameters: dict, allocation: float = 1.0
    ) -> None:
        self.function = function
        self.parameters = dict(parameters)
        self.allocation = allocation
        self.targets: dict[str, float] = {}  # the last target an order was accepted for, per symbol

    def target(self, ctx: StrategyContext, symbol: str) -> float | None:
        window = ctx.bars(symbol)
        if window is None or len(window) < 2:
            return None
        return float(self.function(window, **self.parameters)[-1])

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        target = self.target(ctx, bar.symbol)
        if target is None or target == self.targets.get(bar.symbol, 0.0):
            return
        exposure = ctx.limits.max_position_notional * self.allocation * _HEADROOM
        held = ctx.position(bar.symbol) + ctx.pending(bar.symbol)
        delta = target * exposure / bar.close - held
        if abs(delta) <= _EPS * max(abs(held), 1.0):
            self.targets[bar.symbol] = target
            return
        # One order stays within the per-order limit; the rest follows on the next bars (the target counts as
        # reached only once nothing is left), as a lab order works over several bars.
        qty = min(abs(delta), ctx.limits.max_order_notional * _HEADROOM / bar.close)
        result = ctx.submit(bar.symbol, "buy" if delta > 0 else "sell", qty, intent=(bar.symbol, bar.ts))
        # A refusal the daemon made (risk, venue) stands until the target changes: resending it every bar
        # would only fill the journal with rejections. A refusal of the context (stale data) is retried,
        # except a quantity under the venue's lot: it cannot be traded, the target counts as reached (as it
        # does when the context sent the whole delta rounded down to the lot step).
        if (
            (result.accepted and qty == abs(delta))
            or (not result.accepted and result.order is not None)
            or result.reason == "BELOW_LOT_SIZE"
        ):
            self.targets[bar.symbol] = target


Factory = Callable[[dict, float], Strategy]
_REGISTRY: dict[str, Factory] = {}


def register(name: str, factory: Factory) -> None:
    """Make ``class: <name>`` available to the config. Reference names cannot be replaced."""
    if name in STRATEGIES:
        raise ValueError(f"{name} is a reference strategy and cannot be replaced")
    _REGISTRY[name] = factory


def unregister(name: str) -> None:
    _REGISTRY.pop(name, None)


def class_names() -> list[str]:
    return sorted({*STRATEGIES, *_REGISTRY})


def _check_parameters(name: str, function: Callable, parameters: dict) -> None:
    accepted = list(inspect.signature(function).parameters)[1:]
    unknown = sorted(set(parameters) - set(accepted))
    if unknown:
        raise ValueError(
            f"{name}: unknown parameter(s) {', '.join(unknown)} (accepted: {', '.join(accepted)})"
        )
    probe = type("Probe", (), {"close": np.linspace(1.0, 2.0, 8)})()
    try:
        function(probe, **parameters)
    except (TypeError, ValueError) as exc:
        raise ValueError(" ".join(str(exc).split())) from None


def build(name: str, parameters: dict, allocation: float = 1.0) -> Strategy:
    """A fresh strategy instance for ``class: name``; bad parameters are a one-line ValueError."""
    if name in STRATEGIES:
        _check_parameters(name, STRATEGIES[name], parameters)
        return TargetStrategy(STRATEGIES[name], parameters, allocation)
    factory = _REGISTRY.get(name)
    if factory is None:
        raise ValueError(f"unknown strategy class {name!r} (known: {', '.join(class_names())})")
    return factory(dict(parameters), allocation)
