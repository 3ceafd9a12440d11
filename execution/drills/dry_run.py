"""``live_execution_dry_run``: a scripted session through the real daemon with venue faults injected.

A throw-away deployment under ``<data_dir>/runbook/`` runs a daemon in paper mode (signed config copy with two
paper venues: ``paper`` primary, ``paper_b`` fallback; routing ``[paper, paper_b]``) reached over loopback
mTLS with operator and admin tokens. Faults (``PaperFaults``) at ``--fault-rate F`` on the primary:
unavailable F/4, reject F/4, timeout-after-send F/4 (the order IS placed: the router must query before any
resubmission), partial fills F/4, query/cancel failures F/6; on the fallback: unavailable F/8, timeout F/8,
partial fills F/4, query failures F/10. Between 80 % and 90 % of the orders the primary is down (the
circuit breaker opens, orders fall back).

Script: ``--orders N`` orders (70 % market, 15 % marketable limit, 15 % resting limit 2 % away), every tenth
step cancels a resting order; then the HALTED check (a new order must be denied with HALTED, a cancel must
still pass), back to ACTIVE, let partial fills and parked ambiguous orders settle, and the kill switch
(repeated until no order is open; a cancel can hit an injected failure).

Accounting, per order: exactly one ``terminal`` telemetry event (StreamTelemetry), FILLED / REJECTED /
CANCELLED, equal to the daemon's final word (an idempotent re-submit of the same id returns the order), the
fills streamed by StreamFills add up to the order's filled quantity with no fill id twice, and the venues'
own ledgers hold exactly that quantity for that id (no duplicate fill after an ambiguous outcome or a
fallback); GetStatus reports no open order at the end. Report: ``<data_dir>/logs/live_dry_run/<UTC>.jsonl``
(``--out DIR`` to change the folder). Exit 0 only when the accounting holds and both checks pass.

Risk limits are loose on purpose (the order rate of the paper profile would turn the session into rate
rejects): the dry run drills venue faults, routing and accounting, not the risk profile.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import grpc

from audit.trust import paths as trust_paths
from audit.trust.cliutil import OneLineParser, UsageError
from audit.trust.core_config import load_yaml_file, parse_yaml
from audit.trust.hashing import sha384_bytes
from execution.core.risk import RiskLimits
from execution.daemon.core import DEFAULT_BAR_VOLUME
from execution.drills.harness import local_daemon, report_command, utc_stamp, write_report
from execution.proto.gen import oem_daemon_v1_pb2 as pb
from execution.venues.paper import PaperFaults, PaperVenue

SYMBOL = "ETH/BTC"
PRICE = 0.05
TERMINAL = ("FILLED", "REJECTED", "CANCELLED")
EPS = 1e-9
LOOSE = RiskLimits(
    max_order_notional=1e12,
    max_position_notional=1e15,
    daily_loss=1e12,
    max_orders=10**9,
    price_band_bps=500.0,
)

Progress = Callable[[float], None]
Log = Callable[[str], None]


@dataclass
class DryRunResult:
    path: Path
    sha384: str
    passed: bool
    summary: dict


def default_out_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "logs" / "live_dry_run"


def faults_for(rate: float) -> tuple[PaperFaults, PaperFaults]:
    primary = PaperFaults(
        unavailable_rate=rate / 4,
        reject_rate=rate / 4,
        timeout_after_send_rate=rate / 4,
        partial_fill_rate=rate / 4,
        query_unavailable_rate=rate / 6,
    )
    fallback = PaperFaults(
        unavailable_rate=rate / 8,
        timeout_after_send_rate=rate / 8,
        partial_fill_rate=rate / 4,
        query_unavailable_rate=rate / 10,
    )
    return primary, fallback


def dry_run_config(source: bytes | None = None) -> dict:
    """The live profile of the config (its risk profile and settings) with its venues simulated: two paper
    venues stand in for the live routing, since a dry run never reaches an exchange."""
    config = parse_yaml(source) if source is not None else load_yaml_file(trust_paths.DEFAULT_CONFIG_PATH)
    config["venues"]["paper_b"] = {"kind": "paper", "timeout_ms": 500}
    live = config["profiles"]["live"]
    config["profiles"]["paper"] = {**live, "venues": ["paper", "paper_b"], "allow_real_orders": False}
    config["profiles"]["demo"]["venues"] = ["paper", "paper_b"]
    config["routing"] = {"default": ["paper", "paper_b"], "symbols": {SYMBOL: ["paper", "paper_b"]}}
    return config


class StreamReader:
    """Drains a server stream in a thread into a list (telemetry events or fills)."""

    def __init__(self, call, name: str) -> None:
        self.call = call
        self.items: list = []
        self.error = ""
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for item in self.call:
                with self._lock:
                    self.items.append(item)
        except grpc.RpcError as exc:
            if exc.code() is not grpc.StatusCode.CANCELLED:
                self.error = f"{exc.code().name}: {exc.details()}"

    def snapshot(self) -> list:
        with self._lock:
            return list(self.items)

    def close(self) -> None:
        self.call.cancel()
        self._thread.join(5)


class FillFollower:
    """StreamFills from the first fill, resumed with ``since_seq`` = the last seq seen whenever the stream
    breaks (a daemon restart, a dropped connection), so the accounting sees every fill exactly once."""

    def __init__(self, open_stream, name: str, *, retries: int = 20, retry_s: float = 0.2) -> None:
        self._open = open_stream  # since_seq -> a StreamFills call
        self.items: list = []
        self.error = ""
        self.last_seq = 0
        self.resumes = 0
        self.call = None
        self._retries, self._retry_s = retries, retry_s
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._closed.is_set():
            with self._lock:
                self.call = self._open(self.last_seq)
            try:
                for item in self.call:
                    with self._lock:
                        self.items.append(item)
                        self.last_seq = max(self.last_seq, item.seq)
            except grpc.RpcError as exc:
                if self._closed.is_set():
                    return
                if self.resumes >= self._retries:
                    self.error = f"{exc.code().name}: {exc.details()}"
                    return
            if self._closed.is_set():
                return
            self.resumes += 1
            self._closed.wait(self._retry_s)

    def snapshot(self) -> list:
        with self._lock:
            return list(self.items)

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            call = self.call
        if call is not None:
            call.cancel()
        self._thread.join(5)


def _reply_fields(reply: pb.OrderReply) -> dict:
    return {
        "accepted": reply.accepted,
        "status": reply.status,
        "venue": reply.venue,
        "filled_qty": reply.filled_qty,
        "reason": reply.reason,
    }


def run_dry_run(
    *,
    orders: int,
    fault_rate: float,
    seed: int,
    out_dir: Path,
    data_dir: Path,
    keep: bool = False,
    settle_s: float = 15.0,
    progress: Progress | None = None,
    log: Log | None = None,
    config_source: bytes | None = None,
) -> DryRunResult:
    """``config_source``: the bytes of the config to drill (default config/core.yaml); the report binds
    their SHA-384."""
    progress = progress or (lambda pct: None)
    log = log or (lambda msg: None)
    started = datetime.now(UTC)
    rng = random.Random(seed)
    primary_faults, fallback_faults = faults_for(fault_rate)
    venues = {
        "paper": PaperVenue("paper", seed=seed, faults=primary_faults),
        "paper_b": PaperVenue("paper_b", seed=seed + 1, faults=fallback_faults),
    }
    for venue in venues.values():
        venue.on_bar(SYMBOL, PRICE, DEFAULT_BAR_VOLUME)
    records: dict[str, dict] = {}
    checks: list[dict] = []
    source = config_source if config_source is not None else trust_paths.DEFAULT_CONFIG_PATH.read_bytes()
    with local_daemon(
        data_dir,
        "live_dry_run",
        mode="paper",
        operators=("dry-operator", "dry-admin"),
        config=dry_run_config(source),
        keep=keep,
        risk_limits=LOOSE,
        prices={SYMBOL: PRICE},
        extra_venues=venues,
        tick_s=0.05,
    ) as local:
        core = local.daemon.core
        with core.lock:  # the daemon's ticker sends bars to these venues too (partial fills keep filling)
            core.paper_venues.extend(venues.values())
        op = local.client("dry-operator", ["operator"])
        admin = local.client("dry-admin", ["admin"])
        telemetry = StreamReader(
            admin.stub.StreamTelemetry(pb.StreamTelemetryRequest(), metadata=admin.metadata), "dry-telemetry"
        )
        fills = FillFollower(
            lambda since: op.stub.StreamFills(pb.StreamFillsRequest(since_seq=since), metadata=op.metadata),
            "dry-fills",
        )
        time.sleep(0.3)  # both streams subscribed before the first order
        try:
            resting: list[str] = []

            def submit(
                cid: str, *, kind: str, side: str, qty: float, limit: float = 0.0
            ) -> pb.OrderReply | None:
                req = pb.SubmitOrderRequest(
                    client_order_id=cid,
                    symbol=SYMBOL,
                    side=side,
                    qty=qty,
                    order_type="limit" if limit else "market",
                    limit_price=limit,
                    stage="paper",
                )
                rec = {"kind": "order", "client_order_id": cid, "type": kind, "side": side, "qty": qty}
                if limit:
                    rec["limit_price"] = limit
                records[cid] = rec
                try:
                    reply = op.stub.SubmitOrder(req, metadata=op.metadata, timeout=10)
                except grpc.RpcError as exc:
                    rec["submit"] = {"error": f"{exc.code().name}: {exc.details()}"}
                    return None
                rec["submit"] = _reply_fields(reply)
                rec["request"] = {"order_type": req.order_type, "limit_price": req.limit_price}
                if kind == "resting" and reply.accepted and reply.status in ("ACKED", "PARTIALLY_FILLED"):
                    resting.append(cid)
                return reply

            def cancel(cid: str, attempts: int = 10) -> pb.OrderReply:
                for _ in range(attempts):
                    reply = op.stub.CancelOrder(
                        pb.CancelOrderRequest(client_order_id=cid), metadata=op.metadata, timeout=10
                    )
                    if reply.reason != "VENUE_UNAVAILABLE":
                        break
                    time.sleep(0.02)
                records[cid].setdefault("cancels", []).append(_reply_fields(reply))
                return reply

            def new_order(i: int, prefix: str = "dr") -> None:
                side = rng.choice(("buy", "sell"))
                qty = round(rng.uniform(0.05, 2.0), 4)
                draw = rng.random()
                sign = 1 if side == "buy" else -1
                if draw < 0.70:
                    submit(f"{prefix}-{seed}-{i}", kind="market", side=side, qty=qty)
                elif draw < 0.85:
                    submit(
                        f"{prefix}-{seed}-{i}",
                        kind="marketable",
                        side=side,
                        qty=qty,
                        limit=PRICE * (1 + sign * 0.01),
                    )
                else:
                    submit(
                        f"{prefix}-{seed}-{i}",
                        kind="resting",
                        side=side,
                        qty=qty,
                        limit=PRICE * (1 - sign * 0.02),
                    )

            down_from, down_to = int(orders * 0.8), int(orders * 0.9)
            for i in range(orders):
                venues["paper"].faults.down = down_from <= i < down_to
                new_order(i)
                if i % 10 == 9 and resting:
                    cancel(resting.pop(rng.randrange(len(resting))))
                progress(70.0 * (i + 1) / orders)
            venues["paper"].faults.down = False
            log(
                f"{orders} orders sent ({fault_rate:.0%} faults on the primary, "
                f"primary down for orders {down_from}-{down_to - 1})"
            )

            # -- HALTED: a new order is denied, a cancel still passes ------------------------------------
            probe = None
            for j in range(20):  # a resting order to cancel while halted (a submit can hit a fault)
                reply = submit(
                    f"halt-rest-{seed}-{j}", kind="resting", side="buy", qty=0.1, limit=PRICE * 0.98
                )
                if reply is not None and reply.accepted and reply.status == "ACKED":
                    probe = f"halt-rest-{seed}-{j}"
                    resting.remove(probe)
                    break
            halted = admin.stub.SetTradingState(
                pb.SetTradingStateRequest(state=pb.TRADING_STATE_HALTED, reason="dry run: halt drill"),
                metadata=admin.metadata,
                timeout=10,
            )
            denied = submit(f"halt-new-{seed}", kind="market", side="buy", qty=0.1)
            cancelled = cancel(probe) if probe else None
            admin.stub.SetTradingState(
                pb.SetTradingStateRequest(state=pb.TRADING_STATE_ACTIVE, reason="dry run: resume"),
                metadata=admin.metadata,
                timeout=10,
            )
            halted_ok = bool(
                halted.state == pb.TRADING_STATE_HALTED
                and denied is not None
                and not denied.accepted
                and denied.reason == "HALTED"
                and cancelled is not None
                and cancelled.status == "CANCELLED"
            )
            checks.append(
                {
                    "kind": "check",
                    "check": "halted",
                    "passed": halted_ok,
                    "new_order": _reply_fields(denied) if denied is not None else None,
                    "cancel": _reply_fields(cancelled) if cancelled is not None else None,
                    "cancel_order": probe,
                }
            )
            progress(80)

            # -- settle: partial fills complete on later bars, parked ambiguous orders are reconciled ----
            deadline = time.monotonic() + settle_s
            while time.monotonic() < deadline:
                done = {e.client_order_id for e in telemetry.snapshot() if e.kind == "terminal"}
                waiting = [c for c, r in records.items() if r["type"] != "resting" and c not in done]
                if not waiting:
                    break
                time.sleep(0.05)

            # -- kill switch: halt, cancel everything open (repeated while a cancel hits a fault) ----------
            kills = []
            for _ in range(30):
                killed = admin.stub.KillSwitch(
                    pb.KillSwitchRequest(reason="dry run: kill switch"), metadata=admin.metadata, timeout=10
                )
                status = admin.stub.GetStatus(pb.GetStatusRequest(), metadata=admin.metadata, timeout=10)
                kills.append(
                    {"cancelled": killed.cancelled, "failed": killed.failed, "open_after": status.open_orders}
                )
                if status.open_orders == 0:
                    break
                time.sleep(0.1)
            final_status = admin.stub.GetStatus(pb.GetStatusRequest(), metadata=admin.metadata, timeout=10)
            kill_ok = final_status.open_orders == 0 and final_status.trading_state == pb.TRADING_STATE_HALTED
            checks.append(
                {
                    "kind": "check",
                    "check": "kill_switch",
                    "passed": kill_ok,
                    "rounds": kills,
                    "open_orders_after": final_status.open_orders,
                    "trading_state": pb.TradingState.Name(final_status.trading_state),
                }
            )
            progress(85)

            # -- accounting ----------------------------------------------------------------------------
            deadline = time.monotonic() + 5.0
            while time.monotonic() < deadline:
                done = {e.client_order_id for e in telemetry.snapshot() if e.kind == "terminal"}
                if all(c in done for c in records):
                    break
                time.sleep(0.05)
            time.sleep(0.2)  # the last fills reach the stream
            events = telemetry.snapshot()
            streamed = fills.snapshot()
            ledger: dict[str, float] = defaultdict(float)
            with core.lock:
                for venue in venues.values():
                    by_vid = {r.venue_order_id: cid for cid, r in venue._orders.items()}  # noqa: SLF001
                    for f in venue.ledger:
                        ledger[by_vid.get(f.venue_order_id, "?")] += f.qty
            terminal: dict[str, list] = defaultdict(list)
            kinds_per_cid: dict[str, Counter] = defaultdict(Counter)
            for e in events:
                if e.client_order_id:
                    kinds_per_cid[e.client_order_id][e.kind] += 1
                if e.kind == "terminal":
                    terminal[e.client_order_id].append(json.loads(e.data_json).get("status"))
            fill_ids: Counter = Counter(f.fill_id for f in streamed)
            stream_qty: dict[str, float] = defaultdict(float)
            for f in streamed:
                stream_qty[f.client_order_id] += f.qty
            for cid, rec in records.items():
                req = rec.get("request")
                final = None
                if req is not None:
                    final = op.stub.SubmitOrder(
                        pb.SubmitOrderRequest(
                            client_order_id=cid,
                            symbol=SYMBOL,
                            side=rec["side"],
                            qty=rec["qty"],
                            order_type=req["order_type"],
                            limit_price=req["limit_price"],
                            stage="paper",
                        ),
                        metadata=op.metadata,
                        timeout=10,
                    )
                rec["events"] = dict(sorted(kinds_per_cid[cid].items()))
                rec["terminal_events"] = terminal.get(cid, [])
                rec["final"] = _reply_fields(final) if final is not None else None
                rec["stream_fill_qty"] = stream_qty.get(cid, 0.0)
                rec["venue_ledger_qty"] = ledger.get(cid, 0.0)
                problems = []
                if final is None:
                    problems.append("submit failed at the RPC level")
                else:
                    if len(rec["terminal_events"]) != 1:
                        problems.append(f"{len(rec['terminal_events'])} terminal events")
                    elif rec["terminal_events"][0] != final.status:
                        problems.append(f"terminal event {rec['terminal_events'][0]} != final {final.status}")
                    if final.status not in TERMINAL:
                        problems.append(f"not terminal: {final.status}")
                    tol = 1e-9 * max(1.0, rec["qty"])
                    if abs(rec["stream_fill_qty"] - final.filled_qty) > tol:
                        problems.append(f"streamed {rec['stream_fill_qty']} != filled {final.filled_qty}")
                    if abs(rec["venue_ledger_qty"] - final.filled_qty) > tol:
                        problems.append(
                            f"venue ledger {rec['venue_ledger_qty']} != filled {final.filled_qty}"
                        )
                    if final.status == "FILLED" and abs(final.filled_qty - rec["qty"]) > tol:
                        problems.append("FILLED with a different quantity")
                    if final.status == "REJECTED" and final.filled_qty > tol:
                        problems.append("REJECTED with fills")
                rec["accounted"] = not problems
                if problems:
                    rec["problems"] = problems
            outcome = Counter((r["final"] or {}).get("status", "RPC_ERROR") for r in records.values())
            event_counts = Counter(e.kind for e in events)
            venue_health = [
                {"name": v.name, "up": v.up, "circuit": v.circuit, "detail": v.detail}
                for v in final_status.venues
            ]
        finally:
            fills.close()
            telemetry.close()
            op.close()
            admin.close()
        progress(95)
    duplicates = sorted(fid for fid, n in fill_ids.items() if n > 1)
    seqs_in_order = all(a.seq < b.seq for a, b in zip(streamed, streamed[1:], strict=False))
    accounted = sum(r["accounted"] for r in records.values())
    passed = bool(
        records
        and accounted == len(records)
        and not duplicates
        and seqs_in_order
        and all(c["passed"] for c in checks)
        and not telemetry.error
        and not fills.error
    )
    faults_line = {
        "kind": "faults",
        "fault_rate": fault_rate,
        "primary": vars(primary_faults) | {"down_for_orders": [down_from, down_to - 1]},
        "fallback": vars(fallback_faults),
        "observed": {
            k: event_counts.get(k, 0)
            for k in (
                "venue_error",
                "venue_reject",
                "ambiguous",
                "resolved",
                "unresolved",
                "fallback",
                "circuit",
                "circuit_skip",
                "cancel_failed",
                "risk_reject",
                "fill",
            )
        },
        "venues_at_end": venue_health,
    }
    summary = {
        "kind": "summary",
        "check": "live_execution_dry_run",
        "passed": passed,
        "orders": len(records),
        "accounted": accounted,
        "filled": outcome.get("FILLED", 0),
        "rejected": outcome.get("REJECTED", 0),
        "cancelled": outcome.get("CANCELLED", 0),
        "other": sum(n for s, n in outcome.items() if s not in TERMINAL),
        "fills_streamed": len(streamed),
        "duplicate_fill_ids": duplicates[:20],
        "fill_seqs_in_order": seqs_in_order,
        "fill_stream_resumes": fills.resumes,
        "checks": {c["check"]: c["passed"] for c in checks},
        "seed": seed,
        "fault_rate": fault_rate,
        "requested_orders": orders,
        "profile": "live",  # the live profile of the config below, venues simulated (dry_run_config)
        "config_sha384": sha384_bytes(source),
        "live_venues": parse_yaml(source)["profiles"]["live"]["venues"],
        "stream_errors": [e for e in (telemetry.error, fills.error) if e],
        "started": started.isoformat(),
        "finished": datetime.now(UTC).isoformat(),
    }
    lines = [faults_line, *records.values(), *checks, summary]
    path, digest = write_report(out_dir, utc_stamp(started), lines)
    log(
        f"{len(records)} orders: {summary['filled']} filled, {summary['rejected']} rejected, "
        f"{summary['cancelled']} cancelled; {accounted} accounted for; passed={passed}; report {path}"
    )
    return DryRunResult(path, digest, passed, summary)


def _parser() -> OneLineParser:
    parser = OneLineParser(prog="live_execution_dry_run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=200, help="orders in the session (default 200)")
    parser.add_argument(
        "--fault-rate", type=float, default=0.3, help="injected fault rate 0..1 (default 0.3)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--out", type=Path, default=None, help="report folder (default <data-dir>/logs/live_dry_run)"
    )
    parser.add_argument("--data-dir", type=Path, default=None, help="default: $OEM_DATA_DIR (./var)")
    parser.add_argument("--keep", action="store_true", help="keep the throw-away deployment")
    return parser


@dataclass(frozen=True)
class DryRunOptions:
    """What one dry run is asked to do; the command line and the console's job build the same object."""

    orders: int = 200
    fault_rate: float = 0.3
    seed: int = 1
    out: Path | None = None
    data_dir: Path | None = None
    keep: bool = False

    @classmethod
    def from_args(cls, args) -> DryRunOptions:
        return cls(**{field.name: getattr(args, field.name) for field in dataclasses.fields(cls)})


def validate(options: DryRunOptions) -> None:
    if not 1 <= options.orders <= 100_000:
        raise UsageError(f"live_execution_dry_run: --orders must be 1..100000, got {options.orders}")
    if not (math.isfinite(options.fault_rate) and 0.0 <= options.fault_rate <= 1.0):
        raise UsageError(
            f"live_execution_dry_run: --fault-rate must be within 0..1, got {options.fault_rate}"
        )
    if options.seed < 0:
        raise UsageError(f"live_execution_dry_run: --seed must be >= 0, got {options.seed}")


def dry_run(
    options: DryRunOptions,
    *,
    progress: Progress | None = None,
    log: Log | None = None,
    config_source: bytes | None = None,
) -> DryRunResult:
    """``config_source``: the bytes of the config the deployment runs (default: the shipped one)."""
    validate(options)
    data_dir = (options.data_dir or trust_paths.data_dir()).resolve()
    return run_dry_run(
        orders=options.orders,
        fault_rate=options.fault_rate,
        seed=options.seed,
        out_dir=options.out or default_out_dir(data_dir),
        data_dir=data_dir,
        keep=options.keep,
        progress=progress,
        log=log,
        config_source=config_source,
    )


def live_execution_dry_run_main(argv: Sequence[str] | None = None) -> int:
    return report_command(
        lambda args, **kw: dry_run(DryRunOptions.from_args(args), **kw),
        _parser(),
        argv,
        lambda s: (
            f"dry run FAILED: {s['accounted']}/{s['orders']} orders accounted for, checks {s['checks']}"
        ),
    )
