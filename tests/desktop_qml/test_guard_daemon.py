"""ReportUiTelemetry on a real daemon over loopback mTLS: recorded, role-checked, judged by the daemon's own
thresholds, visible in the pre-live checklist and in the Prometheus metrics."""

import json
import math
from datetime import UTC, datetime

import grpc
import pytest
from prometheus_client import generate_latest

from execution.daemon.devkit import Deployment
from execution.daemon.license_hook import LicenseCheck
from execution.daemon.server import UI_GUARD_ITEM, Daemon, DaemonOptions
from execution.proto.gen import oem_daemon_v1_pb2 as pb
from execution.proto.gen import oem_daemon_v1_pb2_grpc as pb_grpc


@pytest.fixture
def env(tmp_path):
    dep = Deployment.create(tmp_path / "dep", operators=("alice", "vera"))
    dep.append("demo", "demo_ready", "demo_exit")  # paper mode needs a passed demo_exit gate
    daemon = Daemon(
        DaemonOptions(
            config_path=dep.config_path,
            mode="paper",
            data_dir=dep.data_dir,
            certs_dir=dep.certs_dir,
            license_checker=lambda stage: LicenseCheck(True, "stub"),
            gate_poll_s=60,
        )
    ).start()
    yield dep, daemon
    daemon.stop(0)


def _call(dep, daemon, operator, roles):
    stub = pb_grpc.OemDaemonStub(dep.channel(daemon.port, operator))
    md = [("authorization", f"Bearer {dep.token(operator, roles)}")]
    return stub, md


def _event(kind, metric="p95_frame_ms", value=20.0, threshold=150.0, **kw):
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    fields = dict(
        time=now,
        event=kind,
        metric=metric,
        value=value,
        threshold=threshold,
        window_s=10.0,
        window_frames=600,
        fps=60.0,
        reduce_motion=False,
        client_version="0.1.0",
        client_id="run-1",
    )
    fields.update(kw)
    return pb.UiTelemetryEvent(**fields)


def _report(stub, md, *events):
    return stub.ReportUiTelemetry(pb.ReportUiTelemetryRequest(events=list(events)), metadata=md, timeout=5)


def _ui_row(stub, md):
    checklist = stub.GetPreLiveChecklist(pb.GetPreLiveChecklistRequest(), metadata=md, timeout=5)
    return next(item for item in checklist.items if item.name == UI_GUARD_ITEM), checklist


def _recorded(daemon):
    path = daemon.options.data_dir / "audit" / "daemon_ui_telemetry.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_the_checklist_says_no_ui_telemetry_until_a_client_reports(env):
    dep, daemon = env
    stub, md = _call(dep, daemon, "alice", ["viewer"])
    row, checklist = _ui_row(stub, md)
    assert not row.ok and "no UI telemetry received yet" in row.detail
    assert not checklist.ready


def test_a_breach_is_recorded_with_its_reporter_and_fails_the_checklist_until_recovery(env):
    dep, daemon = env
    stub, md = _call(dep, daemon, "alice", ["operator"])
    reply = _report(stub, md, _event("breach", value=212.5))
    assert reply.recorded == 1 and not reply.ui_guard_healthy
    lines = _recorded(daemon)
    assert lines[-1]["event"] == "breach" and lines[-1]["value"] == 212.5
    assert lines[-1]["subject"] == "alice" and len(lines[-1]["peer_cert_sha256"]) == 64
    row, _ = _ui_row(stub, md)
    assert not row.ok and "alice/run-1: p95_frame_ms 212.5 over 150" in row.detail
    metrics = generate_latest(daemon.metrics.registry).decode()
    assert "oem_ui_guard_healthy 0.0" in metrics
    assert 'oem_ui_telemetry_events_total{event="breach",metric="p95_frame_ms"} 1.0' in metrics

    reply = _report(stub, md, _event("recovery", value=40.0), _event("sample", "jank_percent", 0.2, 1.0))
    assert reply.recorded == 2 and reply.ui_guard_healthy
    row, _ = _ui_row(stub, md)
    assert row.ok and "1 client(s)" in row.detail
    assert "oem_ui_guard_healthy 1.0" in generate_latest(daemon.metrics.registry).decode()


def test_a_client_with_a_looser_threshold_is_judged_by_the_daemons_own(env):
    dep, daemon = env
    stub, md = _call(dep, daemon, "alice", ["operator"])
    reply = _report(stub, md, _event("sample", value=400.0, threshold=1000.0))
    assert not reply.ui_guard_healthy and "over 150" in reply.detail


def test_a_viewer_may_not_report_ui_telemetry(env):
    dep, daemon = env
    stub, md = _call(dep, daemon, "vera", ["viewer"])
    with pytest.raises(grpc.RpcError) as excinfo:
        _report(stub, md, _event("sample"))
    assert excinfo.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "ReportUiTelemetry requires role operator" in excinfo.value.details()
    assert _recorded(daemon) == []


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"metric": "fps"}, "metric must be one of"),
        ({"value": math.nan}, "value must be a finite number"),
        ({"time": "yesterday"}, "time must be RFC 3339 UTC"),
        ({"client_id": "a b"}, "client_id must be"),
    ],
)
def test_a_malformed_report_is_refused_whole_and_nothing_is_recorded(env, change, reason):
    dep, daemon = env
    stub, md = _call(dep, daemon, "alice", ["operator"])
    with pytest.raises(grpc.RpcError) as excinfo:
        _report(stub, md, _event("sample"), _event("sample", **change))
    assert excinfo.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert reason in excinfo.value.details()
    assert _recorded(daemon) == []


@pytest.mark.parametrize("value", [500, 0, "fast", True])
def test_a_daemon_whose_config_loosens_or_breaks_the_ui_guard_refuses_to_start(tmp_path, value):
    import yaml

    from audit.trust.paths import DEFAULT_CONFIG_PATH
    from execution.daemon.server import StartupRefused

    config = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    config["ui_guard"]["p95_frame_ms"] = value
    source = tmp_path / "core.yaml"
    source.write_text(yaml.safe_dump(config))
    dep = Deployment.create(tmp_path / "dep", operators=("alice",), source_config=source)
    options = DaemonOptions(
        config_path=dep.config_path, mode="demo", data_dir=dep.data_dir, certs_dir=dep.certs_dir
    )
    with pytest.raises(StartupRefused, match=r"ui_guard.p95_frame_ms must be a number in \(0, 150\]"):
        Daemon(options).start()


def test_the_recorder_keeps_a_bounded_number_of_clients_forgetting_stale_ones_first(tmp_path):
    from execution.daemon import ui_telemetry as ut

    now = [datetime(2026, 11, 29, 10, 5, tzinfo=UTC).timestamp()]
    recorder = ut.UiTelemetryRecorder(
        tmp_path / "ui.jsonl", sync=False, clock=lambda: now[0], stale_after_s=60
    )

    def report(client_id):
        event = {
            f.name: getattr(_event("sample", client_id=client_id), f.name)
            for f in pb.UiTelemetryEvent.DESCRIPTOR.fields
        }
        event["time"] = "2026-11-29T10:00:00.000000Z"
        return recorder.record([event], subject="alice", peer_fingerprint="00" * 32)

    for n in range(ut.MAX_CLIENTS):
        report(f"c{n}")
    with pytest.raises(ut.UiTelemetryRefused, match="more than 256 desktop clients"):
        report("one-too-many")
    now[0] += 120  # every earlier client is stale now
    assert report("one-too-many") == 1
