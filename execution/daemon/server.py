"""The daemon: gRPC server (mTLS, TLS 1.3, CRL, RBAC tokens), trading core, run-time gate, metrics.

``Daemon(options).start()`` runs everything in-process (tests, bench); ``main(argv)`` is
``python -m execution.daemon``.
"""

from __future__ import annotations

import argparse
import getpass
import json
import queue
import sys
import threading
import time
from concurrent import futures
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from audit.trust import paths as trust_paths
from audit.trust.canonical import StrictJSONError, canonical_bytes, strict_loads
from audit.trust.core_config import ConfigError, parse_yaml, read_config_file, validate_config
from audit.trust.keyring import KeyRing, KeyRingError
from execution.core.journal import JournalError
from execution.core.journal_archive import ArchiveError, verify_history
from execution.core.journal_repair import journals_in, repair_journal
from execution.core.orders import Order, OrderError, Stage
from execution.core.risk import RiskLimits, TradingState
from execution.daemon.access import AccessLog
from execution.daemon.core import DEFAULT_PRICES, CoreOptions, TradingCore
from execution.daemon.cpus import CpuListError, parse_cpu_list, pin_process
from execution.daemon.fill_log import FillEvent
from execution.daemon.gate import GateResult, GateWatcher, LicenseChecker, evaluate_live, watched_files
from execution.daemon.order_query import OrderFilter, QueryRefused, list_orders
from execution.daemon.security import (
    AuthInterceptor,
    CrlState,
    KeyRingSource,
    ServerCertificates,
    current_principal,
)
from execution.daemon.strategies import (
    StrategySetupError,
    attach_strategies,
    list_reply,
    needs_trader_live,
    plan_strategies,
)
from execution.daemon.strategies import info_pb as strategy_info_pb
from execution.daemon.ui_telemetry import UiTelemetryRecorder, UiTelemetryRefused, thresholds_from_config
from execution.metrics import DaemonMetrics
from execution.mtls.bundle import days_left
from execution.proto.gen import oem_daemon_v1_pb2 as pb
from execution.proto.gen import oem_daemon_v1_pb2_grpc as pb_grpc
from execution.strategy.context import STRATEGY_OWNER
from execution.strategy.runtime import DaemonOrderPort

SERVICE_NAME = "oem.daemon.v1.OemDaemon"
UI_GUARD_ITEM = "UI guard healthy"
_STATE_TO_PB = {
    TradingState.ACTIVE: pb.TRADING_STATE_ACTIVE,
    TradingState.HALTED: pb.TRADING_STATE_HALTED,
    TradingState.REDUCING: pb.TRADING_STATE_REDUCING,
}
_PB_TO_STATE = {v: k for k, v in _STATE_TO_PB.items()}


@dataclass
class DaemonOptions:
    config_path: Path
    mode: str
    data_dir: Path
    certs_dir: Path
    listen: str = "127.0.0.1:0"
    metrics_port: int | None = None
    keyring: KeyRing | None = None
    license_checker: LicenseChecker | None = None
    journal_sync: bool = True
    journal_segment_records: int = 10_000  # records per journal segment before a snapshot
    access_sync: bool = True
    risk_limits: RiskLimits | None = None
    prices: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_PRICES))
    capital: float = 100_000.0
    gate_poll_s: float = 2.0
    tick_s: float = 1.0
    workers: int = 32
    extra_venues: dict = field(default_factory=dict)
    # Paper trading starts only after a passed demo_exit (live: after live_go, always). Off only for the
    # throw-away deployments of runbook drills and tests, which have no decision logs by construction.
    paper_needs_demo_exit: bool = True
    # Strategies (docs/strategies.md): a feed (``--feed`` text or a feed object) runs the declared
    # strategies on its bars; ``strategies`` (``--strategies``) picks which of them, None = all.
    feed: object | None = None
    strategies: list[str] | None = None
    stale_after_s: float = 30.0
    strategy_run_id: str | None = None
    # the feed waits for strategies.release_feed(): an in-process smoke subscribes before the first bar
    hold_feed: bool = False


class StartupRefused(RuntimeError):
    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


def _order_reply(result, stage: str = "") -> pb.OrderReply:
    order = result.order
    reply = pb.OrderReply(
        accepted=result.accepted,
        duplicate=result.duplicate,
        reason=result.reason,
        message=result.message,
        stage=stage,
    )
    if order is not None:
        reply.client_order_id = order.client_order_id
        reply.status = str(order.status)
        reply.venue = order.venue or ""
        reply.venue_order_id = order.venue_order_id or ""
        reply.filled_qty = order.filled_qty
        reply.avg_price = order.avg_price or 0.0
        reply.fees = order.fees
        reply.reason = result.reason or order.reason
        reply.stage = str(order.stage)
    return reply


def _fill_message(fill: FillEvent) -> pb.Fill:
    return pb.Fill(
        client_order_id=fill.client_order_id,
        symbol=fill.symbol,
        side=fill.side,
        venue=fill.venue,
        fill_id=fill.fill_id,
        qty=fill.qty,
        price=fill.price,
        fee=fill.fee,
        ts=fill.ts,
        owner=fill.owner,
        seq=fill.seq,
    )


def _order_info(order: Order) -> pb.OrderInfo:
    info = pb.OrderInfo(
        client_order_id=order.client_order_id,
        symbol=order.symbol,
        side=str(order.side),
        qty=order.qty,
        order_type=str(order.type),
        limit_price=order.limit_price or 0.0,
        stage=str(order.stage),
        status=str(order.status),
        owner=order.owner,
        venue=order.venue or "",
        venue_order_id=order.venue_order_id or "",
        filled_qty=order.filled_qty,
        avg_price=order.avg_price or 0.0,
        fees=order.fees,
        reason=order.reason,
        created_ts=order.created_ts,
        updated_ts=order.updated_ts,
    )
    for f in order.fills:
        info.fills.add(
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            side=str(order.side),
            venue=f.venue,
            fill_id=f.fill_id,
            qty=f.qty,
            price=f.price,
            fee=f.fee,
            ts=f.ts,
            owner=order.owner,
            seq=f.seq,
        )
    return info


class Servicer(pb_grpc.OemDaemonServicer):
    def __init__(self, daemon: Daemon) -> None:
        self.d = daemon

    def Echo(self, request, context):  # noqa: N802 - gRPC method names
        return pb.EchoReply(payload=request.payload)

    def _stage(self, text: str, context) -> Stage:
        try:
            return Stage(text or self.d.options.mode)
        except ValueError:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"unknown stage {text!r} (demo, paper, live)")

    def SubmitOrder(self, request, context):  # noqa: N802
        started = time.perf_counter()
        principal = current_principal()
        stage = self._stage(request.stage, context)
        if stage is Stage.LIVE:
            gate = self.d.gate
            if self.d.options.mode != "live":
                context.abort(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f"live orders need a daemon started with --mode live (this one: {self.d.options.mode})",
                )
            if not gate.live_unlocked:
                context.abort(
                    grpc.StatusCode.FAILED_PRECONDITION, "live is locked: " + "; ".join(gate.reasons)
                )
        elif stage not in DaemonOrderPort.SERVED[self.d.options.mode]:
            # a demo daemon trades demo only, as its strategies do: the same code as the strategy path
            return pb.OrderReply(
                accepted=False,
                reason="STAGE_NOT_SERVED",
                message=f"a {self.d.options.mode} daemon takes no {stage} orders",
                client_order_id=request.client_order_id,
                stage=str(stage),
            )
        side = {"buy": "buy", "sell": "sell"}.get(request.side.lower())
        if side is None:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "side must be buy or sell")
        try:
            result = self.d.core.submit(
                cid=request.client_order_id,
                symbol=request.symbol,
                side=side,
                qty=request.qty,
                order_type=request.order_type.lower() or "market",
                limit_price=request.limit_price if request.order_type.lower() == "limit" else None,
                stage=stage,
                owner=principal.subject,
            )
        except OrderError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        venue = result.order.venue if result.order is not None else ""
        self.d.metrics.observe_rpc(venue or "-", time.perf_counter() - started)
        reply = _order_reply(result)
        if result.order is None:  # refused before the journal (lot size): still say which order
            reply.client_order_id = request.client_order_id
            reply.stage = str(stage)
        return reply

    def CancelOrder(self, request, context):  # noqa: N802
        principal = current_principal()
        _router, order = self.d.core.find(request.client_order_id)
        if order is not None and order.owner != principal.subject and "admin" not in principal.roles:
            context.abort(
                grpc.StatusCode.PERMISSION_DENIED, "only the order's owner or an admin may cancel it"
            )
        return _order_reply(self.d.core.cancel(request.client_order_id))

    def StreamFills(self, request, context):  # noqa: N802
        principal = current_principal()
        owner = principal.subject
        all_owners = request.all_owners and "admin" in principal.roles
        since = request.since_seq if request.HasField("since_seq") else None
        places_orders = "operator" in principal.roles
        # the operator role starts and stops the strategies, so it may watch what they trade
        strategies = request.strategies and places_orders
        if places_orders:
            self.d.stream_opened(owner)
        done = threading.Event()

        def on_end() -> None:
            done.set()
            if places_orders:
                self.d.stream_closed(owner)

        context.add_callback(on_end)
        fills = self.d.core.fill_log.stream(
            since,
            lambda f: all_owners or f.owner == owner or (strategies and f.owner.startswith(STRATEGY_OWNER)),
            lambda: not done.is_set() and context.is_active(),
        )
        for fill in fills:
            yield _fill_message(fill)

    def GetOrder(self, request, context):  # noqa: N802
        principal = current_principal()
        _router, order = self.d.core.find(request.client_order_id)
        if order is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"no order {request.client_order_id!r}")
        if order.owner != principal.subject and "admin" not in principal.roles:
            context.abort(grpc.StatusCode.PERMISSION_DENIED, "only the order's owner or an admin may read it")
        return _order_info(order)

    def ListOrders(self, request, context):  # noqa: N802
        principal = current_principal()
        admin = "admin" in principal.roles
        if request.owner and request.owner != principal.subject and not admin:
            context.abort(grpc.StatusCode.PERMISSION_DENIED, "only an admin may list another owner's orders")
        owner = request.owner or (None if admin else principal.subject)
        core = self.d.core
        head = core.fill_log.head  # read first: every fill up to it is already in the orders listed
        try:
            flt = OrderFilter.build(
                statuses=request.status, symbol=request.symbol, since=request.since, owner=owner
            )
            orders, token = list_orders(
                core.routers,
                flt=flt,
                page_size=request.page_size,
                page_token=request.page_token,
                lock=core.lock,
            )
        except QueryRefused as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        return pb.ListOrdersReply(
            orders=[_order_info(o) for o in orders], next_page_token=token, fill_seq=head
        )

    def StreamTelemetry(self, request, context):  # noqa: N802
        q = self.d.core.telemetry.add(lambda e: True)
        context.add_callback(lambda: self.d.core.telemetry.remove(q))
        while context.is_active():
            try:
                event = q.get(timeout=0.25)
            except queue.Empty:
                continue
            if event is None:
                return
            try:
                data = canonical_bytes(event.data).decode("utf-8")
            except ValueError:
                data = json.dumps(event.data, default=str, sort_keys=True)
            yield pb.TelemetryEvent(
                kind=event.kind,
                ts=event.ts,
                client_order_id=event.client_order_id,
                venue=event.venue,
                data_json=data,
            )

    def GetStatus(self, request, context):  # noqa: N802
        reply = self.d.status()
        # grpcio clients cannot read their own negotiated TLS version; the daemon's view is the honest one.
        version = (context.auth_context().get("ssl_tls_version") or [b""])[0]
        reply.peer_tls_version = version.decode("ascii", "replace")
        principal = current_principal()
        reply.peer_subject = principal.subject
        reply.peer_roles.extend(sorted(principal.roles))
        return reply

    def SetTradingState(self, request, context):  # noqa: N802
        state = _PB_TO_STATE.get(request.state)
        if state is None:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "state must be ACTIVE, HALTED or REDUCING")
        who = current_principal().subject
        reason = request.reason or f"set by {who}"
        self.d.core.set_state(state, reason)
        return pb.TradingStateReply(state=_STATE_TO_PB[state], reason=reason)

    def KillSwitch(self, request, context):  # noqa: N802
        reason = request.reason or f"KILL_SWITCH by {current_principal().subject}"
        results = self.d.core.kill_switch(reason)
        state, _ = self.d.core.trading_state()
        return pb.KillSwitchReply(
            state=_STATE_TO_PB[state],
            cancelled=sum(r.accepted for r in results),
            failed=sum(not r.accepted for r in results),
        )

    def GetPreLiveChecklist(self, request, context):  # noqa: N802
        gate = self.d.gate
        ui_ok, ui_detail = self.d.ui_telemetry.health()
        items = [pb.ChecklistItem(name=n, ok=ok, detail=detail) for n, ok, detail in gate.items]
        items.append(pb.ChecklistItem(name=UI_GUARD_ITEM, ok=ui_ok, detail=ui_detail))
        return pb.PreLiveChecklist(ready=gate.live_unlocked and ui_ok, items=items)

    def ReportUiTelemetry(self, request, context):  # noqa: N802
        principal = current_principal()
        fields = [f.name for f in pb.UiTelemetryEvent.DESCRIPTOR.fields]
        events = [{name: getattr(e, name) for name in fields} for e in request.events]
        try:
            recorded = self.d.ui_telemetry.record(
                events, subject=principal.subject, peer_fingerprint=principal.cert_fingerprint
            )
        except UiTelemetryRefused as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"ui telemetry refused: {exc}")
        healthy, detail = self.d.ui_telemetry.health()
        return pb.ReportUiTelemetryReply(recorded=recorded, ui_guard_healthy=healthy, detail=detail)

    def ListStrategies(self, request, context):  # noqa: N802
        return list_reply(self.d.strategies)

    def _control(self, request, context, action: str):
        runtime = self.d.strategies
        if runtime is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"no strategy {request.name!r}: none is declared")
        control = runtime.host.start if action == "start" else runtime.host.stop
        result = control(request.name, actor=current_principal().subject, reason=request.reason)
        if not result.ok:
            code = (
                grpc.StatusCode.NOT_FOUND
                if result.code == "NOT_FOUND"
                else grpc.StatusCode.FAILED_PRECONDITION
            )
            context.abort(code, f"{result.code}: {result.message}")
        return strategy_info_pb(result.info, set(runtime.stale_symbols()))

    def StartStrategy(self, request, context):  # noqa: N802
        return self._control(request, context, "start")

    def StopStrategy(self, request, context):  # noqa: N802
        return self._control(request, context, "stop")


class Daemon:
    def __init__(self, options: DaemonOptions) -> None:
        self.options = options
        options.data_dir = Path(options.data_dir)
        options.certs_dir = Path(options.certs_dir)
        options.config_path = Path(options.config_path)
        self.keyrings = KeyRingSource(options.keyring or KeyRing.load(options.data_dir))
        self.metrics = DaemonMetrics()
        self.server: grpc.Server | None = None
        self.port = 0
        self.metrics_port: int | None = None
        self._streams: dict[str, int] = {}
        self._streams_lock = threading.Lock()
        self.gate: GateResult = GateResult(False, ["not evaluated yet"])
        self.core: TradingCore | None = None
        self.strategies = None  # StrategyRuntime when strategies are declared or a feed is given
        self.watcher: GateWatcher | None = None
        self.health = health.HealthServicer()
        self.certs = ServerCertificates(options.certs_dir)
        self.crl = CrlState(options.certs_dir / "crl.pem", options.certs_dir / "ca.pem")
        self.access_log: AccessLog | None = None
        self.ui_telemetry = UiTelemetryRecorder(
            options.data_dir / "audit" / "daemon_ui_telemetry.jsonl",
            registry=self.metrics.registry,
            sync=options.access_sync,
        )

    # -- gate -----------------------------------------------------------------------------------------------
    def evaluate_gate(self) -> GateResult:
        return evaluate_live(
            config_path=self.options.config_path,
            data_dir=self.options.data_dir,
            certs_dir=self.options.certs_dir,
            keyring=self.keyrings.get(),
            license_checker=self.options.license_checker,
        )

    def _set_gate(self, result: GateResult) -> None:
        self.gate = result
        self.metrics.set_gates({k: v[0] for k, v in result.gates.items()}, result.live_unlocked)
        if self.core is not None:
            from execution.live_router import RouterEvent

            self.core.telemetry.publish(
                RouterEvent(
                    "gate",
                    time.time(),
                    data={"live_unlocked": result.live_unlocked, "reasons": result.reasons},
                )
            )

    # -- lifecycle ------------------------------------------------------------------------------------------
    def start(self) -> Daemon:
        opts = self.options
        if opts.mode not in ("demo", "paper", "live"):
            raise StartupRefused([f"unknown mode {opts.mode!r}"])
        host = opts.listen.rsplit(":", 1)[0].strip("[]")
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise StartupRefused([f"--listen {opts.listen}: the daemon listens on loopback only"])
        try:
            data = read_config_file(opts.config_path)
        except ConfigError as exc:
            raise StartupRefused([f"cannot read config: {exc}"]) from None
        if opts.mode == "demo":
            try:
                config = parse_yaml(data)
            except ConfigError as exc:
                raise StartupRefused([f"config: {exc}"]) from None
        else:
            try:  # paper and live never start on a tampered or unsigned config
                config = validate_config(opts.config_path, opts.mode, keyring=self.keyrings.get()).config
            except ConfigError as exc:
                raise StartupRefused([f"config: {exc}"]) from None
        try:
            self.ui_telemetry.thresholds = thresholds_from_config(config)
        except ValueError as exc:
            raise StartupRefused([f"config: {exc}"]) from None
        self._set_gate(self.evaluate_gate())
        if opts.mode == "live" and not self.gate.live_unlocked:
            raise StartupRefused(self.gate.reasons)
        demo_exit = self.gate.gates.get("demo_exit", (False, ["demo_exit was not evaluated"]))
        if opts.mode == "paper" and opts.paper_needs_demo_exit and not demo_exit[0]:
            raise StartupRefused(
                [f"paper mode needs a passed demo_exit gate: {m}" for m in demo_exit[1]][:10]
            )
        try:
            plan = plan_strategies(
                config,
                mode=opts.mode,
                feed=opts.feed,
                names=opts.strategies,
                stale_after_s=opts.stale_after_s,
            )
        except StrategySetupError as exc:
            raise StartupRefused([str(exc)]) from None
        self.core = TradingCore(
            config,
            CoreOptions(
                mode=opts.mode,
                data_dir=opts.data_dir,
                capital=opts.capital,
                prices={} if plan.feed is not None else dict(opts.prices),  # the feed's bars replace them
                journal_sync=opts.journal_sync,
                segment_records=opts.journal_segment_records,
                risk_limits=opts.risk_limits,
                tick_s=opts.tick_s,
                extra_venues=opts.extra_venues,
            ),
            sinks=[self.metrics.on_event],
        )
        self.access_log = AccessLog(opts.data_dir / "audit" / "daemon_access.jsonl", sync=opts.access_sync)
        deferred: frozenset[str] = frozenset()
        if opts.journal_sync and opts.access_sync:
            # SubmitOrder's allow line rides the journal's group commit: one commit round instead of two,
            # and the line is still on disk before the order's NEW record, so before any venue outside the
            # daemon sees it (docs/daemon.md "Durability").
            deferred = frozenset({f"/{SERVICE_NAME}/SubmitOrder"})
            for journal in self.core.journals.values():
                journal.add_companion(self.access_log.mark, self.access_log.wait_durable)
        interceptor = AuthInterceptor(
            keyring=self.keyrings,
            crl=self.crl,
            access_log=self.access_log,
            live_role_for=self._needs_trader_live,
            on_decision=lambda decision, reason: self.metrics.count_access(decision, reason),
            deferred=deferred,
        )
        self.server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=opts.workers, thread_name_prefix="oem-rpc"),
            interceptors=[interceptor],
            options=[("grpc.so_reuseport", 0)],
        )
        pb_grpc.add_OemDaemonServicer_to_server(Servicer(self), self.server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        reflection.enable_server_reflection(
            (
                pb.DESCRIPTOR.services_by_name["OemDaemon"].full_name,
                reflection.SERVICE_NAME,
                health.SERVICE_NAME,
            ),
            self.server,
        )
        self.port = self.server.add_secure_port(opts.listen, self.certs.credentials())
        if not self.port:
            raise StartupRefused([f"cannot listen on {opts.listen}"])
        if plan.specs or plan.feed is not None:
            self.strategies = attach_strategies(
                self, plan, stale_after_s=opts.stale_after_s, run_id=opts.strategy_run_id
            )
        self.server.start()
        self.core.start()
        if self.strategies is not None:
            if plan.feed is not None:
                self.strategies.autostart()
            if opts.hold_feed:
                self.strategies.hold_feed()
            self.strategies.start()
        self.health.set("", health_pb2.HealthCheckResponse.SERVING)
        self.health.set(SERVICE_NAME, health_pb2.HealthCheckResponse.SERVING)
        if opts.metrics_port is not None:
            self.metrics_port = self.metrics.serve(opts.metrics_port)
        self._refresh_gauges()
        self.watcher = GateWatcher(
            self.evaluate_gate,
            watched_files(opts.config_path, opts.data_dir, opts.certs_dir),
            self._on_gate_change,
            interval_s=opts.gate_poll_s,
            on_tick=self._refresh_gauges,
        )
        self.watcher.start()
        return self

    def _needs_trader_live(self, method: str, request) -> bool:
        if method == "SubmitOrder":
            return (request.stage or self.options.mode) == "live"
        if method == "StartStrategy":
            return needs_trader_live(self.strategies, request.name)
        return False

    def _on_gate_change(self, result: GateResult) -> None:
        self._set_gate(result)
        self._refresh_gauges()

    def _refresh_gauges(self) -> None:
        try:
            self.metrics.cert_days.labels("server").set(
                days_left(self.certs.server_cert().not_valid_after_utc)
            )
        except (OSError, ValueError):
            pass
        if self.core is not None:
            self.metrics.set_venues(self.core.venue_health())
        self.ui_telemetry.refresh()

    def stream_opened(self, owner: str) -> None:
        with self._streams_lock:
            self._streams[owner] = self._streams.get(owner, 0) + 1

    def stream_closed(self, owner: str) -> None:
        """Cancel-on-disconnect: the operator's last fill stream dropped -> cancel their open orders."""
        with self._streams_lock:
            left = self._streams.get(owner, 1) - 1
            if left > 0:
                self._streams[owner] = left
                return
            self._streams.pop(owner, None)
        if self.core is not None and not self._stopping:
            self.core.on_operator_disconnect(owner)

    _stopping = False

    def status(self) -> pb.StatusReply:
        gate = self.gate
        state, reason = self.core.trading_state()
        reply = pb.StatusReply(
            mode=self.options.mode,
            live_unlocked=gate.live_unlocked,
            live_reasons=gate.reasons,
            trading_state=_STATE_TO_PB[state],
            trading_state_reason=reason,
            open_orders=self.core.open_orders(),
            config_sha384=gate.config_sha384,
            license=pb.LicenseState(
                valid=gate.license.valid, summary=gate.license.summary, reasons=gate.license.reasons
            ),
        )
        expires = gate.license.expires_at
        if expires is not None:
            reply.license.expires_at = expires.isoformat()
            reply.license.days_left = (expires - datetime.now(UTC)).total_seconds() / 86400
        for name, (passed, missing) in gate.gates.items():
            reply.gates.add(
                name=name, passed=passed, missing=missing, deciding_entry=gate.deciding.get(name, "")
            )
        health_map = self.core.venue_health()
        self.metrics.set_venues(health_map)
        for name, info in sorted(health_map.items()):
            reply.venues.add(name=name, up=info["up"], detail=info["detail"], circuit=info["circuit"])
        if self.strategies is not None:
            feed = self.strategies.feed
            reply.market_data_feed = feed.name if feed is not None else ""
            reply.stale_symbols.extend(self.strategies.stale_symbols())
        cert = self.certs.server_cert()
        next_update = self.crl.next_update
        reply.certificate.CopyFrom(
            pb.CertificateState(
                server_subject=cert.subject.rfc4514_string(),
                server_not_after=cert.not_valid_after_utc.isoformat(),
                server_days_left=days_left(cert.not_valid_after_utc),
                crl_next_update=next_update.isoformat() if next_update else "",
                bundle_sha384=gate.bundle_sha384,
            )
        )
        return reply

    def stop(self, grace: float = 1.0) -> None:
        self._stopping = True
        if self.watcher is not None:
            self.watcher.stop()
        if self.core is not None:
            self.core.fill_log.close()
            self.core.telemetry.close_all()
        if self.strategies is not None:
            self.strategies.stop()
        if self.server is not None:
            self.server.stop(grace).wait()
        if self.core is not None:
            self.core.close()
        if self.access_log is not None:
            self.access_log.close()
        self.metrics.close()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m execution.daemon", description="Core OEM live daemon")
    parser.add_argument("--config", type=Path, default=trust_paths.DEFAULT_CONFIG_PATH)
    parser.add_argument("--mode", choices=("demo", "paper", "live"))
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--certs", type=Path, default=None, help="mTLS directory (default <data-dir>/certs)")
    parser.add_argument("--listen", default="127.0.0.1:50051")
    parser.add_argument("--metrics-port", type=int, default=None)
    parser.add_argument("--prices", type=Path, default=None, help="JSON {symbol: price} for the paper venues")
    parser.add_argument("--capital", type=float, default=100_000.0)
    parser.add_argument("--check", action="store_true", help="evaluate the gate, print it and exit")
    parser.add_argument(
        "--repair-journal",
        action="store_true",
        help="quarantine the damaged end of each journal in --data-dir, record the repair, print it and exit",
    )
    parser.add_argument(
        "--verify-journal",
        action="store_true",
        help="re-verify the whole history of every journal (closed segments, manifest, chain) and exit",
    )
    parser.add_argument(
        "--feed",
        default=None,
        help="market data for the strategies: replay:FILE.parquet[:SPEED] | ccxt:EXCHANGE",
    )
    parser.add_argument("--strategies", default=None, help="NAME[,NAME]: run only these strategies")
    parser.add_argument(
        "--stale-after", type=float, default=30.0, help="seconds without data before a symbol is stale"
    )
    parser.add_argument(
        "--cpus",
        default=None,
        help="run only on these cores, e.g. 1 (recommended: one core the rest of the box leaves alone; "
        "docs/daemon.md 'Pinning the daemon')",
    )
    return parser


def _verify(data_dir: Path) -> int:
    """--verify-journal: the full history, not only what a start reads; one line per journal."""
    for path in journals_in(data_dir):
        try:
            seq, head = verify_history(path)
        except (ArchiveError, JournalError) as exc:
            print(f"journal verification failed: {' '.join(str(exc).split())}", file=sys.stderr)
            return 2
        print(f"journal {path}: {seq} records verified, head sha384:{head}")
    return 0


def _repair(data_dir: Path) -> int:
    """--repair-journal: one line per journal; 0 when every journal is sound afterwards."""
    journals = journals_in(data_dir)
    if not journals:
        print(f"journal repair: no journal in {data_dir / 'journal'}")
        return 0
    actor = getpass.getuser()
    for path in journals:
        try:
            result = repair_journal(path, actor=actor)
        except JournalError as exc:
            print(f"journal repair refused: {' '.join(str(exc).split())}", file=sys.stderr)
            return 2
        if result is None:
            print(f"journal {path}: no damage, nothing to repair")
            continue
        line = result.one_line()
        log = AccessLog(data_dir / "audit" / "daemon_access.jsonl")
        try:
            log.record(method="RepairJournal", decision="repair", reason=line, subject=actor)
        finally:
            log.close()
        print(line)
    return 0


def _read_prices(path: Path) -> dict[str, float]:
    """{symbol: positive finite price}; anything else is a one-line refusal, never a traceback."""
    doc = strict_loads(read_config_file(path, what="prices file"))
    if not isinstance(doc, dict):
        raise ConfigError("prices file must be a JSON object {symbol: price}")
    prices = {}
    for symbol, value in doc.items():
        if type(value) not in (int, float) or not 0 < value < 1e12:
            raise ConfigError(f"price of {symbol!r} must be a positive number below 1e12")
        prices[symbol] = float(value)
    return prices


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        return 2 if exc.code else 0
    data_dir = (args.data_dir or trust_paths.data_dir()).resolve()
    if args.repair_journal:
        return _repair(data_dir)
    if args.verify_journal:
        return _verify(data_dir)
    if args.mode is None:
        print("daemon refused: --mode is required (demo, paper or live)", file=sys.stderr)
        return 2
    if args.cpus is not None:
        try:
            pin_process(parse_cpu_list(args.cpus))
        except (CpuListError, OSError) as exc:
            print(f"daemon refused: --cpus: {' '.join(str(exc).split())}", file=sys.stderr)
            return 2
    certs = (args.certs or data_dir / "certs").resolve()
    prices = dict(DEFAULT_PRICES)
    if args.prices:
        try:
            prices = _read_prices(args.prices)
        except (ConfigError, StrictJSONError) as exc:
            print(f"daemon refused: --prices: {' '.join(str(exc).split())}", file=sys.stderr)
            return 1
    try:
        keyring = KeyRing.load(data_dir)
    except KeyRingError as exc:
        print(f"daemon refused: key ring: {exc}", file=sys.stderr)
        return 1
    options = DaemonOptions(
        config_path=args.config,
        mode=args.mode,
        data_dir=data_dir,
        certs_dir=certs,
        listen=args.listen,
        metrics_port=args.metrics_port,
        keyring=keyring,
        prices=prices,
        capital=args.capital,
        feed=args.feed,
        strategies=[n for n in args.strategies.split(",") if n] if args.strategies is not None else None,
        stale_after_s=args.stale_after,
    )
    daemon = Daemon(options)
    if args.check:
        gate = daemon.evaluate_gate()
        for name, ok, detail in gate.items:
            print(f"[{'ok' if ok else 'FAIL'}] {name}: {detail}")
        return 0 if gate.live_unlocked else 1
    try:
        daemon.start()
    except JournalError as exc:
        hint = f"; see docs/daemon.md: python -m execution.daemon --data-dir {data_dir} --repair-journal"
        print(f"daemon refused to start: {' '.join(str(exc).split())}{hint}", file=sys.stderr)
        return 2
    except StartupRefused as exc:
        print(f"daemon refused to start in {args.mode} mode:", file=sys.stderr)
        for reason in exc.reasons:
            print(f"  - {reason}", file=sys.stderr)
        return 1
    print(
        f"daemon listening on {args.listen.rsplit(':', 1)[0]}:{daemon.port} mode={args.mode} "
        f"live_unlocked={daemon.gate.live_unlocked}"
        + (f" metrics=127.0.0.1:{daemon.metrics_port}" if daemon.metrics_port else ""),
        flush=True,
    )
    stop = threading.Event()
    import signal

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    daemon.stop()
    print(f"daemon stopped at {datetime.now(UTC).isoformat()}")
    return 0
