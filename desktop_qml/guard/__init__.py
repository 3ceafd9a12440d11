"""UI guard: frame-time statistics, breach/recovery alerts, reduce motion (docs/desktop.md "UI guard").

``stats``, ``alerts``, ``report`` are pure Python (no Qt); ``monitor`` and ``motion`` import PySide6 and are
imported only by ``install``, which ``DesktopApp.load()`` calls.
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)


def install(
    app, *, thresholds=None, log_path: Path | None = None, settings=None, evaluate_every_ms: int = 1000
):
    """Give ``app`` (a ``desktop_qml.app.DesktopApp`` before ``load()``) its UI guard: ``uiGuard`` in QML,
    frame timing on the main window, alerts to the JSONL log and to the daemon of the live session."""
    from desktop_qml import CLIENT_VERSION
    from desktop_qml.guard.alerts import Thresholds, default_log_path, load_thresholds
    from desktop_qml.guard.monitor import UiGuard
    from desktop_qml.guard.report import DaemonReporter

    if thresholds is None:
        try:
            thresholds = load_thresholds()
        except Exception as exc:  # noqa: BLE001 - a broken config must not switch the guard off
            log.warning("UI guard: %s; using the default thresholds (the caps)", exc)
            thresholds = Thresholds()

    def connection():
        client = app.backend.client()
        return (client.stub, client.metadata) if client is not None else None

    reporter = DaemonReporter(connection)
    guard = UiGuard(
        thresholds,
        client_version=CLIENT_VERSION,
        log_path=log_path or default_log_path(),
        sinks=[reporter],
        settings=settings,
        evaluate_every_ms=evaluate_every_ms,
    )
    guard.reporter = reporter
    app.ui_guard = guard
    app.set_context("uiGuard", guard)
    app.on_window(guard.attach)
    app.qt_app.aboutToQuit.connect(lambda: reporter.close(1.0))
    return guard
