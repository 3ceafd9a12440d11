"""``--mode live`` starts only on verified evidence; the run-time gate relocks live when the logs change."""

import os
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest

from audit.trust import paths as trust_paths
from audit.trust.core_config import sign_file
from execution.daemon.devkit import Deployment
from execution.daemon.license_hook import LicenseCheck
from execution.daemon.server import Daemon, DaemonOptions, StartupRefused
from execution.mtls.bundle import generate_bundle
from execution.proto.gen import oem_daemon_v1_pb2 as pb
from execution.proto.gen import oem_daemon_v1_pb2_grpc as pb_grpc
from execution.venues.paper import PaperVenue
from tests.evidence_factory import stand_in_verifiers

REPO = Path(__file__).resolve().parents[2]


def _live_options(dep, certs_dir=None, **kw):
    fake_exchange = PaperVenue("binance")  # stands in for the ccxt venue: no network in tests
    fake_exchange.on_bar("ETH/BTC", 0.05, 1_000_000.0)
    base = dict(
        config_path=dep.config_path,
        mode="live",
        data_dir=dep.data_dir,
        certs_dir=certs_dir or dep.certs_dir,
        license_checker=lambda stage: LicenseCheck(True, "stub license"),
        extra_venues={"binance": fake_exchange},
        gate_poll_s=0.1,
        tick_s=0.1,
    )
    base.update(kw)
    return DaemonOptions(**base)


def _refused(options) -> list[str]:
    with pytest.raises(StartupRefused) as excinfo:
        Daemon(options).start()
    return excinfo.value.reasons


@pytest.fixture
def dep(tmp_path, monkeypatch):
    monkeypatch.setenv("OEM_ALLOW_DEVELOPMENT_LICENSES", "true")  # the devkit's license registry uses it
    with stand_in_verifiers():  # the bundle and UI telemetry verifiers come with their own packages
        yield Deployment.create(tmp_path, operators=("alice", "root-admin"))


def test_without_live_ready_live_is_refused(dep):
    dep.promote_to_live(skip_live=True)
    reasons = _refused(_live_options(dep))
    assert any("no verified status=live_ready" in r for r in reasons)
    assert any("compliance_confirmed is not true" in r for r in reasons)


def test_tampered_decision_log_is_refused(dep):
    dep.promote_to_live()
    log = trust_paths.decision_log_path("live_execution", dep.data_dir)
    data = log.read_bytes()
    at = data.index(b'"mtls_fingerprint":"sha384:') + len(b'"mtls_fingerprint":"sha384:')
    log.write_bytes(data[:at] + (b"0" if data[at : at + 1] != b"0" else b"1") + data[at + 1 :])
    reasons = _refused(_live_options(dep))
    assert any(r.startswith("decision log:") for r in reasons)


def test_config_changed_after_live_ready_is_refused(dep):
    dep.promote_to_live()
    with dep.config_path.open("a") as handle:
        handle.write("# edited after approval\n")
    sign_file(dep.config_path, dep.keyring)  # even correctly re-signed, it is not the approved config
    reasons = _refused(_live_options(dep))
    assert any("config_hash in the decision entry does not match" in r for r in reasons)


def test_another_mtls_bundle_is_refused(dep, tmp_path):
    dep.promote_to_live()
    other = tmp_path / "other-certs"
    generate_bundle(other, ["alice"])
    reasons = _refused(_live_options(dep, certs_dir=other))
    assert any("differs from the live_ready mtls_fingerprint" in r for r in reasons)


def test_invalid_license_is_refused(dep):
    dep.promote_to_live()
    reasons = _refused(
        _live_options(dep, license_checker=lambda stage: LicenseCheck(False, "x", ["license: expired"]))
    )
    assert reasons == ["license: expired"]


def test_unlocked_live_trades_and_relocks_when_the_logs_change(dep):
    dep.promote_to_live()
    daemon = Daemon(_live_options(dep)).start()
    try:
        assert daemon.gate.live_unlocked and daemon.gate.reasons == []
        stub = pb_grpc.OemDaemonStub(dep.channel(daemon.port, "alice"))
        md = [("authorization", f"Bearer {dep.token('alice', ['trader_live'])}")]
        live = pb.SubmitOrderRequest(
            client_order_id="lv-1", symbol="ETH/BTC", side="buy", qty=1.0, stage="live"
        )
        reply = stub.SubmitOrder(live, metadata=md, timeout=5)
        assert reply.accepted and reply.stage == "live" and reply.venue == "binance"
        paper = pb.SubmitOrderRequest(
            client_order_id="pp-1", symbol="ETH/BTC", side="buy", qty=1.0, stage="paper"
        )
        assert stub.SubmitOrder(paper, metadata=md, timeout=5).venue == "paper"
        # a signed revocation relocks the runtime without a restart
        dep.append("live_execution", "revoked", "live_go")
        deadline = time.time() + 10
        while time.time() < deadline and daemon.gate.live_unlocked:
            time.sleep(0.05)
        assert not daemon.gate.live_unlocked
        live2 = pb.SubmitOrderRequest(
            client_order_id="lv-2", symbol="ETH/BTC", side="buy", qty=1.0, stage="live"
        )
        with pytest.raises(grpc.RpcError) as excinfo:
            stub.SubmitOrder(live2, metadata=md, timeout=5)
        assert excinfo.value.code() is grpc.StatusCode.FAILED_PRECONDITION
        assert "revoked after approval" in excinfo.value.details()
        paper2 = pb.SubmitOrderRequest(
            client_order_id="pp-2", symbol="ETH/BTC", side="buy", qty=1.0, stage="paper"
        )
        assert stub.SubmitOrder(paper2, metadata=md, timeout=5).accepted
    finally:
        daemon.stop(0)


def test_cli_live_without_evidence_exits_non_zero_with_one_line_per_reason(dep):
    env = {**os.environ, "PYTHONPATH": str(REPO), "OEM_DATA_DIR": str(dep.data_dir)}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "execution.daemon",
            "--config",
            str(dep.config_path),
            "--mode",
            "live",
            "--data-dir",
            str(dep.data_dir),
            "--listen",
            "127.0.0.1:0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=REPO,
    )
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert lines[0] == "daemon refused to start in live mode:"
    assert any("no license installed" in line for line in lines)
    assert any("no verified status=live_ready" in line for line in lines)
    assert all(line.startswith("  - ") for line in lines[1:])


def test_license_hook_calls_the_licensing_verifier(tmp_path, monkeypatch):
    from datetime import UTC, datetime, timedelta

    from audit.trust.keyring import KeyRing
    from execution.daemon.license_hook import check_license
    from licensing.core.license_file import load_vendor_signer
    from tests.licensing.fakesys import build_machine
    from tests.licensing.helpers import fingerprint, make_license
    from tests.trust_setup import installed

    monkeypatch.setenv("OEM_ENV", "test")
    monkeypatch.setenv("OEM_ALLOW_DEVELOPMENT_LICENSES", "true")  # the license below uses the development key
    monkeypatch.delenv("OEM_LICENSE_USB_DONGLE", raising=False)
    build_machine(tmp_path / "machine")
    monkeypatch.setenv("OEM_FINGERPRINT_ROOT", str(tmp_path / "machine"))
    data_dir = tmp_path / "var"
    monkeypatch.setenv("OEM_DATA_DIR", str(data_dir))
    installed(data_dir)
    ring = KeyRing.load(data_dir)
    assert not check_license(data_dir=data_dir, keyring=ring, stage="live").valid  # nothing installed
    now = datetime.now(UTC)
    components = fingerprint(tmp_path / "machine", ring, now=now)["components"]
    lic = make_license(
        load_vendor_signer(),
        components,
        issued_at=now - timedelta(days=1),
        not_before=now - timedelta(days=1),
        expires_at=now + timedelta(days=30),
        stages=["demo", "paper", "live"],
    )
    (data_dir / "licenses").mkdir(parents=True, exist_ok=True)
    (data_dir / "licenses" / "license.json").write_bytes(lic.to_bytes())
    result = check_license(data_dir=data_dir, keyring=ring, stage="live")
    assert result.valid, result.reasons
    assert result.expires_at == lic.expires_at  # the status reports the license's expiry and days left
    monkeypatch.delenv("OEM_ALLOW_DEVELOPMENT_LICENSES")  # a daemon started without the demo switch
    result = check_license(data_dir=data_dir, keyring=ring, stage="live")
    assert not result.valid and any("development key" in r for r in result.reasons)
    monkeypatch.setenv("OEM_ALLOW_DEVELOPMENT_LICENSES", "true")
    paper_only = make_license(
        load_vendor_signer(),
        components,
        issued_at=now - timedelta(days=1),
        not_before=now - timedelta(days=1),
        expires_at=now + timedelta(days=30),
        stages=["demo", "paper"],
    )
    (data_dir / "licenses" / "license.json").write_bytes(paper_only.to_bytes())
    result = check_license(data_dir=data_dir, keyring=ring, stage="live")
    assert not result.valid and any("stage live is not licensed" in r for r in result.reasons)


def test_status_names_the_entry_each_gate_was_decided_by(dep):
    dep.promote_to_live()
    daemon = Daemon(_live_options(dep)).start()
    try:
        stub = pb_grpc.OemDaemonStub(dep.channel(daemon.port, "alice"))
        md = [("authorization", f"Bearer {dep.token('alice', ['viewer'])}")]
        gates = {g.name: g for g in stub.GetStatus(pb.GetStatusRequest(), metadata=md, timeout=5).gates}
        assert gates["live_go"].passed
        assert gates["live_go"].deciding_entry.startswith("live_execution.jsonl:1 live_ready ")
        assert gates["demo_exit"].deciding_entry.startswith("demo.jsonl:1 demo_ready ")
    finally:
        daemon.stop(0)


def _paper_options(dep, **kw):
    base = dict(
        config_path=dep.config_path,
        mode="paper",
        data_dir=dep.data_dir,
        certs_dir=dep.certs_dir,
        license_checker=lambda stage: LicenseCheck(True, "stub license"),
        gate_poll_s=60,
    )
    base.update(kw)
    return DaemonOptions(**base)


def test_paper_mode_without_a_passed_demo_exit_is_refused(dep):
    reasons = _refused(_paper_options(dep))
    assert any(r.startswith("paper mode needs a passed demo_exit gate:") for r in reasons)
    assert any("no verified status=demo_ready" in r for r in reasons)


def test_paper_mode_starts_after_a_verified_demo_ready(dep):
    dep.append("demo", "demo_ready", "demo_exit")
    daemon = Daemon(_paper_options(dep)).start()
    daemon.stop(0)


def test_cli_paper_without_demo_ready_exits_non_zero(dep):
    env = {**os.environ, "PYTHONPATH": str(REPO), "OEM_DATA_DIR": str(dep.data_dir)}
    argv = [sys.executable, "-m", "execution.daemon", "--config", str(dep.config_path), "--mode", "paper"]
    argv += ["--data-dir", str(dep.data_dir), "--listen", "127.0.0.1:0"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env, cwd=REPO)
    assert proc.returncode == 1
    assert "paper mode needs a passed demo_exit gate" in proc.stderr
