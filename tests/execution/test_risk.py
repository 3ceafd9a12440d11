import pytest

from execution.core.orders import OrderStatus
from execution.core.risk import DenyReason, RiskEngine, RiskLimits, TradingState
from risklab.engine.profiles import load_profiles
from tests.execution.helpers import SYMBOL, loose_risk, make_order, paper, router_for


def test_halted_state_denies_new_orders_but_passes_cancels(clock):
    venue = paper("p", clock)
    risk = loose_risk(clock)
    router = router_for([venue], clock, risk=risk)
    resting = router.submit(make_order(1, type="limit", limit_price=0.049)).order
    risk.set_state(TradingState.HALTED, "maintenance")
    denied = router.submit(make_order(2))
    assert not denied.accepted and denied.reason == DenyReason.HALTED
    assert "maintenance" in denied.message and "\n" not in denied.message
    assert router.cancel(resting.client_order_id).accepted
    assert resting.status is OrderStatus.CANCELLED


def test_reducing_state_denies_exposure_increasing_orders(clock):
    risk = loose_risk(clock)
    risk.on_fill(SYMBOL, "buy", 10.0, 0.05)
    risk.set_state(TradingState.REDUCING)
    assert risk.check_new(make_order(1, qty=4.0, side="sell")).allowed
    more = risk.check_new(make_order(2, qty=1.0, side="buy"))
    assert more.reason is DenyReason.REDUCE_ONLY
    flip = risk.check_new(make_order(3, qty=25.0, side="sell"))  # would go short: increases |position|
    assert flip.reason is DenyReason.REDUCE_ONLY


def test_max_order_notional_denial_has_its_reason_code(clock):
    risk = loose_risk(clock, max_order_notional=1.0)
    decision = risk.check_new(make_order(1, qty=100.0))  # 100 * 0.05 = 5 > 1
    assert decision.reason is DenyReason.MAX_ORDER_NOTIONAL and "notional" in decision.message


def test_max_position_denial_has_its_reason_code(clock):
    risk = loose_risk(clock, max_position_notional=10.0)
    risk.on_fill(SYMBOL, "buy", 150.0, 0.05)  # 7.5 notional
    assert risk.check_new(make_order(1, qty=100.0)).reason is DenyReason.MAX_POSITION
    assert risk.check_new(make_order(2, qty=100.0, side="sell")).allowed  # reducing always fits


def test_daily_loss_denial_has_its_reason_code_and_resets_next_day(clock):
    risk = loose_risk(clock, daily_loss=1.0)
    risk.on_fill(SYMBOL, "buy", 100.0, 0.05)
    risk.set_reference_price(SYMBOL, 0.035)  # -1.5 unrealised
    assert risk.check_new(make_order(1)).reason is DenyReason.DAILY_LOSS
    risk.on_fill(SYMBOL, "sell", 100.0, 0.035)  # realised now
    assert risk.check_new(make_order(2)).reason is DenyReason.DAILY_LOSS
    clock.advance(86_400)
    assert risk.check_new(make_order(3)).allowed


def test_order_rate_denial_uses_a_sliding_window(clock):
    risk = loose_risk(clock, max_orders=3, window_s=60.0)
    for n in range(3):
        assert risk.check_new(make_order(n)).allowed
        clock.advance(10)
    assert risk.check_new(make_order(9)).reason is DenyReason.ORDER_RATE
    clock.advance(30.1)  # the first order leaves the 60 s window
    assert risk.check_new(make_order(10)).allowed


def test_price_band_denial_has_its_reason_code(clock):
    risk = loose_risk(clock, price_band_bps=100.0)
    far = risk.check_new(make_order(1, type="limit", limit_price=0.06))
    assert far.reason is DenyReason.PRICE_BAND
    assert risk.check_new(make_order(2, type="limit", limit_price=0.0504)).allowed


def test_missing_reference_price_denies(clock):
    risk = RiskEngine(RiskLimits(1e9, 1e9, 1e9, 100), clock=clock)
    assert risk.check_new(make_order(1)).reason is DenyReason.NO_REFERENCE_PRICE


def test_limits_come_from_the_risk_profile():
    profile = load_profiles(names=["conservative"])["conservative"]
    limits = RiskLimits.from_profile(profile, capital=10.0)
    assert limits.max_order_notional == pytest.approx(10.0 * 0.25 * 1.0)
    assert limits.daily_loss == pytest.approx(0.2)
    assert limits.max_orders == 10 and limits.window_s == 60.0


def test_every_deny_reason_is_covered():
    covered = {"HALTED", "REDUCE_ONLY", "MAX_ORDER_NOTIONAL", "MAX_POSITION", "DAILY_LOSS", "ORDER_RATE"}
    covered |= {"PRICE_BAND", "NO_REFERENCE_PRICE", "STALE_MARKET_DATA"}
    assert {r.value for r in DenyReason} == covered


def test_the_risk_engine_refuses_new_orders_on_a_stale_symbol_and_lets_cancels_pass(clock):
    risk = loose_risk(clock)
    risk.set_stale(SYMBOL, "no market data for more than 10s")
    decision = risk.check_new(make_order(1))
    assert not decision.allowed and decision.reason is DenyReason.STALE_MARKET_DATA
    assert "no market data" in decision.message
    assert risk.check_cancel(make_order(2)).allowed
    risk.set_stale(SYMBOL, None)
    assert risk.check_new(make_order(3)).allowed and risk.stale_symbols() == []
