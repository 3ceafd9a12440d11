import pytest

from execution.core.lots import LotRule
from execution.core.orders import OrderStatus
from execution.live_router import LiveRouter, RoutingTable
from execution.venues.base import OrderNotFound, VenueRejected, VenueTimeout, VenueUnavailable
from execution.venues.ccxt_venue import CcxtVenue, make_binance
from tests.execution.fake_binance import FakeBinance
from tests.execution.helpers import make_order, paper

TIMEOUT_MS = 300


@pytest.fixture
def fake():
    server = FakeBinance().start()
    server.fault_sleep_s = 3 * TIMEOUT_MS / 1000
    yield server
    server.stop()


@pytest.fixture
def binance(fake):
    exchange = make_binance(
        api_key="test-key",
        secret="test-secret",
        timeout_ms=TIMEOUT_MS,
        base_url=fake.base_url,
        enable_rate_limit=False,
    )
    assert all(url.startswith("http://127.0.0.1:") for url in exchange.urls["api"].values())
    return CcxtVenue(exchange, name="binance")


def _router(binance, clock, events, **kw):
    backup = paper("paper", clock)
    router = LiveRouter(
        {"binance": binance, "paper": backup},
        RoutingTable(["binance", "paper"]),
        clock=clock,
        sink=events.append,
        **kw,
    )
    return router, backup


def _posts(fake):
    return sum(1 for method, path in fake.requests if (method, path) == ("POST", "/api/v3/order"))


def test_ccxt_venue_normal_fill_through_the_fake_exchange(fake, binance, clock):
    events = []
    router, backup = _router(binance, clock, events)
    result = router.submit(make_order(1, qty=2.0))
    assert result.accepted and result.order.status is OrderStatus.FILLED and result.order.venue == "binance"
    assert result.order.filled_qty == fake.filled_qty(result.order.client_order_id) == 2.0
    assert result.order.fills[0].price == pytest.approx(0.05) and backup.ledger == []
    assert ("GET", "/api/v3/exchangeInfo") in fake.requests  # markets came from the fake, not the internet


def test_ccxt_partial_fill_is_tracked_to_completion(fake, binance, clock):
    fake.fill_fraction = 0.25
    router, _ = _router(binance, clock, [])
    order = router.submit(make_order(1, qty=4.0)).order
    assert order.status is OrderStatus.PARTIALLY_FILLED and order.filled_qty == pytest.approx(1.0)
    fake.advance()
    router.poll()
    assert order.status is OrderStatus.FILLED and len(order.fills) == 2


def test_ccxt_timeout_after_send_is_resolved_by_fetch_order_without_duplicate(fake, binance, clock):
    fake.inject("POST", "/api/v3/order", "timeout")
    events = []
    router, backup = _router(binance, clock, events)
    result = router.submit(make_order(1, qty=3.0))
    assert result.order.status is OrderStatus.FILLED and result.order.venue == "binance"
    assert _posts(fake) == 1 and len(fake.orders) == 1 and backup.ledger == []
    assert [e.data.get("outcome") for e in events if e.kind == "resolved"] == ["found"]


def test_ccxt_5xx_is_unavailable_and_router_falls_back(fake, binance, clock):
    fake.inject("POST", "/api/v3/order", "503", "500")
    events = []
    router, backup = _router(binance, clock, events, retries=1)
    result = router.submit(make_order(1))
    assert result.accepted and result.order.venue == "paper" and len(backup.ledger) == 1
    assert fake.orders == {}  # binance never placed it: the 5xx was checked by client id before falling back
    errors = [e.data["code"] for e in events if e.kind == "venue_error"]
    assert errors == ["ExchangeNotAvailable", "OperationFailed"]
    assert any(e.kind == "fallback" for e in events)


def test_ccxt_429_is_unavailable_with_backoff(fake, binance, clock):
    fake.inject("POST", "/api/v3/order", "429")
    with pytest.raises(VenueUnavailable) as raised:
        binance.submit(make_order(1))
    assert raised.value.retry_after == pytest.approx(1.0) and fake.orders == {}
    fake.inject("POST", "/api/v3/order", "429")
    router, backup = _router(binance, clock, [], retries=1)
    start = clock.now()
    result = router.submit(make_order(2))
    assert clock.now() - start == pytest.approx(1.0)  # backed off before the retry
    assert (
        result.order.venue == "binance" and result.order.status is OrderStatus.FILLED and backup.ledger == []
    )


def test_ccxt_connection_drop_before_and_after_apply_never_duplicates(fake, binance, clock):
    fake.inject("POST", "/api/v3/order", "drop", "drop_after")
    events = []
    router, backup = _router(binance, clock, events, retries=2)
    first = router.submit(make_order(1)).order  # dropped before apply: not found, retried, placed once
    second = router.submit(make_order(2)).order  # dropped after apply: found by client id
    for order in (first, second):
        assert order.status is OrderStatus.FILLED and order.venue == "binance"
    assert len(fake.orders) == 2 and backup.ledger == []
    assert [e.data["outcome"] for e in events if e.kind == "resolved"] == ["not_found", "found"]


def test_ccxt_rejects_and_unknown_orders_map_to_venue_outcomes(fake, binance):
    with pytest.raises(VenueRejected) as raised:
        binance.submit(make_order(1, qty=100_000.0))  # insufficient balance (-2010)
    assert raised.value.code == "InsufficientFunds"
    with pytest.raises(OrderNotFound):
        binance.query_order("nope", "ETH/BTC")
    fake.inject("GET", "/api/v3/order", "drop")
    with pytest.raises(VenueUnavailable):
        binance.query_order("nope", "ETH/BTC")
    fake.inject("POST", "/api/v3/order", "timeout")
    with pytest.raises(VenueTimeout):
        binance.submit(make_order(2))
    assert binance.health().up


def test_ccxt_signed_requests_are_verified_by_the_fake(fake):
    wrong = make_binance(
        api_key="test-key",
        secret="wrong",
        timeout_ms=TIMEOUT_MS,
        base_url=fake.base_url,
        enable_rate_limit=False,
    )
    with pytest.raises(VenueRejected):
        CcxtVenue(wrong).submit(make_order(1))
    assert fake.orders == {}


def test_lot_rules_come_from_the_markets_loaded_once(binance, fake):
    rule = binance.lot_rule("ETH/BTC")
    assert rule == LotRule.of("0.001", "0.001", "0.00001")
    assert binance.lot_rule("LTC/BTC") == rule
    assert fake.requests.count(("GET", "/api/v3/exchangeInfo")) == 1
    with pytest.raises(VenueRejected, match="no market XRP/USDT"):
        binance.lot_rule("XRP/USDT")


def test_lot_rules_that_cannot_be_loaded_are_a_refusal_not_a_guess(binance, fake):
    fake.inject("GET", "/api/v3/exchangeInfo", "500")
    with pytest.raises(VenueUnavailable, match="cannot load markets"):
        binance.lot_rule("ETH/BTC")
    assert binance.lot_rule("ETH/BTC").step == LotRule.of("0.001").step  # loaded on the next ask
