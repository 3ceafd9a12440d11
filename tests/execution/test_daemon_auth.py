"""A real daemon over loopback mTLS: transport (TLS 1.3, CRL, certificates) and RBAC token checks.

Handshake-level refusals (no client certificate, a foreign CA, an expired certificate) surface on the client
as UNAVAILABLE: BoringSSL ends the handshake, no RPC ever runs. A TLS 1.2 client DOES complete the handshake
(grpcio cannot set a minimum version); the interceptor then answers grpc-status 16 (UNAUTHENTICATED).
"""

import json
import ssl
import struct
import time
from datetime import timedelta

import grpc
import pytest

from audit.trust.keyring import KeyRing
from audit.trust.signatures import HmacSigner
from execution.daemon.devkit import Deployment
from execution.daemon.license_hook import LicenseCheck
from execution.daemon.server import Daemon, DaemonOptions
from execution.mtls.bundle import _load_issued, load_inventory, revoke, write_crl
from execution.mtls.pki import create_ca, issue_client_cert, utc_now
from execution.proto.gen import oem_daemon_v1_pb2 as pb
from execution.proto.gen import oem_daemon_v1_pb2_grpc as pb_grpc
from tests.trust_setup import installed

ECHO = "/oem.daemon.v1.OemDaemon/Echo"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    dep = Deployment.create(tmp_path_factory.mktemp("auth"), operators=("alice", "bob", "eve", "root-admin"))
    daemon = Daemon(
        DaemonOptions(
            config_path=dep.config_path,
            mode="paper",
            data_dir=dep.data_dir,
            certs_dir=dep.certs_dir,
            license_checker=lambda stage: LicenseCheck(True, "stub"),
            gate_poll_s=60,
            paper_needs_demo_exit=False,
        )
    ).start()
    yield dep, daemon
    daemon.stop(0)


def _stub(dep, daemon, operator="alice", **kw):
    return pb_grpc.OemDaemonStub(dep.channel(daemon.port, operator, **kw))


def _md(token):
    return [("authorization", f"Bearer {token}")]


def _echo(stub, token=None):
    return stub.Echo(pb.EchoRequest(payload=b"ping"), metadata=_md(token) if token else None, timeout=5)


def _code(fn):
    with pytest.raises(grpc.RpcError) as excinfo:
        fn()
    return excinfo.value.code(), excinfo.value.details()


def _access(dep):
    lines = (dep.data_dir / "audit" / "daemon_access.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_valid_certificate_and_token_pass_and_are_audited(env):
    dep, daemon = env
    token = dep.token("alice", ["viewer"])
    assert _echo(_stub(dep, daemon), token).payload == b"ping"
    last = _access(dep)[-1]
    assert last["decision"] == "allow" and last["subject"] == "alice" and last["method"] == ECHO
    assert last["peer_cert_sha256"] and last["jti"]


def test_no_client_certificate_fails_the_handshake(env):
    dep, daemon = env
    stub = _stub(dep, daemon, operator="", key=None, cert=None)
    assert _code(lambda: _echo(stub, "x"))[0] is grpc.StatusCode.UNAVAILABLE


def test_certificate_from_a_foreign_ca_fails_the_handshake(env):
    dep, daemon = env
    foreign = create_ca(days=30)
    client = issue_client_cert(foreign, "alice", days=30)
    stub = _stub(dep, daemon, key=client.key_pem, cert=client.cert_pem)
    assert _code(lambda: _echo(stub, "x"))[0] is grpc.StatusCode.UNAVAILABLE


def test_expired_certificate_fails_the_handshake(env):
    dep, daemon = env
    ca = _load_issued(dep.certs_dir, "ca")
    past = utc_now() - timedelta(days=10)
    client = issue_client_cert(ca, "alice", days=1, now=past, not_before=past)
    stub = _stub(dep, daemon, key=client.key_pem, cert=client.cert_pem)
    assert _code(lambda: _echo(stub, "x"))[0] is grpc.StatusCode.UNAVAILABLE


def test_revoked_serial_is_refused_and_stale_crl_fails_closed(env):
    dep, daemon = env
    eve_token = dep.token("eve", ["viewer"])
    alice_token = dep.token("alice", ["viewer"])
    assert _echo(_stub(dep, daemon, "eve"), eve_token).payload == b"ping"
    revoke(dep.certs_dir, operator="eve")
    code, details = _code(lambda: _echo(_stub(dep, daemon, "eve"), eve_token))
    assert code is grpc.StatusCode.UNAUTHENTICATED and "revoked" in details
    assert _access(dep)[-1]["decision"] == "deny" and _access(dep)[-1]["reason"].startswith("crl")
    ca = _load_issued(dep.certs_dir, "ca")
    inventory = load_inventory(dep.certs_dir)
    try:
        write_crl(dep.certs_dir, ca, inventory, days=1, now=utc_now() - timedelta(days=2))
        code, details = _code(lambda: _echo(_stub(dep, daemon), alice_token))
        assert code is grpc.StatusCode.UNAUTHENTICATED and "stale" in details
    finally:
        write_crl(dep.certs_dir, ca, inventory, days=30, now=utc_now())
    assert _echo(_stub(dep, daemon), alice_token).payload == b"ping"


def test_tls12_client_gets_unauthenticated(env):
    httpx = pytest.importorskip("httpx")
    dep, daemon = env
    ctx = ssl.create_default_context(cafile=str(dep.certs_dir / "ca.pem"))
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    clients = dep.certs_dir / "clients"
    ctx.load_cert_chain(str(clients / "alice.pem"), str(clients / "alice.key"))
    body = pb.EchoRequest(payload=b"ping").SerializeToString()
    frame = b"\x00" + struct.pack(">I", len(body)) + body
    headers = {
        "content-type": "application/grpc",
        "te": "trailers",
        "authorization": f"Bearer {dep.token('alice', ['viewer'])}",
    }
    with httpx.Client(http2=True, verify=ctx) as client:
        response = client.post(f"https://localhost:{daemon.port}{ECHO}", content=frame, headers=headers)
    # Measured: the TLS 1.2 handshake completes; the interceptor refuses in a trailers-only response.
    assert response.http_version == "HTTP/2"
    assert response.headers.get("grpc-status") == "16"
    assert "TLS 1.3 required" in response.headers.get("grpc-message", "").replace("%20", " ")
    assert _access(dep)[-1]["reason"].startswith("tls_version")


def _other_ring_token(dep):
    installed(dep.root / "other-var")
    ring = KeyRing.load(dep.root / "other-var")
    from execution.tokens import issue_token

    return issue_token(keyring=ring, subject="alice", roles=["admin"], cert_der=dep.cert_der("alice"))


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda dep: dep.token("alice", ["viewer"], now=time.time() - 7200, ttl_s=60), "token_expired"),
        (lambda dep: dep.token("alice", ["viewer"], audience="other-daemon"), "token_wrong_audience"),
        (lambda dep: dep.token("bob", ["viewer"]), "token_cert_mismatch"),
        (_other_ring_token, "token_bad_signature"),
        (lambda dep: None, "no_token"),
    ],
)
def test_bad_tokens_are_unauthenticated(env, make, reason):
    dep, daemon = env
    code, _details = _code(lambda: _echo(_stub(dep, daemon), make(dep)))
    assert code is grpc.StatusCode.UNAUTHENTICATED
    last = _access(dep)[-1]
    assert last["decision"] == "deny" and last["reason"].startswith(reason) and last["subject"] == "alice"


def test_forged_signature_with_the_right_kid_is_refused(env):
    dep, daemon = env
    body, signature = dep.token("alice", ["viewer"]).split(".")
    kid = signature.split(":")[1]
    import base64

    from audit.trust.canonical import strict_loads

    claims = strict_loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    forged = HmacSigner(kid, b"k" * 48).sign("oem/token/v1", claims)
    code, _ = _code(lambda: _echo(_stub(dep, daemon), f"{body}.{forged}"))
    assert code is grpc.StatusCode.UNAUTHENTICATED


def test_insufficient_roles_are_permission_denied(env):
    dep, daemon = env
    stub = _stub(dep, daemon)
    viewer = dep.token("alice", ["viewer"])
    operator = dep.token("alice", ["operator"])
    order = pb.SubmitOrderRequest(client_order_id="auth-1", symbol="ETH/BTC", side="buy", qty=1.0)
    code, details = _code(lambda: stub.SubmitOrder(order, metadata=_md(viewer), timeout=5))
    assert code is grpc.StatusCode.PERMISSION_DENIED and "requires role operator" in details
    code, details = _code(lambda: stub.KillSwitch(pb.KillSwitchRequest(), metadata=_md(operator), timeout=5))
    assert code is grpc.StatusCode.PERMISSION_DENIED and "admin" in details
    live = pb.SubmitOrderRequest(
        client_order_id="auth-2", symbol="ETH/BTC", side="buy", qty=1.0, stage="live"
    )
    code, details = _code(lambda: stub.SubmitOrder(live, metadata=_md(operator), timeout=5))
    assert code is grpc.StatusCode.PERMISSION_DENIED and "trader_live" in details
    assert _access(dep)[-1]["reason"].startswith("role")


def test_health_and_reflection_need_mtls_only(env):
    dep, daemon = env
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    channel = dep.channel(daemon.port, "alice")
    health = health_pb2_grpc.HealthStub(channel)
    reply = health.Check(health_pb2.HealthCheckRequest(service="oem.daemon.v1.OemDaemon"), timeout=5)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    responses = stub.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5
    )
    names = {s.name for r in responses for s in r.list_services_response.service}
    assert "oem.daemon.v1.OemDaemon" in names


def test_streams_are_checked_like_unary_calls(env):
    dep, daemon = env
    stub = _stub(dep, daemon)
    code, _ = _code(lambda: next(iter(stub.StreamFills(pb.StreamFillsRequest(), timeout=5))))
    assert code is grpc.StatusCode.UNAUTHENTICATED
    bob_token = dep.token("bob", ["viewer"])
    stream = stub.StreamTelemetry(pb.StreamTelemetryRequest(), metadata=_md(bob_token), timeout=5)
    code, _ = _code(lambda: next(iter(stream)))
    assert code is grpc.StatusCode.UNAUTHENTICATED
    assert _access(dep)[-1]["reason"].startswith("token_cert_mismatch")


def test_metrics_bind_to_loopback_only():
    from execution.metrics import DaemonMetrics

    with pytest.raises(ValueError, match="loopback"):
        DaemonMetrics().serve(0, host="0.0.0.0")  # noqa: S104 - the refusal is the point


def test_access_log_lines_are_canonical_and_complete_under_concurrency(tmp_path):
    import threading

    from audit.trust.canonical import canonical_bytes, strict_loads
    from execution.daemon.access import AccessLog

    log = AccessLog(tmp_path / "audit" / "daemon_access.jsonl")

    def write(n):
        for i in range(50):
            log.record(method=f"/m{n}", decision="deny", reason=f"r{i} ünï\n", subject="s")

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log.close()
    lines = (tmp_path / "audit" / "daemon_access.jsonl").read_bytes().splitlines()
    assert len(lines) == 400
    for line in lines:
        assert canonical_bytes(strict_loads(line)) == line


def test_status_tells_the_caller_its_tls_version_subject_and_roles(env):
    dep, daemon = env
    reply = _stub(dep, daemon).GetStatus(
        pb.GetStatusRequest(), metadata=_md(dep.token("alice", ["operator"])), timeout=5
    )
    assert reply.peer_tls_version == "TLSv1.3"
    assert reply.peer_subject == "alice"
    assert set(reply.peer_roles) == {"operator", "viewer"}
