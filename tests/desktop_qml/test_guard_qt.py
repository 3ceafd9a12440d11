"""The UI guard on a real QML window (Qt offscreen): slow frames become a breach line in the JSONL and a
ReportUiTelemetry call the real daemon (loopback mTLS) records; reduce motion stops the animations."""

import json
import time

import pytest
from PySide6.QtCore import QSettings, Qt, QTimer, QUrl
from PySide6.QtQuick import QQuickView

from desktop_qml.guard.alerts import Thresholds
from desktop_qml.guard.monitor import UiGuard
from desktop_qml.guard.report import DaemonReporter
from execution.daemon.server import UI_GUARD_ITEM
from execution.drills.harness import local_daemon
from execution.proto.gen import oem_daemon_v1_pb2 as pb

SCENE = """
import QtQuick
Rectangle {
    width: 320; height: 200; color: "#202020"
    Rectangle {
        id: box; objectName: "box"; width: 40; height: 40; color: "orange"
        NumberAnimation on x {
            objectName: "slide"; from: 0; to: 280; duration: 1000; loops: Animation.Infinite
            running: uiGuard.animationsEnabled
        }
        Behavior on opacity {
            objectName: "fade"; enabled: uiGuard.animationsEnabled
            NumberAnimation { duration: 300 }
        }
    }
}
"""


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


def _view(qtbot, tmp_path, guard):
    view = QQuickView()
    view.rootContext().setContextProperty("uiGuard", guard)
    qml = tmp_path / "scene.qml"
    qml.write_text(SCENE)
    view.setSource(QUrl.fromLocalFile(str(qml)))
    assert view.status() == QQuickView.Status.Ready, view.errors()
    view.show()
    return view


def _animation(view, name):
    return view.rootObject().findChild(object, name)


def test_slow_frames_write_a_breach_line_and_the_daemon_records_the_report(qtbot, tmp_path, settings):
    log = tmp_path / "logs" / "ui_telemetry_alerts.jsonl"
    with local_daemon(tmp_path, "uiguard", mode="paper", operators=("alice",)) as ld:
        client = ld.client("alice", ["operator"])
        reporter = DaemonReporter(lambda: (client.stub, client.metadata))
        guard = UiGuard(
            Thresholds(window_s=3.0, min_frames=5),
            client_version="0.1.0",
            log_path=log,
            sinks=[reporter],
            settings=settings,
            evaluate_every_ms=200,
        )
        view = _view(qtbot, tmp_path, guard)

        def slow_frame():  # a render that takes 200 ms: far over the 150 ms p95 and the jank limit
            time.sleep(0.2)

        view.beforeRendering.connect(slow_frame, Qt.ConnectionType.DirectConnection)
        guard.attach(view)
        qtbot.waitUntil(lambda: log.exists() and b'"event":"breach"' in log.read_bytes(), timeout=20_000)
        view.beforeRendering.disconnect(slow_frame)
        assert reporter.flush(10)
        guard.detach()
        view.close()

        lines = [json.loads(line) for line in log.read_text().splitlines()]
        breach = next(e for e in lines if e["event"] == "breach" and e["metric"] == "p95_frame_ms")
        assert breach["value"] >= 200 and breach["threshold"] == 150 and breach["window_frames"] >= 5
        assert breach["client_version"] == "0.1.0" and breach["reduce_motion"] is False
        assert not guard.guard.healthy and reporter.sent >= 1 and reporter.last_error == ""

        recorded = ld.daemon.options.data_dir / "audit" / "daemon_ui_telemetry.jsonl"
        seen = [json.loads(line) for line in recorded.read_text().splitlines()]
        assert any(e["event"] == "breach" and e["client_id"] == guard.guard.client_id for e in seen)
        assert all(e["subject"] == "alice" for e in seen)
        checklist = client.stub.GetPreLiveChecklist(
            pb.GetPreLiveChecklistRequest(), metadata=client.metadata, timeout=5
        )
        row = next(i for i in checklist.items if i.name == UI_GUARD_ITEM)
        assert not row.ok and "p95_frame_ms" in row.detail
        reporter.close()
        client.close()


def test_a_reporter_without_the_operator_role_keeps_the_refusal_and_drops_the_batch(tmp_path):
    with local_daemon(tmp_path, "uiguard-viewer", mode="paper", operators=("vera",)) as ld:
        client = ld.client("vera", ["viewer"])
        reporter = DaemonReporter(lambda: (client.stub, client.metadata))
        event = {
            "time": "2026-11-29T10:00:00.000000Z",
            "event": "sample",
            "metric": "p95_frame_ms",
            "value": 5.0,
            "threshold": 150.0,
            "window_s": 10.0,
            "window_frames": 600,
            "fps": 60.0,
            "reduce_motion": False,
            "client_version": "0.1.0",
            "client_id": "v1",
        }
        reporter([event])
        assert reporter.flush(10)
        assert reporter.sent == 0 and reporter.dropped == 1
        assert reporter.last_error.startswith("PERMISSION_DENIED: ReportUiTelemetry requires role operator")
        reporter.close()
        client.close()


def test_reduce_motion_stops_the_animations_and_is_remembered(qtbot, tmp_path, settings):
    guard = UiGuard(Thresholds(), client_version="0.1.0", settings=settings)
    view = _view(qtbot, tmp_path, guard)
    slide, fade = _animation(view, "slide"), _animation(view, "fade")
    assert guard.animationsEnabled and slide.property("running") and fade.property("enabled")

    with qtbot.waitSignal(guard.reduceMotionChanged, timeout=2000):
        guard.setProperty("reduceMotion", True)
    assert not guard.animationsEnabled
    assert slide.property("running") is False and fade.property("enabled") is False
    view.close()

    again = UiGuard(Thresholds(), client_version="0.1.0", settings=settings)
    assert again.reduceMotion is True  # the operator's choice outlives the window
    again.followPlatformMotion()
    assert again.reduceMotion is False


def test_the_platform_preference_applies_until_the_operator_chooses(monkeypatch, settings):
    monkeypatch.setenv("OEM_REDUCE_MOTION", "1")
    guard = UiGuard(Thresholds(), client_version="0.1.0", settings=settings)
    assert guard.reduceMotion is True and guard.animationsEnabled is False
    guard.setProperty("reduceMotion", False)
    assert guard.reduceMotion is False


def test_a_gui_thread_stall_before_a_frame_counts_in_that_frames_time(qtbot, tmp_path, settings):
    guard = UiGuard(Thresholds(), client_version="0.1.0", settings=settings)
    guard.setProperty("reduceMotion", True)  # nothing moves by itself: only the change below renders
    view = _view(qtbot, tmp_path, guard)
    guard.attach(view)
    frames = []
    guard.frame_listeners.append(lambda swap_s, frame_ms: frames.append((swap_s, frame_ms)))
    qtbot.wait(300)
    box = view.rootObject().findChild(object, "box")
    changed_at = []

    def change_then_busy():  # the models change first, then the GUI thread stays busy (a burst of fills)
        changed_at.append(guard.clock())
        box.setProperty("opacity", 0.5)
        time.sleep(0.25)

    def after_the_change():
        # The frame that shows the change can only be synced once the GUI thread is free again, so it swaps
        # after the busy stretch; a frame the render thread had in flight from before (a loaded machine) may
        # swap during the stretch and is not it.
        return [ms for swap_s, ms in frames if changed_at and swap_s >= changed_at[0] + 0.25]

    QTimer.singleShot(0, change_then_busy)
    qtbot.waitUntil(lambda: bool(after_the_change()), timeout=5000)
    assert max(after_the_change()) >= 250
    guard.detach()
    view.close()
