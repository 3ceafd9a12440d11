"""Lot rules: quantities rounded down to a venue's step in exact decimals, minimums, combined venues."""

from decimal import Decimal

import pytest

from execution.core.lots import BELOW_LOT_SIZE, OFF_LOT_STEP, LotRule, LotRuleError, combine


@pytest.mark.parametrize(
    ("step", "qty", "expected"),
    [
        ("0.001", 0.0019999, "0.001"),  # just below a step: down to the one before
        ("0.001", 0.002, "0.002"),
        ("0.001", 0.0020001, "0.002"),  # just above a step
        ("0.1", 0.3, "0.3"),  # 0.3 is three steps of 0.1, not 2.999...
        ("0.1", 0.1 * 3, "0.3"),  # 0.30000000000000004
        ("0.1", 0.7 - 0.4, "0.3"),  # 0.29999999999999993: float drift, not a lost step
        ("0.1", 0.29, "0.2"),
        ("1", 2.9999999, "2"),
        ("1", 3.0, "3"),
        ("1e-8", 1.23456789123, "1.23456789"),
        ("1e-8", 0.000000019, "1E-8"),
        ("1e-8", 1_000_000.0, "1000000"),
        ("0.001", 1_000_000.0004, "1000000"),  # drift forgiveness never exceeds a fraction of a step
    ],
)
def test_round_down_to_the_step_in_exact_decimals(step, qty, expected):
    rounded = LotRule.of(step).round_down(qty)
    assert rounded == Decimal(expected)
    assert rounded % Decimal(step) == 0
    assert float(rounded) == float(expected) and repr(float(rounded)) == repr(float(expected))


def test_a_quantity_that_rounds_to_zero_or_under_the_minimum_is_below_lot_size():
    rule = LotRule.of("0.001", "0.005", "0.00001")
    assert rule.fit(0.0009) == (
        Decimal(0),
        (BELOW_LOT_SIZE, "quantity 0.0009 is less than one lot step 0.001"),
    )
    rounded, refused = rule.fit(0.0049)
    assert rounded == Decimal("0.004") and refused[0] == BELOW_LOT_SIZE and "minimum 0.005" in refused[1]
    assert rule.fit(0.0059) == (Decimal("0.005"), None)
    assert rule.fit(0.005, price=0.001)[1][0] == BELOW_LOT_SIZE  # notional 0.000005 < 0.00001
    assert rule.fit(0.005, price=1.0)[1] is None


def test_check_forgives_nothing():
    rule = LotRule.of(0.1)
    assert rule.check(0.3) is None and rule.check(2.0) is None
    assert rule.check(0.7 - 0.4)[0] == OFF_LOT_STEP
    assert rule.check(0.35) == (OFF_LOT_STEP, "quantity 0.35 is not a multiple of the lot step 0.1")
    assert rule.check(0.0)[0] == BELOW_LOT_SIZE
    assert LotRule().check(0.123456789) is None and LotRule().round_down(0.123456789) == Decimal(
        "0.123456789"
    )


def test_bad_rules_are_refused_not_guessed():
    for bad in ({"step": 0}, {"step": -0.1}, {"step": "nan"}, {"step": float("inf")}, {"min_qty": -1}):
        with pytest.raises(LotRuleError):
            LotRule.of(**bad)


def test_a_symbol_routed_to_several_venues_meets_every_rule():
    assert combine([None]) is None and combine([]) is None
    one = LotRule.of("0.001", "0.01")
    assert combine([one, None]) is one
    both = combine([one, LotRule.of("0.0025", 0, 5), LotRule.of(None, "0.02")])
    assert both == LotRule(Decimal("0.005"), Decimal("0.02"), Decimal(5))
