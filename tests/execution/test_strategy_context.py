"""StrategyContext: the stage rules derived from the verified runtime state, refusals with reason codes."""

import pytest

from execution.core.lots import LotRule
from execution.core.orders import Stage
from execution.core.risk import DenyReason, RiskLimits
from execution.daemon.gate import GateResult
from execution.feeds.base import Bar, MarketData
from execution.strategy.context import Refusal, RuntimeGrant, StrategyContext
from tests.execution.helpers import SYMBOL, loose_risk, paper, router_for
from tests.execution.strategy_helpers import RouterPort

DEMO = RuntimeGrant()
PAPER_READY = RuntimeGrant(require_demo_mode=False, source="paper.jsonl:1")
COMPLIANT_LOCKED = RuntimeGrant(
    require_demo_mode=False, compliance_confirmed=True, live_reasons=("no bundle",)
)
LIVE_READY = RuntimeGrant(require_demo_mode=False, compliance_confirmed=True, live_unlocked=True)


@pytest.fixture
def world(clock):
    venue = paper("paper", clock)
    risk = loose_risk(clock)
    router = router_for([venue], clock, risk=risk)
    market = MarketData(clock=clock, stale_after_s=10.0)
    market.on_bar(Bar(SYMBOL, 1.0, 0.05, 0.05, 0.05, 0.05, 10_000.0))
    grant = {"now": DEMO}

    def make(stage=Stage.PAPER):
        return StrategyContext(
            name="trend",
            stage=stage,
            symbols=[SYMBOL],
            timeframe="5m",
            limits=RiskLimits(1e9, 1e9, 1e9, 1000),
            runtime=lambda: grant["now"],
            market=market,
            orders=RouterPort(router),
            clock=clock,
        )

    return make, grant, market, venue, risk


def test_a_demo_context_refuses_paper_and_live_orders_and_trades_demo(world):
    make, grant, _market, venue, _risk = world
    ctx = make(Stage.LIVE)
    assert ctx.require_demo_mode and not ctx.compliance_confirmed
    for stage in ("paper", "live"):
        refused = ctx.submit(SYMBOL, "buy", 1.0, stage=stage)
        assert not refused.accepted and refused.reason == Refusal.DEMO_MODE_REQUIRED and refused.order is None
    assert venue.ledger == []  # nothing reached the venue
    demo = ctx.submit(SYMBOL, "buy", 1.0, stage="demo")
    assert demo.accepted and demo.order.status == "FILLED" and demo.order.stage is Stage.DEMO
    assert ctx.position(SYMBOL) == 1.0 and ctx.stats.refused == {"DEMO_MODE_REQUIRED": 2}


def test_the_runtime_flags_are_read_only_and_follow_the_verified_state(world):
    make, grant, *_ = world
    ctx = make()
    with pytest.raises(AttributeError):
        ctx.require_demo_mode = False
    with pytest.raises(AttributeError):
        ctx.compliance_confirmed = True
    assert ctx.submit(SYMBOL, "buy", 1.0).reason == Refusal.DEMO_MODE_REQUIRED
    grant["now"] = PAPER_READY  # a verified paper_ready entry: the next read sees it
    assert not ctx.require_demo_mode
    assert ctx.submit(SYMBOL, "buy", 1.0).accepted


def test_live_needs_compliance_and_the_unlocked_gate_even_when_the_strategy_asks(world):
    make, grant, *_ = world
    ctx = make(Stage.LIVE)
    grant["now"] = PAPER_READY
    assert ctx.submit(SYMBOL, "buy", 1.0, stage="live").reason == Refusal.COMPLIANCE_NOT_CONFIRMED
    grant["now"] = COMPLIANT_LOCKED
    refused = ctx.submit(SYMBOL, "buy", 1.0, stage="live")
    assert refused.reason == Refusal.LIVE_LOCKED and "no bundle" in refused.message
    grant["now"] = LIVE_READY
    assert ctx.submit(SYMBOL, "buy", 1.0, stage="live").accepted


def test_a_paper_strategy_may_not_go_live_even_when_live_is_unlocked(world):
    make, grant, *_ = world
    grant["now"] = LIVE_READY
    ctx = make(Stage.PAPER)
    assert ctx.submit(SYMBOL, "buy", 1.0, stage="live").reason == Refusal.STAGE_NOT_ALLOWED
    assert ctx.submit(SYMBOL, "buy", 1.0, stage="demo").accepted


def test_stale_or_missing_market_data_stops_submissions(world, clock):
    make, grant, market, *_ = world
    grant["now"] = PAPER_READY
    ctx = make()
    clock.advance(11.0)
    stale = ctx.submit(SYMBOL, "buy", 1.0)
    assert stale.reason == Refusal.STALE_MARKET_DATA and stale.reason == DenyReason.STALE_MARKET_DATA
    market.on_bar(Bar(SYMBOL, 2.0, 0.05, 0.05, 0.05, 0.05, 10_000.0))
    assert ctx.submit(SYMBOL, "buy", 1.0).accepted
    other = make()
    other._symbols = ("ETH/BTC", "LTC/BTC")
    assert other.submit("LTC/BTC", "buy", 1.0).reason == Refusal.NO_MARKET_DATA
    assert ctx.submit("LTC/BTC", "buy", 1.0).reason == Refusal.SYMBOL_NOT_DECLARED


def test_bad_quantities_are_refused_in_one_line_without_an_order(world):
    make, grant, *_ = world
    grant["now"] = PAPER_READY
    ctx = make()
    for qty in (0.0, -1.0, float("nan"), float("inf")):
        result = ctx.submit(SYMBOL, "buy", qty)
        assert result.reason == Refusal.INVALID_ORDER and "\n" not in result.message
    assert ctx.orders() == []


def test_a_grant_from_an_unevaluated_gate_is_the_safe_default():
    grant = RuntimeGrant.from_gate(GateResult(False, ["not evaluated yet"]))
    assert grant.require_demo_mode and not grant.compliance_confirmed and not grant.live_unlocked


def test_quantities_are_rounded_down_to_the_venue_lot_step_or_refused_below_it(world):
    make, grant, _market, venue, _risk = world
    grant["now"] = PAPER_READY
    ctx = make()
    assert ctx.submit(SYMBOL, "buy", 0.123456789).order.qty == 0.123456789  # no lot step: as computed
    venue.lots[SYMBOL] = LotRule.of("0.1", "0.2")
    sent = ctx.submit(SYMBOL, "buy", 0.7 - 0.4 + 0.049)  # 0.349 -> 0.3, exactly
    assert sent.accepted and sent.order.qty == 0.3 and sent.order.status == "FILLED"
    assert sent.order.filled_qty == 0.3
    fills = len(venue.ledger)
    for qty in (0.05, 0.19):  # rounds to zero; rounds to 0.1, under the minimum 0.2
        refused = ctx.submit(SYMBOL, "sell", qty)
        assert not refused.accepted and refused.order is None and refused.reason == Refusal.BELOW_LOT_SIZE
    assert len(venue.ledger) == fills and ctx.stats.refused == {"BELOW_LOT_SIZE": 2}
    assert ctx.stats.last_refusal.startswith(f"BELOW_LOT_SIZE: {SYMBOL}: quantity 0.1 is below the minimum")
