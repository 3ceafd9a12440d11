"""A venue's lot rules for one symbol: the quantity step, the minimum quantity and the minimum notional.

Quantities are compared and rounded in ``Decimal`` from the float's shortest text (``repr``), so a float
such as 0.3 is 3 steps of 0.1, not 2.9999... of them. ``round_down`` forgives float drift just under a step
(``DRIFT`` relative, at most a thousandth of a step), since a computed quantity like ``0.7 - 0.4`` means 0.3
and must not lose a whole step; ``check`` forgives nothing: what a client sends is traded exactly or refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal, InvalidOperation

BELOW_LOT_SIZE = "BELOW_LOT_SIZE"
OFF_LOT_STEP = "OFF_LOT_STEP"
LOT_RULES_UNAVAILABLE = "LOT_RULES_UNAVAILABLE"  # the venue cannot tell its rules now
DRIFT = Decimal("1e-12")
DRIFT_OF_STEP = Decimal("1e-3")  # never forgive more than a thousandth of a step


class LotRuleError(ValueError):
    """A venue's market data does not give usable lot rules; one line."""


def to_decimal(value: float | int | str | Decimal) -> Decimal:
    if isinstance(value, Decimal):
        out = value
    else:
        try:
            out = Decimal(repr(value) if isinstance(value, float) else str(value))
        except InvalidOperation:
            raise LotRuleError(f"not a number: {value!r}") from None
    if not out.is_finite():
        raise LotRuleError(f"not a finite number: {value!r}")
    return out


@dataclass(frozen=True)
class LotRule:
    step: Decimal | None = None  # None: any quantity
    min_qty: Decimal = Decimal(0)
    min_notional: Decimal | None = None

    def __post_init__(self) -> None:
        if self.step is not None and not self.step > 0:
            raise LotRuleError(f"lot step must be positive, got {self.step}")
        if self.min_qty < 0 or (self.min_notional is not None and self.min_notional < 0):
            raise LotRuleError("lot minimums must not be negative")

    @classmethod
    def of(cls, step=None, min_qty=0, min_notional=None) -> LotRule:
        return cls(
            None if step is None else to_decimal(step),
            to_decimal(min_qty or 0),
            None if min_notional is None else to_decimal(min_notional),
        )

    def round_down(self, qty: float | Decimal) -> Decimal:
        """``qty`` rounded down to a whole number of steps (unchanged without a step)."""
        value = to_decimal(qty)
        if self.step is None:
            return value
        steps = (value / self.step).to_integral_value(rounding=ROUND_FLOOR)
        if (steps + 1) * self.step - value <= min(value * DRIFT, self.step * DRIFT_OF_STEP):
            steps += 1
        return (steps * self.step).normalize() if steps else Decimal(0)

    def check(self, qty: float | Decimal, price: float | None = None) -> tuple[str, str] | None:
        """(reason code, message) when ``qty`` (at ``price`` when known) cannot be traded as it is:
        ``OFF_LOT_STEP`` or ``BELOW_LOT_SIZE``; None when it can."""
        value = to_decimal(qty)
        if self.step is not None and value % self.step != 0:
            return OFF_LOT_STEP, f"quantity {value:f} is not a multiple of the lot step {self.step:f}"
        if value <= 0 or value < self.min_qty:
            return BELOW_LOT_SIZE, f"quantity {value:f} is below the minimum {self.min_qty:f}"
        if self.min_notional is not None and price is not None and math.isfinite(price) and price > 0:
            notional = value * to_decimal(float(price))
            if notional < self.min_notional:
                return BELOW_LOT_SIZE, f"notional {notional:f} is below the minimum {self.min_notional:f}"
        return None

    def fit(self, qty: float | Decimal, price: float | None = None) -> tuple[Decimal, tuple[str, str] | None]:
        """(``qty`` rounded down, why that cannot be traded or None)."""
        rounded = self.round_down(qty)
        if rounded <= 0:
            return rounded, (
                BELOW_LOT_SIZE,
                f"quantity {to_decimal(qty):f} is less than one lot step {self.step:f}",
            )
        return rounded, self.check(rounded, price)


def combine(rules: list[LotRule]) -> LotRule | None:
    """The rule a quantity meets when it meets every one of ``rules`` (the venues one symbol may route to):
    the least common multiple of the steps, the largest minimums. None when no venue has a rule."""
    rules = [r for r in rules if r is not None]
    if not rules:
        return None
    if len(rules) == 1:
        return rules[0]
    steps = [r.step for r in rules if r.step is not None]
    step = None
    if steps:
        exponent = min(s.normalize().as_tuple().exponent for s in steps)
        scale = Decimal(10) ** exponent
        whole = math.lcm(*(int(s / scale) for s in steps))
        step = (whole * scale).normalize()
    notionals = [r.min_notional for r in rules if r.min_notional is not None]
    return LotRule(step, max(r.min_qty for r in rules), max(notionals) if notionals else None)
