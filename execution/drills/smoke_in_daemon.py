"""``smoke_demo_strategies``: the demo strategies run inside the daemon; the client only watches.

An in-process demo daemon replays the committed sample (``--start-bar`` minus a warm-up of ``WARMUP`` bars,
then ``--cycles x --stride`` bars) at maximum speed through its strategy host, running the three demo
strategies config/core.yaml declares (``--strategies buy_and_hold,ema_crossover,zscore_reversion``; capital
1 BTC). The client, an operator, subscribes to the strategies' fills (``StreamFills strategies``) before the
feed is released, waits for the replay to end, then reads ``ListStrategies`` and writes the report
(``smoke_demo_strategies`` summary, ``"in_daemon": true``): one ``order`` line per strategy order,
accounted for when it ended FILLED and its streamed fills add up to the daemon's filled quantity. It fails
when any strategy halted or any order was refused or rejected.

With ``remote`` the daemon is a running one, started with ``--feed`` (and the config's strategies, or
``--strategies``); the token needs the operator role (it starts and stops strategies and watches their
fills; no admin role). The smoke starts its stopped strategies, watches them for ``--cycles x --stride``
bars, stops those it started and reports the orders placed meanwhile (Stage 4 multi-strategy smoke).
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from pathlib import Path

import grpc

from audit.trust import paths as trust_paths
from execution.drills.harness import local_daemon, utc_stamp, write_report
from execution.drills.smoke import DEMO_STRATEGIES, OPERATOR, FillCollector, SmokeResult, demo_limits
from execution.feeds.replay import ReplayFeed
from execution.proto.gen import oem_daemon_v1_pb2 as pb
from risklab.engine.data import SAMPLE_DATA

WARMUP = 100  # bars before --start-bar, so the lookbacks (48 bars) are filled when the counted part begins
CAPITAL = 1.0  # BTC: order sizes stay a small part of a sample bar's volume, so orders fill on arrival
EPS = 1e-9


def _watch(client, *, release, done, bars_wanted: int, hand_back: bool, timeout_s: float, progress, log):
    """Subscribe to the strategies' fills, then let the strategies trade ``bars_wanted`` bars; returns
    (status, end status, fills, final listing, baseline listing, errors)."""
    status = client.stub.GetStatus(pb.GetStatusRequest(), metadata=client.metadata, timeout=10)
    if "operator" not in status.peer_roles:
        raise ValueError(
            "the smoke starts the daemon's strategies and watches their fills: "
            "the token needs the operator role"
        )
    fills = FillCollector(client, strategies=True)
    errors: list[str] = []
    started: list[str] = []
    try:
        time.sleep(0.3)  # let the fill stream subscribe before the first strategy order
        baseline = client.stub.ListStrategies(
            pb.ListStrategiesRequest(), metadata=client.metadata, timeout=10
        )
        if not baseline.strategies or not baseline.market_data_feed:
            raise ValueError(
                "the daemon runs no strategies on market data "
                "(start it with --feed, and --strategies or the config's strategies)"
            )
        known = {o.client_order_id for s in baseline.strategies for o in s.recent_orders}
        bars0 = {s.name: s.bars for s in baseline.strategies}
        # the operator starts them: the config's demo strategies wait for one (autostart: false)
        for info in baseline.strategies:
            if info.state == "RUNNING":
                continue
            try:
                client.stub.StartStrategy(
                    pb.StrategyControlRequest(name=info.name, reason="smoke_demo_strategies"),
                    metadata=client.metadata,
                    timeout=10,
                )
                started.append(info.name)
            except grpc.RpcError as exc:
                errors.append(f"start {info.name}: {exc.code().name}: {exc.details()}")
        release()
        log(f"watching {len(bars0)} strategies for {bars_wanted} bars ({baseline.market_data_feed})")
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            listed = client.stub.ListStrategies(
                pb.ListStrategiesRequest(), metadata=client.metadata, timeout=10
            )
            behind = [
                s for s in listed.strategies if s.state == "RUNNING" and s.bars < bars0[s.name] + bars_wanted
            ]
            progress(80.0 * (1 - len(behind) / max(len(bars0), 1)))
            if not behind or done():
                break
            time.sleep(0.1)
        else:
            errors.append(f"the strategies did not see {bars_wanted} bars within {timeout_s:g} s")
        for name in started if hand_back else ():  # as it was; stopping cancels their open orders
            client.stub.StopStrategy(
                pb.StrategyControlRequest(name=name, reason="smoke_demo_strategies done"),
                metadata=client.metadata,
                timeout=10,
            )
        settle = time.monotonic() + 5.0
        while time.monotonic() < settle:
            listed = client.stub.ListStrategies(
                pb.ListStrategiesRequest(), metadata=client.metadata, timeout=10
            )
            if all(
                abs(fills.qty(o.client_order_id) - o.filled_qty) <= EPS
                for s in listed.strategies
                for o in s.recent_orders
                if o.client_order_id not in known
            ):
                break
            time.sleep(0.05)
        end_status = client.stub.GetStatus(pb.GetStatusRequest(), metadata=client.metadata, timeout=10)
    finally:
        fills.close()
    return status, end_status, fills, listed, baseline, errors


def smoke_in_daemon(
    *,
    data_dir: Path,
    report_dir: Path,
    cycles: int,
    start_bar: int,
    stride: int,
    keep: bool = False,
    remote=None,
    config: bytes | None = None,
    progress=None,
    log=None,
) -> SmokeResult:
    """The in-process daemon of this module's docstring, or ``remote`` (a harness ``Client`` of a running
    daemon started with ``--feed`` and ``--strategies``): its strategies are started, watched for
    ``cycles x stride`` bars and stopped again. ``config``: the bytes of the config the in-process daemon
    runs (default config/core.yaml; the report binds its hash)."""
    progress = progress or (lambda pct: None)
    log = log or (lambda msg: None)
    started = datetime.now(UTC)
    if remote is not None:
        status, end_status, fills, listed, baseline, errors = _watch(
            remote,
            release=lambda: None,
            done=lambda: False,
            bars_wanted=cycles * stride,
            hand_back=True,
            timeout_s=max(120.0, cycles * stride * 1.5),  # a replay at 300x (a bar a second) makes it
            progress=progress,
            log=log,
        )
        label, data, replayed = f"remote {remote.subject}", {}, cycles * stride
    else:
        first = max(0, start_bar - WARMUP)
        feed = ReplayFeed.from_files(
            [SAMPLE_DATA], start=first, stop_after=start_bar - first + cycles * stride
        )
        with local_daemon(
            data_dir,
            "smoke_demo",
            mode="demo",
            operators=(OPERATOR,),
            config=config,
            keep=keep,
            # the strategies size for CAPITAL; the daemon's limits leave room for the price drift of what
            # the others hold (their shares of a symbol's limit are fixed at entry, the limit is at market)
            risk_limits=demo_limits(config or trust_paths.DEFAULT_CONFIG_PATH, 2 * CAPITAL),
            capital=CAPITAL,
            feed=feed,
            strategies=list(DEMO_STRATEGIES),
            stale_after_s=3600.0,
            hold_feed=True,
            tick_s=0.2,
        ) as local:
            client = local.client(OPERATOR, ["operator"])
            try:
                status, end_status, fills, listed, baseline, errors = _watch(
                    client,
                    release=local.daemon.strategies.release_feed,
                    done=lambda: local.daemon.strategies.feed_done,
                    bars_wanted=len(feed),
                    hand_back=False,  # a throw-away daemon: the report shows them RUNNING
                    timeout_s=120.0,
                    progress=progress,
                    log=log,
                )
            finally:
                client.close()
            if local.daemon.strategies.feed_error:
                errors.append(f"feed: {local.daemon.strategies.feed_error}")
        label, data, replayed = (
            "in-process demo (strategies in the daemon)",
            feed.inputs[feed.symbols[0]],
            feed.delivered,
        )
    known = {o.client_order_id for s in baseline.strategies for o in s.recent_orders}
    bars0 = {s.name: s.bars for s in baseline.strategies}
    refused0 = sum(sum(s.refused.values()) for s in baseline.strategies)
    orders = []
    for info in listed.strategies:
        for o in info.recent_orders:
            if o.client_order_id in known:
                continue
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
            "orders": sum(o.client_order_id not in known for o in s.recent_orders),
            "bars": s.bars - bars0.get(s.name, 0),
            "final_position": sum(p.qty for p in s.positions),
            "pnl": s.pnl,
            "refused": dict(s.refused),
            "last_error": s.last_error,
        }
        for s in listed.strategies
    }
    halted = [s.name for s in listed.strategies if s.state == "HALTED"]
    refused = sum(sum(s.refused.values()) for s in listed.strategies) - refused0
    accounted = sum(o["accounted"] for o in orders)
    rejected = sum(o["status"] == "REJECTED" for o in orders) + refused
    passed = (
        bool(orders) and accounted == len(orders) and not rejected and not halted and not fills.duplicates
    )
    passed = passed and not errors and all(v["orders"] >= 1 for v in per_strategy.values())
    errors += [f"strategy {n} is HALTED: {per_strategy[n]['last_error']}" for n in halted]
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
        "bars_replayed": replayed,
        "data": data,
        "market_data_feed": listed.market_data_feed,
        "daemon": label,
        "daemon_mode": status.mode,
        "config_sha384": status.config_sha384,
        "open_orders_after": end_status.open_orders,
        "operator": remote.subject if remote is not None else OPERATOR,
        "errors": errors[:20],
        "started": started.isoformat(),
        "finished": datetime.now(UTC).isoformat(),
    }
    path, digest = write_report(report_dir, f"smoke_demo_{utc_stamp(started)}", [*orders, summary])
    progress(99)
    log(f"{len(orders)} strategy order(s), {accounted} accounted for, passed={passed}; report {path}")
    return SmokeResult(path, digest, passed, summary)
