"""``smoke_demo_strategies --in-daemon``: the demo strategies run inside the daemon; the client only watches.

An in-process demo daemon replays the committed sample (``--start-bar`` minus a warm-up of ``WARMUP`` bars,
then ``--cycles x --stride`` bars) at maximum speed through its strategy host, with the three Paper Labs
strategies at the demo stage (``--strategies buy_and_hold,ema_crossover,zscore_reversion``, their defaults,
capital 1 BTC). The client subscribes to every owner's fills (``StreamFills all_owners``, an admin token)
before the feed is released, waits for the replay to end, then reads ``ListStrategies`` and writes the same
report as the client-driven smoke (same checks, ``smoke_demo_strategies`` summary, ``"in_daemon": true``):
one ``order`` line per strategy order, accounted for when it ended FILLED and its streamed fills add up to the
daemon's filled quantity. It fails when any strategy halted or any order was refused or rejected.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from pathlib import Path

from audit.trust import paths as trust_paths
from execution.feeds.replay import ReplayFeed
from execution.proto.gen import oem_daemon_v1_pb2 as pb
from execution.runbook.harness import local_daemon, utc_stamp, write_report
from execution.runbook.smoke import DEMO_STRATEGIES, OPERATOR, FillCollector, SmokeResult, demo_limits
from risklab.engine.data import SAMPLE_DATA

WARMUP = 100  # bars before --start-bar, so the lookbacks (48 bars) are filled when the counted part begins
CAPITAL = 1.0  # BTC: order sizes stay a small part of a sample bar's volume, so orders fill on arrival
EPS = 1e-9


def smoke_in_daemon(
    *,
    data_dir: Path,
    report_dir: Path,
    cycles: int,
    start_bar: int,
    stride: int,
    keep: bool = False,
    progress=None,
    log=None,
    **_ignored,
) -> SmokeResult:
    progress = progress or (lambda pct: None)
    log = log or (lambda msg: None)
    started = datetime.now(UTC)
    first = max(0, start_bar - WARMUP)
    feed = ReplayFeed.from_files([SAMPLE_DATA], start=first, stop_after=start_bar - first + cycles * stride)
    config = trust_paths.DEFAULT_CONFIG_PATH
    with local_daemon(
        data_dir,
        "smoke_demo_in_daemon",
        mode="demo",
        operators=(OPERATOR,),
        keep=keep,
        # the strategies size for CAPITAL; the daemon's limits leave room for the price drift of what the
        # others hold (their shares of one symbol's limit are fixed at entry, the limit is judged at market)
        risk_limits=demo_limits(config, 2 * CAPITAL),
        capital=CAPITAL,
        feed=feed,
        strategies=list(DEMO_STRATEGIES),
        stale_after_s=3600.0,
        hold_feed=True,
        tick_s=0.2,
    ) as local:
        client = local.client(OPERATOR, ["operator", "admin"])
        try:
            status = client.stub.GetStatus(pb.GetStatusRequest(), metadata=client.metadata, timeout=10)
            fills = FillCollector(client, all_owners=True)
            time.sleep(0.3)  # let the fill stream subscribe before the first bar
            local.daemon.strategies.release_feed()
            log(f"in-daemon demo 127.0.0.1:{local.daemon.port}: replaying {len(feed)} bars of {feed.name}")
            deadline = time.monotonic() + 120
            while not local.daemon.strategies.feed_done and time.monotonic() < deadline:
                time.sleep(0.05)
                progress(80.0 * feed.delivered / max(len(feed), 1))
            listed = client.stub.ListStrategies(
                pb.ListStrategiesRequest(), metadata=client.metadata, timeout=10
            )
            settle = time.monotonic() + 5.0
            while time.monotonic() < settle and any(
                abs(fills.qty(o.client_order_id) - o.filled_qty) > EPS
                for s in listed.strategies
                for o in s.recent_orders
            ):
                time.sleep(0.05)
            listed = client.stub.ListStrategies(
                pb.ListStrategiesRequest(), metadata=client.metadata, timeout=10
            )
            end_status = client.stub.GetStatus(pb.GetStatusRequest(), metadata=client.metadata, timeout=10)
        finally:
            fills.close()
            client.close()
        feed_error = local.daemon.strategies.feed_error
    orders = []
    for info in listed.strategies:
        for o in info.recent_orders:
            streamed = fills.qty(o.client_order_id)
            orders.append(
                {
                    "kind": "order",
                    "strategy": info.name,
                    "client_order_id": o.client_order_id,
                    "symbol": o.symbol,
                    "side": o.side,
                    "qty": o.qty,
                    "stage": o.stage,
                    "accepted": o.status != "REJECTED",
                    "status": o.status,
                    "final_status": o.status,
                    "final_filled_qty": o.filled_qty,
                    "avg_price": o.avg_price,
                    "reason": o.reason,
                    "stream_fill_qty": streamed,
                    "accounted": bool(
                        o.status == "FILLED"
                        and math.isclose(o.filled_qty, o.qty, rel_tol=1e-9, abs_tol=1e-12)
                        and math.isclose(streamed, o.filled_qty, rel_tol=1e-9, abs_tol=1e-12)
                    ),
                }
            )
    per_strategy = {
        s.name: {
            "state": s.state,
            "orders": s.orders,
            "bars": s.bars,
            "final_position": sum(p.qty for p in s.positions),
            "pnl": s.pnl,
            "refused": dict(s.refused),
            "last_error": s.last_error,
        }
        for s in listed.strategies
    }
    halted = [s.name for s in listed.strategies if s.state != "RUNNING"]
    refused = sum(sum(s.refused.values()) for s in listed.strategies)
    accounted = sum(o["accounted"] for o in orders)
    rejected = sum(o["status"] == "REJECTED" for o in orders) + refused
    passed = (
        bool(orders) and accounted == len(orders) and not rejected and not halted and not fills.duplicates
    )
    passed = passed and not feed_error and sum(s.orders for s in listed.strategies) == len(orders)
    errors = [f"strategy {n} is {per_strategy[n]['state']}: {per_strategy[n]['last_error']}" for n in halted]
    errors += [f"feed: {feed_error}"] if feed_error else []
    summary = {
        "kind": "summary",
        "check": "smoke_demo_strategies",
        "stage": "demo",
        "in_daemon": True,
        "passed": passed,
        "orders": len(orders),
        "acknowledged": sum(o["accepted"] for o in orders),
        "filled": sum(o["final_status"] == "FILLED" for o in orders),
        "rejected": rejected,
        "accounted": accounted,
        "stream_fills": fills.count(),
        "duplicate_fills": fills.duplicates,
        "per_strategy": per_strategy,
        "cycles": cycles,
        "start_bar": start_bar,
        "stride": stride,
        "bars_replayed": feed.delivered,
        "data": {"file": SAMPLE_DATA.name, **feed.inputs[feed.symbols[0]]},
        "daemon": "in-process demo (strategies in the daemon)",
        "daemon_mode": status.mode,
        "config_sha384": status.config_sha384,
        "open_orders_after": end_status.open_orders,
        "operator": OPERATOR,
        "errors": errors[:20],
        "started": started.isoformat(),
        "finished": datetime.now(UTC).isoformat(),
    }
    path, digest = write_report(report_dir, f"smoke_demo_{utc_stamp(started)}", [*orders, summary])
    progress(99)
    log(f"{len(orders)} strategy order(s), {accounted} accounted for, passed={passed}; report {path}")
    return SmokeResult(path, digest, passed, summary)
