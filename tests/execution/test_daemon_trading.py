"""Trading over the real daemon: paper orders end to end, fills stream, trading states, kill switch,
cancel-on-disconnect, journal replay, metrics, and hot reload of a rotated server certificate."""

import socket
import ssl
import threading
import time
import urllib.request

import grpc
import pytest
from cryptography import x509

from execution.daemon.devkit import Deployment
from execution.daemon.license_hook import LicenseCheck
from execution.daemon.server import Daemon, DaemonOptions
from execution.mtls.bundle import _load_issued, _write_issued
from execution.mtls.pki import issue_server_cert
from execution.proto.gen import oem_daemon_v1_pb2 as pb
from execution.proto.gen import oem_daemon_v1_pb2_grpc as pb_grpc


def _options(dep, **kw):
    base = dict(
        config_path=dep.config_path,
        mode="paper",
        data_dir=dep.data_dir,
        certs_dir=dep.certs_dir,
        license_checker=lambda stage: LicenseCheck(True, "stub"),
        gate_poll_s=60,
        tick_s=0.1,
        metrics_port=0,
        paper_needs_demo_exit=False,
    )
    base.update(kw)
    return DaemonOptions(**base)


@pytest.fixture
def env(tmp_path):
    dep = Deployment.create(tmp_path, operators=("alice", "root-admin"))
    daemon = Daemon(_options(dep)).start()
    yield dep, daemon
    daemon.stop(0)


def _md(dep, who, roles):
    return [("authorization", f"Bearer {dep.token(who, roles)}")]


def _order(cid, **kw):
    fields = dict(client_order_id=cid, symbol="ETH/BTC", side="buy", qty=1.0)
    fields.update(kw)
    return pb.SubmitOrderRequest(**fields)


def test_paper_order_is_filled_end_to_end_and_streamed(env):
    dep, daemon = env
    stub = pb_grpc.OemDaemonStub(dep.channel(daemon.port, "alice"))
    md = _md(dep, "alice", ["operator"])
    fills = stub.StreamFills(pb.StreamFillsRequest(), metadata=md, timeout=10)
    got = []
    reader = threading.Thread(target=lambda: got.append(next(iter(fills))), daemon=True)
    reader.start()
    time.sleep(0.2)  # let the stream subscribe
    reply = stub.SubmitOrder(_order("e2e-1"), metadata=md, timeout=5)
    assert reply.accepted and reply.status == "FILLED" and reply.venue == "paper" and reply.stage == "paper"
    reader.join(5)
    assert got and got[0].client_order_id == "e2e-1" and got[0].owner == "alice" and got[0].qty == 1.0
    fills.cancel()
    again = stub.SubmitOrder(_order("e2e-1"), metadata=md, timeout=5)
    assert again.duplicate and again.status == "FILLED"
    journal = (dep.data_dir / "journal" / "paper.jsonl").read_text()
    assert "e2e-1" in journal
    metrics = (
        urllib.request.urlopen(f"http://127.0.0.1:{daemon.metrics_port}/metrics", timeout=5).read().decode()
    )
    assert 'oem_fills_total{venue="paper"} 1.0' in metrics
    assert "oem_order_latency_seconds_bucket" in metrics and 'oem_venue_up{venue="paper"} 1.0' in metrics
    assert 'oem_gate_state{gate="live_go"} 0.0' in metrics and "oem_certificate_days_left" in metrics


def test_live_order_on_a_locked_daemon_is_failed_precondition_paper_keeps_working(env):
    dep, daemon = env
    stub = pb_grpc.OemDaemonStub(dep.channel(daemon.port, "alice"))
    md = _md(dep, "alice", ["trader_live"])
    with pytest.raises(grpc.RpcError) as excinfo:
        stub.SubmitOrder(_order("live-1", stage="live"), metadata=md, timeout=5)
    assert excinfo.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert stub.SubmitOrder(_order("paper-1"), metadata=md, timeout=5).accepted
    status = stub.GetStatus(pb.GetStatusRequest(), metadata=md, timeout=5)
    assert status.mode == "paper" and not status.live_unlocked and status.live_reasons
    assert {g.name for g in status.gates} == {"demo_exit", "paper_exit", "live_go"}
    checklist = stub.GetPreLiveChecklist(pb.GetPreLiveChecklistRequest(), metadata=md, timeout=5)
    assert not checklist.ready and any(not item.ok for item in checklist.items)


def test_halted_denies_new_orders_and_kill_switch_cancels_resting(env):
    dep, daemon = env
    stub = pb_grpc.OemDaemonStub(dep.channel(daemon.port, "alice"))
    admin = pb_grpc.OemDaemonStub(dep.channel(daemon.port, "root-admin"))
    md = _md(dep, "alice", ["operator"])
    admin_md = _md(dep, "root-admin", ["admin"])
    halted = admin.SetTradingState(
        pb.SetTradingStateRequest(state=pb.TRADING_STATE_HALTED, reason="maintenance"),
        metadata=admin_md,
        timeout=5,
    )
    assert halted.state == pb.TRADING_STATE_HALTED
    reply = stub.SubmitOrder(_order("halt-1"), metadata=md, timeout=5)
    assert not reply.accepted and reply.status == "REJECTED" and reply.reason == "HALTED"
    admin.SetTradingState(
        pb.SetTradingStateRequest(state=pb.TRADING_STATE_ACTIVE), metadata=admin_md, timeout=5
    )
    resting = stub.SubmitOrder(
        _order("rest-1", order_type="limit", limit_price=0.048), metadata=md, timeout=5
    )  # below the market: rests
    assert resting.accepted and resting.status == "ACKED"
    killed = admin.KillSwitch(pb.KillSwitchRequest(reason="drill"), metadata=admin_md, timeout=5)
    assert killed.cancelled == 1 and killed.state == pb.TRADING_STATE_HALTED
    status = stub.GetStatus(pb.GetStatusRequest(), metadata=md, timeout=5)
    assert status.open_orders == 0 and status.trading_state == pb.TRADING_STATE_HALTED


def test_cancel_on_disconnect_when_the_operators_fill_stream_drops(env):
    dep, daemon = env
    channel = dep.channel(daemon.port, "alice")
    stub = pb_grpc.OemDaemonStub(channel)
    md = _md(dep, "alice", ["operator"])
    fills = stub.StreamFills(pb.StreamFillsRequest(), metadata=md)
    time.sleep(0.2)
    resting = stub.SubmitOrder(_order("cod-1", order_type="limit", limit_price=0.048), metadata=md, timeout=5)
    assert resting.status == "ACKED"
    fills.cancel()
    deadline = time.time() + 5
    while time.time() < deadline and daemon.core.open_orders():
        time.sleep(0.05)
    _router, order = daemon.core.find("cod-1")
    assert order.status == "CANCELLED" and order.reason == "CANCEL_ON_DISCONNECT"


def test_restart_replays_the_journal(tmp_path):
    dep = Deployment.create(tmp_path, operators=("alice",))
    daemon = Daemon(_options(dep, metrics_port=None)).start()
    stub = pb_grpc.OemDaemonStub(dep.channel(daemon.port, "alice"))
    md = _md(dep, "alice", ["operator"])
    stub.SubmitOrder(_order("rp-1"), metadata=md, timeout=5)
    daemon.stop(0)
    again = Daemon(_options(dep, metrics_port=None)).start()
    try:
        assert again.core.restore_counts["paper"]["orders"] == 1
        stub = pb_grpc.OemDaemonStub(dep.channel(again.port, "alice"))
        assert stub.SubmitOrder(_order("rp-1"), metadata=md, timeout=5).duplicate
    finally:
        again.stop(0)


def _served_serial(dep, port):
    ctx = ssl.create_default_context(cafile=str(dep.certs_dir / "ca.pem"))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.set_alpn_protocols(["h2"])
    clients = dep.certs_dir / "clients"
    ctx.load_cert_chain(str(clients / "alice.pem"), str(clients / "alice.key"))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            return x509.load_der_x509_certificate(tls.getpeercert(binary_form=True)).serial_number


def test_rotated_server_certificate_is_served_without_restart(env):
    dep, daemon = env
    before = _served_serial(dep, daemon.port)
    ca = _load_issued(dep.certs_dir, "ca")
    fresh = issue_server_cert(ca, days=90)
    _write_issued(dep.certs_dir, "server", fresh)
    assert _served_serial(dep, daemon.port) == fresh.cert.serial_number != before
    stub = pb_grpc.OemDaemonStub(dep.channel(daemon.port, "alice"))
    reply = stub.Echo(pb.EchoRequest(payload=b"after"), metadata=_md(dep, "alice", ["viewer"]), timeout=5)
    assert reply.payload == b"after" and daemon.certs.reloads >= 1


def test_telemetry_stream_carries_router_events(env):
    dep, daemon = env
    stub = pb_grpc.OemDaemonStub(dep.channel(daemon.port, "alice"))
    md = _md(dep, "alice", ["operator"])
    events = stub.StreamTelemetry(pb.StreamTelemetryRequest(), metadata=md, timeout=10)
    kinds = []

    def read():
        for event in events:
            kinds.append(event.kind)
            if event.kind == "fill":
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    time.sleep(0.2)
    stub.SubmitOrder(_order("tm-1"), metadata=md, timeout=5)
    reader.join(5)
    events.cancel()
    assert "submitted" in kinds and "fill" in kinds
