"""Fixtures for the pure engine. Nothing here may import Django: the engine must run without it."""

import dataclasses
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from risklab.engine.data import SAMPLE_DATA, load_bars
from risklab.engine.profiles import load_profiles

SHARED_MARKET = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "market"


@pytest.fixture(scope="session")
def sample_bars():
    return load_bars(SAMPLE_DATA)


@pytest.fixture(scope="session")
def config_profiles():
    return load_profiles()


def unlimited(profile, **changes):
    """The profile with every loss limit switched off (1.0) and no costs, for analytic comparisons."""
    base = {
        "stop_loss": 1.0,
        "daily_loss_limit": 1.0,
        "max_drawdown_halt": 1.0,
        "fees_bps": 0.0,
        "slippage_bps": 0.0,
    }
    return dataclasses.replace(profile, **{**base, **changes})


def write_bars(path: Path, rows: int = 20, **overrides) -> Path:
    """A small valid 5m OHLCV Parquet file, with any column replaced by ``overrides``."""
    close = 100.0 + np.arange(rows, dtype=np.float64)
    columns = {
        "timestamp": pa.array(
            np.datetime64("2018-01-10T00:00:00", "ns") + np.arange(rows) * np.timedelta64(5, "m"),
            type=pa.timestamp("ns", tz="UTC"),
        ),
        "open": close - 0.5,
        "high": close + 1.0,
        "low": close - 1.0,
        "close": close,
        "volume": np.full(rows, 10.0),
    }
    for name, values in overrides.items():
        columns[name] = values
    pq.write_table(pa.table(columns), path)
    return path
