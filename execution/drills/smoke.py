"""``smoke_demo_strategies``: the demo strategies run inside the real daemon; the client watches and reports.

By default a throw-away deployment (key ring, signed config copy, mTLS bundle, tokens) is created under
``<data_dir>/runbook/`` and a demo daemon is started in-process on a free loopback port, replaying the
committed sample (``risklab/sample_data/ETH_BTC-5m.parquet``) through its strategy host with the config's
three demo strategies (buy_and_hold, ema_crossover, zscore_reversion); it is removed afterwards.
``--target host:port --certs DIR --token-file F`` watches a running daemon instead (started with ``--feed``;
the token needs the operator role): its stopped strategies are started, watched for ``--cycles x --stride``
bars and stopped again. ``smoke_in_daemon`` has the details.

The report (``<data_dir>/audit/acceptance/smoke_demo_<UTC>.jsonl``, ``--report DIR`` to change the folder):
one ``order`` line per strategy order and a ``summary`` line. It passes when every strategy placed an order,
every order ended FILLED and the fills streamed by ``StreamFills`` add up to the daemon's filled quantity
for that order, and no strategy halted. Exit 0 only on pass.

``run_smoke`` is the client-driven part of the paper smoke (``paper_smoke.run_paper_smoke``): the same
strategies' targets sent as client orders at the paper stage.
"""

from __future__ import annotations

import dataclasses
import math
import secrets
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import grpc

from audit.trust import paths as trust_paths
from audit.trust.cliutil import OneLineParser, UsageError
from audit.trust.core_config import load_yaml_file, parse_yaml
from audit.trust.fsutil import MAX_KEY_FILE, read_regular_text
from execution.core.risk import RiskLimits
from execution.drills.harness import (
    Client,
    remote_client,
    report_command,
    utc_stamp,
    write_report,
)
from execution.proto.gen import oem_daemon_v1_pb2 as pb
from risklab.engine.data import SAMPLE_DATA, load_bars
from risklab.engine.profiles import profile_from_mapping
from risklab.engine.strategies import STRATEGIES

SYMBOL = "ETH/BTC"
DEMO_STRATEGIES = ("buy_and_hold", "ema_crossover", "zscore_reversion")
_ABBREV = {"buy_and_hold": "bh", "ema_crossover": "ema", "zscore_reversion": "zs"}
OPERATOR = "smoke"
EPS = 1e-9

Progress = Callable[[float], None]
Log = Callable[[str], None]


@dataclass
class SmokeResult:
    path: Path
    sha384: str
    passed: bool
    summary: dict


def acceptance_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "audit" / "acceptance"


def demo_limits(config: Path | dict | bytes, capital: float, stage: str = "demo") -> RiskLimits:
    """The stage profile's risk limits, except the order-rate window: the smoke replays hours of bars in
    seconds, and the per-minute rate is a wall-clock limit (documented in docs/daemon.md). ``config``: its
    path, its bytes or its parsed mapping."""
    if isinstance(config, bytes):
        config = parse_yaml(config)
    elif not isinstance(config, dict):
        config = load_yaml_file(config)
    name = config["profiles"][stage]["risk_profile"]
    profile = profile_from_mapping(name, config["risk_profiles"][name])
    return dataclasses.replace(RiskLimits.from_profile(profile, capital=capital), max_orders=10**6)


class FillCollector:
    """Reads the operator's StreamFills in a thread; fills per client order id (fill ids deduplicated).
    ``strategies``: the daemon's strategies' fills too (the operator role may watch them)."""

    def __init__(self, client: Client, *, strategies: bool = False) -> None:
        self.call = client.stub.StreamFills(
            pb.StreamFillsRequest(strategies=strategies), metadata=client.metadata
        )
        self.fills: dict[str, dict[str, float]] = defaultdict(dict)
        self.duplicates = 0
        self.error = ""
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="smoke-fills", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for fill in self.call:
                with self._lock:
                    seen = self.fills[fill.client_order_id]
                    if fill.fill_id in seen:
                        self.duplicates += 1
                    seen[fill.fill_id] = fill.qty
        except grpc.RpcError as exc:
            if exc.code() is not grpc.StatusCode.CANCELLED:
                self.error = f"{exc.code().name}: {exc.details()}"

    def qty(self, cid: str) -> float:
        with self._lock:
            return sum(self.fills.get(cid, {}).values())

    def count(self) -> int:
        with self._lock:
            return sum(len(v) for v in self.fills.values())

    def close(self) -> None:
        self.call.cancel()
        self._thread.join(5)


def _wait_ready(client: Client, timeout: float = 10.0) -> pb.StatusReply:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return client.stub.GetStatus(pb.GetStatusRequest(), metadata=client.metadata, timeout=5)
        except grpc.RpcError as exc:
            if exc.code() is not grpc.StatusCode.UNAVAILABLE or time.monotonic() > deadline:
                raise


def run_smoke(
    client: Client,
    *,
    cycles: int,
    report_dir: Path,
    daemon_label: str,
    data_path: Path = SAMPLE_DATA,
    start_bar: int = 500,
    stride: int = 12,
    unit_qty: float = 0.1,
    pace_s: float = 0.0,
    progress: Progress | None = None,
    log: Log | None = None,
    stage: str = "paper",
    report_name: str | None = None,
) -> SmokeResult:
    """The strategies part of the paper smoke (``paper_smoke.run_paper_smoke``, summary check
    ``smoke_paper_strategies``): the demo strategies' targets for the replayed sample, one decision every
    ``stride`` bars, sent as client orders to ``client``'s paper daemon; the difference between target and
    position times ``unit_qty`` is the order. Its orders log is what the paper smoke's JSON report binds by
    SHA-384."""
    progress = progress or (lambda pct: None)
    log = log or (lambda msg: None)
    started = datetime.now(UTC)
    bars = load_bars(data_path)
    targets = {name: STRATEGIES[name](bars) for name in DEMO_STRATEGIES}
    run_id = secrets.token_hex(4)
    status = _wait_ready(client)
    log(
        f"daemon {daemon_label}: mode={status.mode}, "
        f"trading state {pb.TradingState.Name(status.trading_state)}"
    )
    fills = FillCollector(client)
    time.sleep(0.3)  # let the fill stream subscribe before the first order
    position = {name: 0.0 for name in DEMO_STRATEGIES}
    orders: list[dict] = []
    errors: list[str] = []
    try:
        for cycle in range(cycles):
            t = start_bar + cycle * stride
            for name in DEMO_STRATEGIES:
                target = float(targets[name][t])
                delta = target * unit_qty - position[name]
                if abs(delta) <= EPS * max(1.0, unit_qty):
                    continue
                cid = f"smk-{run_id}-{_ABBREV[name]}-{cycle + 1}"
                side = "buy" if delta > 0 else "sell"
                line = {
                    "kind": "order",
                    "strategy": name,
                    "cycle": cycle + 1,
                    "bar_index": t,
                    "bar_ts": datetime.fromtimestamp(int(bars.timestamp[t]) / 1e9, UTC).isoformat(),
                    "close": float(bars.close[t]),
                    "target": target,
                    "client_order_id": cid,
                    "symbol": SYMBOL,
                    "side": side,
                    "qty": abs(delta),
                }
                t0 = time.perf_counter()
                try:
                    reply = client.stub.SubmitOrder(
                        pb.SubmitOrderRequest(
                            client_order_id=cid, symbol=SYMBOL, side=side, qty=abs(delta), stage=stage
                        ),
                        metadata=client.metadata,
                        timeout=10,
                    )
                except grpc.RpcError as exc:
                    line.update(
                        accepted=False, status="RPC_ERROR", reason=f"{exc.code().name}: {exc.details()}"
                    )
                    errors.append(f"{cid}: {line['reason']}")
                else:
                    line.update(
                        accepted=reply.accepted,
                        status=reply.status,
                        venue=reply.venue,
                        filled_qty=reply.filled_qty,
                        avg_price=reply.avg_price,
                        fees=reply.fees,
                        reason=reply.reason,
                    )
                    position[name] += (1 if side == "buy" else -1) * reply.filled_qty
                line["latency_ms"] = round((time.perf_counter() - t0) * 1000.0, 3)
                orders.append(line)
                if pace_s:
                    time.sleep(pace_s)
            progress(90.0 * (cycle + 1) / cycles)
        # Settle: every order's fills must arrive on the stream; then the daemon's final word per order.
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline and any(
            abs(fills.qty(o["client_order_id"]) - o.get("filled_qty", 0.0)) > EPS for o in orders
        ):
            time.sleep(0.05)
        for o in orders:
            if o["status"] == "RPC_ERROR":
                o["accounted"] = False
                continue
            final = client.stub.SubmitOrder(  # same intent, same id: the daemon returns the order as it is
                pb.SubmitOrderRequest(
                    client_order_id=o["client_order_id"],
                    symbol=SYMBOL,
                    side=o["side"],
                    qty=o["qty"],
                    stage=stage,
                ),
                metadata=client.metadata,
                timeout=10,
            )
            o["final_status"] = final.status
            o["final_filled_qty"] = final.filled_qty
            o["stream_fill_qty"] = fills.qty(o["client_order_id"])
            o["accounted"] = bool(
                o["accepted"]
                and final.duplicate
                and final.status == "FILLED"
                and math.isclose(final.filled_qty, o["qty"], rel_tol=1e-9, abs_tol=1e-12)
                and math.isclose(o["stream_fill_qty"], final.filled_qty, rel_tol=1e-9, abs_tol=1e-12)
            )
        end_status = client.stub.GetStatus(pb.GetStatusRequest(), metadata=client.metadata, timeout=5)
    finally:
        fills.close()
    per_strategy = {
        name: {
            "orders": sum(o["strategy"] == name for o in orders),
            "final_position": position[name],
        }
        for name in DEMO_STRATEGIES
    }
    acknowledged = sum(bool(o.get("accepted")) and o["status"] != "REJECTED" for o in orders)
    accounted = sum(bool(o.get("accounted")) for o in orders)
    passed = bool(orders) and acknowledged == len(orders) == accounted and not fills.duplicates and not errors
    summary = {
        "kind": "summary",
        "check": f"smoke_{stage}_strategies",
        "stage": stage,
        "passed": passed,
        "orders": len(orders),
        "acknowledged": acknowledged,
        "filled": sum(o.get("final_status") == "FILLED" for o in orders),
        "rejected": sum(o["status"] in ("REJECTED", "RPC_ERROR") for o in orders),
        "accounted": accounted,
        "stream_fills": fills.count(),
        "duplicate_fills": fills.duplicates,
        "per_strategy": per_strategy,
        "cycles": cycles,
        "start_bar": start_bar,
        "stride": stride,
        "unit_qty": unit_qty,
        "data": {"file": bars.name, "sha384": bars.sha384, "bars": len(bars)},
        "daemon": daemon_label,
        "daemon_mode": status.mode,
        "config_sha384": status.config_sha384,  # the config the daemon runs: binds the report to it
        "open_orders_after": end_status.open_orders,
        "operator": client.subject,
        "errors": errors[:20],
        "started": started.isoformat(),
        "finished": datetime.now(UTC).isoformat(),
    }
    stem = report_name or (f"smoke_{stage}_{utc_stamp(started)}")
    path, digest = write_report(report_dir, stem, [*orders, summary])
    progress(99)
    log(f"{len(orders)} order(s), {accounted} accounted for, passed={passed}; report {path}")
    return SmokeResult(path, digest, passed, summary)


def _parser() -> OneLineParser:
    parser = OneLineParser(prog="smoke_demo_strategies", description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, required=True, help="decisions per strategy (>= 1)")
    parser.add_argument("--data-dir", type=Path, default=None, help="default: $OEM_DATA_DIR (./var)")
    parser.add_argument(
        "--report", type=Path, default=None, help="report folder (default <data-dir>/audit/acceptance)"
    )
    parser.add_argument("--stride", type=int, default=12, help="bars per cycle (default 12)")
    parser.add_argument(
        "--start-bar", type=int, default=500, help="first counted bar of the sample (default 500)"
    )
    parser.add_argument("--target", default=None, help="host:port of a running daemon (loopback)")
    parser.add_argument("--certs", type=Path, default=None, help="with --target: ca.pem and clients/<op>.*")
    parser.add_argument(
        "--token-file", type=Path, default=None, help="with --target: a token with the operator role"
    )
    parser.add_argument(
        "--operator", default=None, help="with --target: certificate name (default: token sub)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the throw-away deployment")
    return parser


@dataclass(frozen=True)
class SmokeOptions:
    """What one smoke run is asked to do. The command line and the console's job build the same object,
    so both are validated by `validate` against the same limits."""

    cycles: int
    data_dir: Path | None = None
    report: Path | None = None
    stride: int = 12
    start_bar: int = 500
    target: str | None = None
    certs: Path | None = None
    token_file: Path | None = None
    operator: str | None = None
    keep: bool = False

    @classmethod
    def from_args(cls, args) -> SmokeOptions:
        return cls(**{field.name: getattr(args, field.name) for field in dataclasses.fields(cls)})


def validate(options: SmokeOptions, n_bars: int | None = None) -> None:
    if options.cycles < 1:
        raise UsageError(f"smoke_demo_strategies: --cycles must be >= 1, got {options.cycles}")
    if options.stride < 1 or options.start_bar < 0:
        raise UsageError("smoke_demo_strategies: --stride must be >= 1 and --start-bar >= 0")
    remote = [options.target, options.certs, options.token_file]
    if any(remote) and not all(remote):
        raise UsageError("smoke_demo_strategies: --target, --certs and --token-file go together")
    if (
        n_bars is not None
        and not options.target
        and options.start_bar + options.cycles * options.stride > n_bars
    ):
        most = max(0, (n_bars - options.start_bar) // options.stride)
        raise UsageError(
            f"smoke_demo_strategies: --cycles {options.cycles}: the sample data has {n_bars} bars "
            f"(at most {most} cycles of {options.stride} from bar {options.start_bar})"
        )


def smoke(
    options: SmokeOptions,
    *,
    progress: Progress | None = None,
    log: Log | None = None,
    config: bytes | None = None,
) -> SmokeResult:
    """Validate, start a throw-away daemon (``config``: a variant of config/core.yaml) or connect to
    ``target``, watch its strategies, write the report."""
    from execution.drills.smoke_in_daemon import smoke_in_daemon

    data_dir = (options.data_dir or trust_paths.data_dir()).resolve()
    validate(options, len(load_bars(SAMPLE_DATA)))
    kw = dict(
        data_dir=data_dir,
        report_dir=options.report or acceptance_dir(data_dir),
        cycles=options.cycles,
        start_bar=options.start_bar,
        stride=options.stride,
        progress=progress,
        log=log,
    )
    if not options.target:
        return smoke_in_daemon(keep=options.keep, config=config, **kw)
    client = remote_client(
        options.target,
        options.certs,
        read_regular_text(options.token_file, max_bytes=MAX_KEY_FILE, what="token file"),
        options.operator,
    )
    try:
        return smoke_in_daemon(remote=client, **kw)
    finally:
        client.close()


def smoke_demo_strategies_main(argv: Sequence[str] | None = None) -> int:
    return report_command(
        lambda args, **kw: smoke(SmokeOptions.from_args(args), **kw),
        _parser(),
        argv,
        lambda s: (
            f"smoke FAILED: {s['orders']} order(s), {s['accounted']} accounted for, "
            f"{s['rejected']} refused or rejected; {'; '.join(s['errors'][:2]) or 'see the report'}"
        ),
    )
