import numpy as np
import pyarrow as pa
import pytest

from risklab.engine.data import SAMPLE_DATA, MarketDataError, load_bars, load_trades
from tests.risklab.conftest import SHARED_MARKET, write_bars


def test_sample_loads_as_validated_float64_columns(sample_bars):
    assert len(sample_bars) == 5760
    for column in (
        sample_bars.open,
        sample_bars.high,
        sample_bars.low,
        sample_bars.close,
        sample_bars.volume,
    ):
        assert column.dtype == np.float64
    assert sample_bars.timestamp.dtype == np.int64
    assert sample_bars.bar_seconds == 300.0
    assert len(sample_bars.sha384) == 96


def test_sample_is_a_byte_copy_of_the_shared_file():
    shared = SHARED_MARKET / "ETH_BTC-5m.parquet"
    if not shared.exists():
        pytest.skip("shared market data not present on this machine")
    assert SAMPLE_DATA.read_bytes() == shared.read_bytes()


def _changed(column, row, value, rows=20):
    close = 100.0 + np.arange(rows, dtype=np.float64)
    base = {"open": close - 0.5, "high": close + 1.0, "low": close - 1.0, "volume": np.full(rows, 10.0)}[
        column
    ]
    base[row] = value
    return base


def _nan_close(rows=20):
    close = 100.0 + np.arange(rows, dtype=np.float64)
    close[7] = np.nan
    return close


def _unsorted_timestamps(rows=20):
    stamps = np.datetime64("2018-01-10T00:00:00", "ns") + np.arange(rows) * np.timedelta64(5, "m")
    stamps[[4, 5]] = stamps[[5, 4]]
    return pa.array(stamps, type=pa.timestamp("ns", tz="UTC"))


def _duplicate_timestamps(rows=20):
    stamps = np.datetime64("2018-01-10T00:00:00", "ns") + np.arange(rows) * np.timedelta64(5, "m")
    stamps[9] = stamps[8]
    return pa.array(stamps, type=pa.timestamp("ns", tz="UTC"))


@pytest.mark.parametrize(
    ("overrides", "row", "rule"),
    [
        ({"close": _nan_close()}, 7, "NaN value"),
        ({"timestamp": _unsorted_timestamps()}, 5, "timestamps not sorted ascending"),
        ({"timestamp": _duplicate_timestamps()}, 9, "duplicate timestamp"),
        ({"high": _changed("high", 3, 90.0)}, 3, "high < low"),
        ({"volume": _changed("volume", 11, -1.0)}, 11, "negative volume"),
        ({"low": _changed("low", 2, 0.0)}, 2, "non-positive price"),
        ({"open": _changed("open", 6, 200.0)}, 6, "high < max(open, close)"),
        ({"low": _changed("low", 4, 104.0)}, 4, "min(open, close) < low"),
    ],
)
def test_bad_data_is_rejected_with_one_line_naming_file_row_and_rule(tmp_path, overrides, row, rule):
    path = write_bars(tmp_path / "bad.parquet", **overrides)
    with pytest.raises(MarketDataError) as caught:
        load_bars(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message == f"bad.parquet: row {row}: {rule}"


def test_missing_file_and_missing_column_are_one_line_errors(tmp_path):
    with pytest.raises(MarketDataError, match=r"^nope.parquet: file: not found"):
        load_bars(tmp_path / "nope.parquet")
    path = tmp_path / "thin.parquet"
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"timestamp": pa.array([1, 2], pa.int64()), "close": [1.0, 2.0]}), path)
    with pytest.raises(
        MarketDataError, match=r"^thin.parquet: file: missing column\(s\) open, high, low, volume$"
    ):
        load_bars(path)


def test_not_parquet_is_a_one_line_error(tmp_path):
    path = tmp_path / "junk.parquet"
    path.write_bytes(b"definitely not parquet")
    with pytest.raises(MarketDataError) as caught:
        load_bars(path)
    assert str(caught.value).startswith("junk.parquet: file: unreadable Parquet")
    assert "\n" not in str(caught.value)


def test_real_trades_load_with_sides_and_ms_timestamps():
    path = SHARED_MARKET / "XRP_ETH-trades.parquet"
    if not path.exists():
        pytest.skip("shared market data not present on this machine")
    trades = load_trades(path)
    assert len(trades) == 12477
    assert set(np.unique(trades.side)) == {-1, 1}
    assert trades.timestamp[0] == 1570752011620 * 1_000_000
    assert trades.price.dtype == np.float64
