"""Strategy host end to end vs the Paper Labs engine, and the latency a strategy adds to an order.

10 strategies (the three Paper Labs reference strategies in turn) on 10 symbols, each symbol a rotated copy
of the committed sample (risklab/sample_data/ETH_BTC-5m.parquet), replayed at maximum speed through a real
in-process daemon in demo mode: feed -> market data -> paper venues and risk -> strategy -> StrategyContext
-> daemon order port -> risk -> router -> paper venue -> fsynced journal. Measured:

- bars/s through the host (all symbols, from the first bar to the last) vs bars/s of the Paper Labs engine
  computing the same strategies' targets and simulating them over the same bars (``ratio:`` host / lab);
- strategy order latency: from the bar reaching the runtime to the order's acknowledgement (p50/p99), vs a
  client-submitted SubmitOrder over loopback mTLS to the same daemon (p50/p99), and the difference.

    .venv/bin/python bench/strategy_host.py [--bars 5760] [--quick]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("OEM_KDF_COST", "test")

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
import yaml  # noqa: E402

from audit.trust import paths as trust_paths  # noqa: E402
from execution.daemon.devkit import Deployment  # noqa: E402
from execution.daemon.license_hook import LicenseCheck  # noqa: E402
from execution.daemon.server import Daemon, DaemonOptions  # noqa: E402
from execution.drills.dry_run import LOOSE  # noqa: E402 - risk limits that never interfere
from execution.feeds.replay import ReplayFeed  # noqa: E402
from execution.proto.gen import oem_daemon_v1_pb2 as pb  # noqa: E402
from execution.proto.gen import oem_daemon_v1_pb2_grpc as pb_grpc  # noqa: E402
from risklab.engine.data import SAMPLE_DATA, load_bars  # noqa: E402
from risklab.engine.engine import simulate  # noqa: E402
from risklab.engine.profiles import profile_from_mapping  # noqa: E402
from risklab.engine.scenarios import MarketPath  # noqa: E402
from risklab.engine.strategies import STRATEGIES  # noqa: E402

CLASSES = ("ema_crossover", "zscore_reversion", "buy_and_hold")
SYMBOLS = [f"S{i}/BTC" for i in range(10)]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else float("nan")


def _write_symbols(root: Path, n: int) -> list[Path]:
    table = pq.read_table(SAMPLE_DATA)
    ts = table.column("timestamp")
    paths = []
    for i, symbol in enumerate(SYMBOLS):
        shift = (i * 577) % table.num_rows  # a different stretch of the market per symbol
        columns = {"timestamp": ts.slice(0, n)}
        for name in ("open", "high", "low", "close", "volume"):
            values = np.roll(table.column(name).to_numpy(), -shift)[:n]
            columns[name] = pa.array(values)
        path = root / f"{symbol.replace('/', '_')}-5m.parquet"
        pq.write_table(pa.table(columns), path)
        paths.append(path)
    return paths


def _config(root: Path) -> Path:
    """config/core.yaml with the bench's strategies instead of the ones it declares."""
    config = yaml.safe_load(trust_paths.DEFAULT_CONFIG_PATH.read_text())
    config["strategies"] = [
        {
            "name": f"s{i}_{CLASSES[i % len(CLASSES)][:3]}",
            "class": CLASSES[i % len(CLASSES)],
            "symbols": [symbol],
            "timeframe": "5m",
            "stage": "demo",
            "risk_profile": "conservative",
        }
        for i, symbol in enumerate(SYMBOLS)
    ]
    path = root / "bench_core.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


class _GatedFeed:
    """The replay, held until the bench is ready, timing each bar's path through the runtime."""

    def __init__(self, inner: ReplayFeed) -> None:
        self.inner = inner
        self.name, self.timeframe, self.symbols = inner.name, inner.timeframe, inner.symbols
        self.go = threading.Event()
        self.bar_started = 0.0
        self.first = self.last = 0.0

    def run(self, sink, stop) -> None:
        self.go.wait()

        def timed(bar) -> None:
            self.bar_started = time.perf_counter()
            if not self.first:
                self.first = self.bar_started
            sink(bar)
            self.last = time.perf_counter()

        self.inner.run(timed, stop)


class _TimedPort:
    def __init__(self, inner, feed: _GatedFeed, latencies: list[float]) -> None:
        self.inner, self.feed, self.latencies = inner, feed, latencies

    def submit(self, **kw):
        result = self.inner.submit(**kw)
        self.latencies.append(time.perf_counter() - self.feed.bar_started)
        return result

    def cancel(self, cid):
        return self.inner.cancel(cid)

    def get(self, cid):
        return self.inner.get(cid)


def _lab(paths: list[Path], config: dict) -> float:
    """Seconds for the Paper Labs engine: targets + simulation of each symbol's strategy."""
    profile = profile_from_mapping("conservative", config["risk_profiles"]["conservative"])
    loaded = [load_bars(p) for p in paths]
    warm = loaded[0]  # numba compiles each strategy kernel and the simulation on their first call
    for cls in CLASSES:
        n = len(warm)
        simulate(
            MarketPath("w", warm, np.zeros(n), np.zeros(n, dtype=np.int64)), STRATEGIES[cls](warm), profile
        )
    t0 = time.perf_counter()
    for i, bars in enumerate(loaded):
        n = len(bars)
        target = STRATEGIES[CLASSES[i % len(CLASSES)]](bars)
        simulate(MarketPath("b", bars, np.zeros(n), np.zeros(n, dtype=np.int64)), target, profile)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=5760, help="bars per symbol (the sample has 5760)")
    parser.add_argument("--client-orders", type=int, default=300)
    parser.add_argument("--quick", action="store_true", help="600 bars per symbol, 100 client orders")
    args = parser.parse_args(argv)
    if args.quick:
        args.bars, args.client_orders = 600, 100
    root = Path(tempfile.mkdtemp(prefix="oem-bench-strategy-"))
    paths = _write_symbols(root, args.bars)
    dep = Deployment.create(root, operators=("bench",), source_config=_config(root))
    import yaml

    config = yaml.safe_load(dep.config_path.read_text())
    lab_s = _lab(paths, config)
    feed = _GatedFeed(ReplayFeed.from_files(paths))
    daemon = Daemon(
        DaemonOptions(
            config_path=dep.config_path,
            mode="demo",
            data_dir=dep.data_dir,
            certs_dir=dep.certs_dir,
            license_checker=lambda stage: LicenseCheck(True, "bench"),
            gate_poll_s=60,
            capital=1.0,
            risk_limits=LOOSE,
            feed=feed,
            stale_after_s=3600.0,
            strategy_run_id="bench",
        )
    ).start()
    latencies: list[float] = []
    try:
        for slot in daemon.strategies.host.slots.values():
            slot.context._orders = _TimedPort(slot.context._orders, feed, latencies)
        feed.go.set()
        deadline = time.time() + 600
        while not daemon.strategies.feed_done and time.time() < deadline:
            time.sleep(0.01)
        total_bars = daemon.strategies.bars_applied
        host_s = feed.last - feed.first
        infos = daemon.strategies.host.list()
        stub = pb_grpc.OemDaemonStub(dep.channel(daemon.port, "bench"))
        md = [("authorization", f"Bearer {dep.token('bench', ['operator'])}")]
        client: list[float] = []
        for i in range(args.client_orders + 20):
            request = pb.SubmitOrderRequest(
                client_order_id=f"c-{i}", symbol=SYMBOLS[0], side="buy", qty=0.001
            )
            t0 = time.perf_counter()
            reply = stub.SubmitOrder(request, metadata=md, timeout=10)
            if i >= 20:  # the first calls warm the connection
                client.append(time.perf_counter() - t0)
            assert reply.accepted, reply
    finally:
        daemon.stop(0)
    host_rate = total_bars / host_s
    lab_rate = len(SYMBOLS) * args.bars / lab_s
    halted = [i.name for i in infos if i.state != "RUNNING"]
    orders = sum(i.orders for i in infos)
    print(
        f"machine: {platform.machine()} {platform.processor() or ''} {os.cpu_count()} cpu(s), "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )
    print(
        f"workload: {len(SYMBOLS)} strategies x {len(SYMBOLS)} symbols x {args.bars} bars, replay at max "
        f"speed, journal fsync on; {orders} strategy orders; halted: {halted or 'none'}"
    )
    print(
        f"host: {total_bars} bars in {host_s:.3f} s = {host_rate:,.0f} bars/s "
        "(feed -> strategy -> risk -> router -> paper venue -> journal)"
    )
    print(
        f"lab:  {len(SYMBOLS) * args.bars} bars in {lab_s:.4f} s = {lab_rate:,.0f} bars/s "
        "(Paper Labs targets + simulate, vectorised)"
    )
    print(f"ratio: host/lab bars/s {host_rate / lab_rate:.5f}")
    s50, s99, c50, c99 = (_pct(latencies, 0.5), _pct(latencies, 0.99), _pct(client, 0.5), _pct(client, 0.99))
    print(
        f"strategy order latency (bar in -> ack): p50 {s50 * 1e3:.3f} ms, p99 {s99 * 1e3:.3f} ms "
        f"over {len(latencies)} orders"
    )
    print(
        f"client SubmitOrder (mTLS loopback): p50 {c50 * 1e3:.3f} ms, p99 {c99 * 1e3:.3f} ms "
        f"over {len(client)} orders"
    )
    print(f"added latency of a strategy order vs a client order: p50 {(s50 - c50) * 1e3:+.3f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
