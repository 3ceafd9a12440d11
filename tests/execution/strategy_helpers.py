"""Shared builders for the strategy and feed tests: small Parquet files, a router-backed order port."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from audit.trust import paths as trust_paths
from execution.core.orders import Order, OrderType, Stage
from execution.live_router import RouteResult


def config_text(strategies: list[dict]) -> str:
    """config/core.yaml with its ``strategies:`` section replaced by ``strategies`` (mappings as in YAML)."""
    config = yaml.safe_load(trust_paths.DEFAULT_CONFIG_PATH.read_text())
    config["strategies"] = strategies
    return yaml.safe_dump(config, sort_keys=False)


def write_bars(
    path: Path, closes, *, start_ms: int = 1_600_000_000_000, step_ms: int = 300_000, volume=1_000.0
):
    """An OHLCV Parquet file whose closes are ``closes`` (open = previous close, high/low around them)."""
    close = np.asarray(closes, dtype=np.float64)
    open_ = np.concatenate(([close[0]], close[:-1]))
    table = pa.table(
        {
            "timestamp": pa.array(start_ms + step_ms * np.arange(len(close)), pa.int64()),
            "open": open_,
            "high": np.maximum(open_, close) * 1.001,
            "low": np.minimum(open_, close) * 0.999,
            "close": close,
            "volume": np.full(len(close), float(volume)),
        }
    )
    pq.write_table(table, path)
    return path


class RouterPort:
    """The order port over one real LiveRouter (what ``DaemonOrderPort`` does over the daemon's core)."""

    def __init__(self, router) -> None:
        self.router = router

    def submit(self, *, cid, symbol, side, qty, order_type, limit_price, stage, owner) -> RouteResult:
        order = Order(
            cid,
            symbol,
            side,
            qty,
            type=OrderType(order_type),
            limit_price=limit_price,
            stage=Stage(stage),
            owner=owner,
        )
        return self.router.submit(order)

    def lot_rule(self, symbol, stage):
        return self.router.lot_rule(symbol)

    def cancel(self, cid: str) -> RouteResult:
        return self.router.cancel(cid)

    def get(self, cid: str):
        return self.router.get(cid)
