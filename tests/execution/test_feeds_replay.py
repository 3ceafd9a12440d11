"""The replay feed: Parquet bars in a fixed order, paced by the speed factor, bad files refused."""

import threading

import pytest

from execution.feeds.base import FeedError, MarketData, timeframe_seconds
from execution.feeds.replay import ReplayFeed, symbol_from_filename
from risklab.engine.data import SAMPLE_DATA
from tests.execution.strategy_helpers import write_bars


def _collect(feed, **kw):
    out = []
    feed.run(out.append, threading.Event(), **kw)
    return out


def test_the_committed_sample_replays_every_bar_in_order_as_its_symbol():
    feed = ReplayFeed.from_files([SAMPLE_DATA], stop_after=300)
    bars = _collect(feed)
    assert len(bars) == 300 and feed.timeframe == "5m" and feed.symbols == ("ETH/BTC",)
    assert all(b.symbol == "ETH/BTC" for b in bars)
    assert all(later.ts - earlier.ts == 300.0 for earlier, later in zip(bars, bars[1:], strict=False))
    assert feed.name == "replay:ETH_BTC-5m.parquet:max"


def test_two_symbols_merge_by_time_then_symbol_and_the_same_files_give_the_same_sequence(tmp_path):
    a = write_bars(tmp_path / "ETH_BTC-5m.parquet", [1.0, 1.1, 1.2, 1.3])
    b = write_bars(tmp_path / "LTC_BTC-5m.parquet", [2.0, 2.1, 2.2], start_ms=1_600_000_150_000 - 150_000)
    first = [(x.symbol, x.ts, x.close) for x in _collect(ReplayFeed.from_files([a, b]))]
    second = [(x.symbol, x.ts, x.close) for x in _collect(ReplayFeed.from_files([b, a]))]
    assert first == second
    assert [s for s, _, _ in first[:4]] == ["ETH/BTC", "LTC/BTC", "ETH/BTC", "LTC/BTC"]


def test_the_speed_factor_scales_the_wait_between_bars_and_gaps_wait_one_interval(tmp_path):
    path = write_bars(tmp_path / "ETH_BTC-5m.parquet", [1.0, 1.1, 1.2])
    waits = []
    feed = ReplayFeed.from_files([path], speed=10.0)
    _collect(feed, wait=lambda s: waits.append(s) or False)
    assert waits == [30.0, 30.0]  # 300 s bars at 10x
    assert _collect(ReplayFeed.from_files([path]), wait=lambda s: pytest.fail("max speed never waits"))


def test_a_stop_during_a_wait_ends_the_replay_without_another_bar(tmp_path):
    path = write_bars(tmp_path / "ETH_BTC-5m.parquet", [1.0, 1.1, 1.2])
    out = []
    ReplayFeed.from_files([path], speed=1.0).run(out.append, threading.Event(), wait=lambda s: True)
    assert len(out) == 1


@pytest.mark.parametrize(
    ("name", "closes", "message"),
    [
        ("prices.parquet", [1.0, 1.1], "name the file BASE_QUOTE"),
        ("ETH_BTC-5m.parquet", [1.0, -1.0], "row 1: non-positive price"),
        ("ETH_BTC-bad.parquet", None, "unreadable Parquet"),
    ],
)
def test_bad_replay_files_are_refused_in_one_line(tmp_path, name, closes, message):
    path = tmp_path / name
    if closes is None:
        path.write_bytes(b"not parquet at all")
    else:
        write_bars(path, closes)
    with pytest.raises(FeedError) as excinfo:
        ReplayFeed.from_files([path])
    assert message in str(excinfo.value) and "\n" not in str(excinfo.value)


def test_symbols_and_timeframes_are_parsed_strictly():
    assert symbol_from_filename("XRP_ETH-1h.parquet") == "XRP/ETH"
    assert timeframe_seconds("5m") == 300.0 and timeframe_seconds("1h") == 3600.0
    for bad in ("", "5", "m", "-5m", "5y", "0m"):
        with pytest.raises(FeedError):
            timeframe_seconds(bad)
    with pytest.raises(FeedError):
        ReplayFeed.from_files([SAMPLE_DATA], speed=-1.0)


def test_market_data_keeps_a_bounded_window_and_judges_staleness_on_receipt_time(clock):
    market = MarketData(clock=clock, stale_after_s=5.0, history=4)
    market.expect(["ETH/BTC", "LTC/BTC"])
    assert market.stale_symbols() == ["ETH/BTC", "LTC/BTC"]  # no data at all is stale
    for bar in _collect(ReplayFeed.from_files([SAMPLE_DATA], stop_after=10)):
        assert market.on_bar(bar)
    assert not market.on_bar(market.latest("ETH/BTC"))  # a re-sent bar is not a new one
    window = market.window("ETH/BTC")
    assert len(window) == 4 and window.close[-1] == market.latest("ETH/BTC").close
    assert market.stale_symbols() == ["LTC/BTC"]
    clock.advance(5.5)
    assert market.stale_symbols() == ["ETH/BTC", "LTC/BTC"]
    market.touch("ETH/BTC")
    assert market.stale_symbols() == ["LTC/BTC"]
