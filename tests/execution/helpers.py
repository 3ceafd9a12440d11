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
