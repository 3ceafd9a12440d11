"""The ccxt polling feed against the loopback fake exchange: new bars once each, in order; 429s and dropped
connections back off and recover without losing or repeating a bar."""

import threading
import time

import pytest

from execution.feeds.base import MarketData
from execution.feeds.ccxt_feed import RATE_LIMIT_BACKOFF_S, CcxtPollingFeed
from execution.venues.ccxt_venue import make_binance
from tests.execution.fake_binance import FakeBinance

T0 = 1_700_000_040_000


@pytest.fixture
def fake():
    server = FakeBinance().start()
    yield server
    server.stop()


@pytest.fixture
def feed(fake, clock):
    exchange = make_binance(timeout_ms=300, base_url=fake.base_url, enable_rate_limit=False)
    market = MarketData(clock=clock, stale_after_s=10.0)
    return CcxtPollingFeed(
        exchange, ["ETH/BTC"], timeframe="1m", poll_s=0.01, backoff_s=0.1, touch=market.touch
    ), market


def _klines(fake):
    return sum(1 for method, path in fake.requests if (method, path) == ("GET", "/api/v3/klines"))


def test_new_candles_are_delivered_once_and_in_order(fake, feed):
    feed, market = feed
    got = []
    for i in range(3):
        fake.add_candle("ETHBTC", T0 + i * 60_000, 0.05 + i * 0.001)
    assert feed.poll_once(got.append) == 0.01
    assert [b.close for b in got] == [0.05, 0.051, 0.052] and got[0].ts == T0 / 1000
    feed.poll_once(got.append)
    assert len(got) == 3  # nothing new: nothing delivered, but the poll counts as fresh data
    fake.add_candle("ETHBTC", T0 + 3 * 60_000, 0.06)
    feed.poll_once(got.append)
    assert [b.close for b in got][-1] == 0.06 and len(got) == 4 and feed.stats.bars == 4
    assert not market.is_stale("ETH/BTC")


def test_a_429_backs_off_at_least_the_exchange_back_off_and_then_recovers(fake, feed):
    feed, _market = feed
    fake.add_candle("ETHBTC", T0, 0.05)
    fake.inject("GET", "/api/v3/klines", "429", "429")
    got = []
    first = feed.poll_once(got.append)
    second = feed.poll_once(got.append)
    assert first >= RATE_LIMIT_BACKOFF_S and second >= first and got == []
    assert (
        feed.stats.rate_limited == 2
        and "RateLimit" in feed.stats.last_error
        or "DDoS" in feed.stats.last_error
    )
    assert feed.poll_once(got.append) == 0.01 and len(got) == 1 and feed.stats.reconnects == 1


def test_dropped_connections_back_off_exponentially_and_missed_bars_arrive_after_the_reconnect(fake, feed):
    feed, _market = feed
    got = []
    fake.add_candle("ETHBTC", T0, 0.05)
    feed.poll_once(got.append)
    fake.inject("GET", "/api/v3/klines", "drop", "drop", "500")
    fake.add_candle("ETHBTC", T0 + 60_000, 0.051)
    fake.add_candle("ETHBTC", T0 + 120_000, 0.052)
    delays = [feed.poll_once(got.append) for _ in range(3)]
    assert delays == [0.1, 0.2, 0.4] and len(got) == 1
    assert feed.stats.disconnects == 2 and feed.stats.errors == 1  # the 500 is an answer, not a drop
    assert feed.poll_once(got.append) == 0.01
    assert [b.close for b in got] == [0.05, 0.051, 0.052] and feed.stats.reconnects == 1


def test_a_feed_that_stops_answering_makes_its_symbol_stale(fake, feed, clock):
    feed, market = feed
    market.expect(["ETH/BTC"])
    fake.add_candle("ETHBTC", T0, 0.05)
    feed.poll_once(market.on_bar)
    assert market.stale_symbols() == []
    fake.inject("GET", "/api/v3/klines", *(["drop"] * 5))
    for _ in range(5):
        feed.poll_once(market.on_bar)
        clock.advance(3.0)
    assert market.stale_symbols() == ["ETH/BTC"]


def test_the_run_loop_polls_until_stopped(fake, feed):
    feed, market = feed
    fake.add_candle("ETHBTC", T0, 0.05)
    stop = threading.Event()
    thread = threading.Thread(target=feed.run, args=(market.on_bar, stop), daemon=True)
    thread.start()
    deadline = time.time() + 5
    while time.time() < deadline and market.latest("ETH/BTC") is None:
        time.sleep(0.01)
    stop.set()
    thread.join(5)
    assert not thread.is_alive() and market.latest("ETH/BTC").close == 0.05 and _klines(fake) >= 1
