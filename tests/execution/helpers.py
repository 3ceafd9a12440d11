"""Shared builders for the execution tests."""

from execution.core.orders import Order, make_client_order_id
from execution.core.risk import RiskEngine, RiskLimits
from execution.live_router import LiveRouter, RoutingTable
from execution.venues.paper import PaperFaults, PaperVenue

SYMBOL = "ETH/BTC"


def make_order(n, qty=1.0, side="buy", symbol=SYMBOL, **kw):
    return Order(make_client_order_id("test", n), symbol, side, qty, **kw)


def paper(name, clock, seed=0, **faults):
    venue = PaperVenue(name, seed=seed, clock=clock, faults=PaperFaults(**faults))
    venue.on_bar(SYMBOL, 0.05, 10_000.0)
    return venue


def router_for(venues, clock, *, risk=None, journal=None, events=None, **kw):
    return LiveRouter(
        {v.name: v for v in venues},
        RoutingTable([v.name for v in venues]),
        risk=risk,
        journal=journal,
        clock=clock,
        sink=(events.append if events is not None else None),
        **kw,
    )


def loose_risk(clock, **overrides):
    limits = dict(
        max_order_notional=1e9,
        max_position_notional=1e12,
        daily_loss=1e9,
        max_orders=10**9,
        price_band_bps=500.0,
    )
    limits.update(overrides)
    risk = RiskEngine(RiskLimits(**limits), clock=clock)
    risk.set_reference_price(SYMBOL, 0.05)
    return risk


def replay_after_kill(path):
    """Replay a journal whose writer was killed (SIGKILL). Linux may stop a write to a regular file at a page
    boundary when a fatal signal arrives, so the kill can cut the last record. That record was never
    acknowledged (durable-before-ack): the operator's repair (``repair_journal``) must say so and cut only
    it; anything else (damage in the middle, a cut acknowledged record) fails here."""
    from execution.core.journal import JournalDamaged, replay
    from execution.core.journal_repair import repair_journal

    try:
        return replay(path)
    except JournalDamaged as exc:
        assert exc.damage.torn, exc.damage.one_line()
        result = repair_journal(path, actor="test")
        assert result is not None and result.acknowledged == [], result
        return replay(path)
