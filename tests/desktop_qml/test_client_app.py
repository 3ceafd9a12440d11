# ruff: noqa: F811 - the fixtures are imported from client_fixtures and requested by name
"""The application shell: every screen loads without a QML warning, the compact overlay stays on top,
the session comes back by itself after the daemon restarts, and a bad --profile is one line."""

import socket

import pytest
from PySide6.QtCore import Qt

from desktop_qml.app import main
from desktop_qml.client import ClientError
from desktop_qml.models.backend import SCREENS
from desktop_qml.session import Backoff
from execution.daemon.devkit import Deployment
from execution.daemon.license_hook import LicenseCheck
from execution.daemon.server import Daemon, DaemonOptions
from tests.desktop_qml.client_fixtures import config_home, connect, daemon, desk, write_profile  # noqa: F401


def test_every_screen_loads_without_a_qml_warning_while_connected(qtbot, desk, daemon, tmp_path):
    connect(qtbot, desk, write_profile(daemon, tmp_path / "p", "root-admin", ["operator", "admin"]))
    for name in SCREENS:
        desk.show_screen(name)
        assert desk.find(f"{name}Screen") is not None
        assert desk.grab(tmp_path / f"{name}.png").stat().st_size > 0
    desk.backend.setOverlay(True)
    qtbot.wait(100)
    assert desk.qml_warnings == []


def test_the_overlay_is_a_compact_window_that_stays_on_top(qtbot, desk, daemon, tmp_path):
    connect(qtbot, desk, write_profile(daemon, tmp_path / "p", "alice", ["operator"]))
    overlay = desk.find("overlayWindow")
    assert overlay is not None and not overlay.isVisible()
    desk.backend.setOverlay(True)
    qtbot.waitUntil(overlay.isVisible, timeout=5_000)
    assert overlay.flags() & Qt.WindowType.WindowStaysOnTopHint
    assert overlay.width() < desk.window.width() and overlay.height() < desk.window.height()
    qtbot.waitUntil(lambda: desk.find("overlayRisk").property("text") == "ACTIVE", timeout=5_000)
    desk.backend.setOverlay(False)
    qtbot.waitUntil(lambda: not overlay.isVisible(), timeout=5_000)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(dep, port):
    return Daemon(
        DaemonOptions(
            config_path=dep.config_path,
            mode="paper",
            data_dir=dep.data_dir,
            certs_dir=dep.certs_dir,
            listen=f"127.0.0.1:{port}",
            license_checker=lambda stage: LicenseCheck(False, "not needed in paper mode"),
            gate_poll_s=60,
        )
    ).start()


class _Local:  # the shape write_profile expects
    def __init__(self, dep, d):
        self.deployment, self.daemon = dep, d


def test_the_session_reconnects_with_backoff_after_the_daemon_restarts(qtbot, desk, tmp_path):
    dep = Deployment.create(tmp_path / "dep", operators=("alice",))
    dep.append("demo", "demo_ready", "demo_exit")  # paper mode needs a passed demo_exit gate
    port = _free_port()
    first = _start(dep, port)
    try:
        connect(qtbot, desk, write_profile(_Local(dep, first), tmp_path / "p", "alice", ["operator"]))
    finally:
        first.stop(0)
    conn = desk.backend.connection
    qtbot.waitUntil(lambda: conn.state == "reconnecting", timeout=10_000)
    assert "retrying in" in conn.message and conn.tlsVersion == ""
    second = _start(dep, port)
    try:
        qtbot.waitUntil(lambda: conn.state == "connected", timeout=15_000)
        assert conn.tlsVersion == "TLSv1.3" and conn.message == ""
        assert desk.backend.orders.submit("ETH/BTC", "buy", 1.0, "market", 0.0), (
            desk.backend.orders.lastResult
        )
    finally:
        desk.backend.stop_session()
        second.stop(0)


def test_backoff_doubles_up_to_its_cap_and_resets():
    backoff = Backoff(0.5, 2.0, 4.0)
    assert [backoff.next() for _ in range(5)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    backoff.reset()
    assert backoff.next() == 0.5


def test_a_bad_profile_on_the_command_line_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["--profile", str(tmp_path / "missing.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: profile ") and err.count("\n") == 1
    assert main(["--no-such-flag"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_a_call_on_a_channel_closed_by_a_reconnect_is_a_one_line_refusal(qtbot, desk, daemon, tmp_path):
    connect(qtbot, desk, write_profile(daemon, tmp_path / "p", "alice", ["operator"]))
    client = desk.backend.client()
    client.close()  # what the session does when it reconnects, possibly under a click
    with pytest.raises(ClientError, match="being re-established"):
        client.submit(client_order_id="dq-closed", symbol="ETH/BTC", side="buy", qty=1.0)
    qtbot.waitUntil(lambda: desk.backend.client() not in (None, client), timeout=10_000)  # and it comes back
    qtbot.waitUntil(lambda: desk.backend.connection.state == "connected", timeout=10_000)
