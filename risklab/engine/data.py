"""Market data for Paper Labs: Parquet OHLCV bars and trades as float64 NumPy columns.

Data is validated on load and rejected, never repaired: a report computed on silently "fixed" data would
be evidence about data nobody supplied. Every failure is a single line naming the file, the row and the
rule, because that line ends up in a job log or on an operator's terminal.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from audit.trust.hashing import sha384_file

# Committed with the code so the lab runs on a fresh machine without the shared data directory.
SAMPLE_DATA = Path(__file__).resolve().parents[1] / "sample_data" / "ETH_BTC-5m.parquet"

OHLCV_COLUMNS = ("open", "high", "low", "close", "volume")
TRADE_COLUMNS = ("price", "amount", "side")
_NS_PER_MS = 1_000_000


class MarketDataError(ValueError):
    """Market data that cannot be used as evidence; the message is one line: file, row, rule."""


@dataclass(frozen=True, eq=False)
class Bars:
    """OHLCV bars. Prices and volume are float64, timestamps int64 nanoseconds since the epoch (UTC)."""

    name: str
    timestamp: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    bar_seconds: float
    sha384: str = ""

    def __len__(self) -> int:
        return int(self.close.shape[0])

    def replace(self, **changes) -> Bars:
        return dataclasses.replace(self, **changes)

    def slice(self, start: int, stop: int) -> Bars:
        return self.replace(
            timestamp=self.timestamp[start:stop],
            open=self.open[start:stop],
            high=self.high[start:stop],
            low=self.low[start:stop],
            close=self.close[start:stop],
            volume=self.volume[start:stop],
        )


@dataclass(frozen=True, eq=False)
class Trades:
    """Public trades: int64 ns timestamps, float64 price/amount, side +1 (buy) / -1 (sell)."""

    name: str
    timestamp: np.ndarray
    price: np.ndarray
    amount: np.ndarray
    side: np.ndarray
    sha384: str = ""

    def __len__(self) -> int:
        return int(self.price.shape[0])


def _fail(path: Path, row: int | None, rule: str) -> MarketDataError:
    where = f"row {row}" if row is not None else "file"
    return MarketDataError(f"{path.name}: {where}: {rule}")


def _read_table(path: Path, required: tuple[str, ...]) -> pa.Table:
    if not path.is_file():
        raise _fail(path, None, f"not found ({path})")
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:  # corrupt or not Parquet at all
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise _fail(path, None, f"unreadable Parquet: {first_line}") from None
    missing = [name for name in ("timestamp", *required) if name not in table.column_names]
    if missing:
        raise _fail(path, None, f"missing column(s) {', '.join(missing)}")
    if table.num_rows < 2:
        raise _fail(path, None, f"needs at least 2 rows, has {table.num_rows}")
    return table


def _timestamps_ns(path: Path, column: pa.ChunkedArray) -> np.ndarray:
    """Timestamps as int64 ns. Integer columns are epoch milliseconds, the Binance/ccxt convention."""
    if column.null_count:
        raise _fail(path, _first_null(column), "timestamp is null")
    kind = column.type
    if pa.types.is_timestamp(kind):
        return column.cast(pa.timestamp("ns", tz=kind.tz)).cast(pa.int64()).to_numpy().astype(np.int64)
    if pa.types.is_integer(kind):
        return column.to_numpy().astype(np.int64) * _NS_PER_MS
    raise _fail(path, None, f"timestamp has unsupported type {kind}")


def _first_null(column: pa.ChunkedArray) -> int:
    return int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0])


def _float_column(path: Path, table: pa.Table, name: str) -> np.ndarray:
    column = table.column(name)
    if column.null_count:
        raise _fail(path, _first_null(column), f"{name} is null")
    if not (pa.types.is_floating(column.type) or pa.types.is_integer(column.type)):
        raise _fail(path, None, f"{name} has non-numeric type {column.type}")
    return np.ascontiguousarray(column.to_numpy(), dtype=np.float64)


def _first_bad_row(mask: np.ndarray) -> int | None:
    bad = np.flatnonzero(mask)
    return int(bad[0]) if bad.size else None


def _check(path: Path, checks: list[tuple[np.ndarray, str]]) -> None:
    """Raise for the earliest failing row; ties go to the rule listed first."""
    first: tuple[int, int, str] | None = None
    for order, (mask, rule) in enumerate(checks):
        row = _first_bad_row(mask)
        if row is not None and (first is None or (row, order) < first[:2]):
            first = (row, order, rule)
    if first is not None:
        raise _fail(path, first[0], first[2])


def validate_bars(path: Path, ts: np.ndarray, o, h, lo, c, v) -> None:
    step = np.diff(ts)
    unsorted = np.concatenate(([False], step < 0))
    duplicate = np.concatenate(([False], step == 0))
    nan = np.isnan(o) | np.isnan(h) | np.isnan(lo) | np.isnan(c) | np.isnan(v)
    finite = np.isfinite(o) & np.isfinite(h) & np.isfinite(lo) & np.isfinite(c) & np.isfinite(v)
    with np.errstate(invalid="ignore"):
        _check(
            path,
            [
                (nan, "NaN value"),
                (~finite & ~nan, "infinite value"),
                (unsorted, "timestamps not sorted ascending"),
                (duplicate, "duplicate timestamp"),
                ((o <= 0) | (h <= 0) | (lo <= 0) | (c <= 0), "non-positive price"),
                (h < lo, "high < low"),
                (h < np.maximum(o, c), "high < max(open, close)"),
                (np.minimum(o, c) < lo, "min(open, close) < low"),
                (v < 0, "negative volume"),
            ],
        )


def load_bars(path: str | Path) -> Bars:
    """Load and validate an OHLCV Parquet file (columns timestamp, open, high, low, close, volume)."""
    path = Path(path)
    table = _read_table(path, OHLCV_COLUMNS)
    ts = _timestamps_ns(path, table.column("timestamp"))
    o, h, lo, c, v = (_float_column(path, table, name) for name in OHLCV_COLUMNS)
    validate_bars(path, ts, o, h, lo, c, v)
    # The median spacing is the nominal interval: exchange outages leave gaps that must not distort it.
    bar_seconds = float(np.median(np.diff(ts))) / 1e9
    return Bars(
        name=path.name,
        timestamp=ts,
        open=o,
        high=h,
        low=lo,
        close=c,
        volume=v,
        bar_seconds=bar_seconds,
        sha384=sha384_file(path),
    )


def load_trades(path: str | Path) -> Trades:
    """Load and validate a trades Parquet file (timestamp, price, amount, side in {"buy", "sell"})."""
    path = Path(path)
    table = _read_table(path, TRADE_COLUMNS)
    ts = _timestamps_ns(path, table.column("timestamp"))
    price = _float_column(path, table, "price")
    amount = _float_column(path, table, "amount")
    side_text = np.asarray(table.column("side").to_pylist(), dtype=object)
    side = np.where(side_text == "buy", 1, np.where(side_text == "sell", -1, 0)).astype(np.int8)
    nan = np.isnan(price) | np.isnan(amount)
    with np.errstate(invalid="ignore"):
        _check(
            path,
            [
                (nan, "NaN value"),
                (~np.isfinite(price) & ~nan | ~np.isfinite(amount) & ~nan, "infinite value"),
                # Several trades can share one exchange timestamp, so only ordering is required.
                (np.concatenate(([False], np.diff(ts) < 0)), "timestamps not sorted ascending"),
                (price <= 0, "non-positive price"),
                (amount < 0, "negative amount"),
                (side == 0, "side is neither 'buy' nor 'sell'"),
            ],
        )
    return Trades(
        name=path.name, timestamp=ts, price=price, amount=amount, side=side, sha384=sha384_file(path)
    )
