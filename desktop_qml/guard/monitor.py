"""The UI guard on a live QML window (imports PySide6).

``UiGuard.attach(window)`` times every frame of a ``QQuickWindow``: ``afterAnimating`` (the GUI thread starts
the frame: animations advanced, then polish and sync) to ``frameSwapped`` (the frame is on screen). Both are
connected directly, so the times are taken on the emitting thread (the render thread's ``frameSwapped``
included) and not when a queued slot happens to run. A scene that does not change renders nothing and so
adds no frames: idle time is neither fast nor slow frames.

Once a second the window statistics (``stats.FrameWindow``) go through ``alerts.Guard``: breach, recovery
and per-window samples land in the JSONL log and, through ``report.DaemonReporter``, in the daemon.
QML reads ``uiGuard.fps``, ``p95Ms``, ``jankPercent``, ``healthy`` and binds animations to
``uiGuard.animationsEnabled``; the Settings screen toggles ``uiGuard.reduceMotion``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from PySide6.QtCore import Property, QObject, QSettings, Qt, QTimer, Signal, Slot
from PySide6.QtQuick import QQuickWindow

from desktop_qml.guard.alerts import AlertLog, Guard, Sink, Thresholds
from desktop_qml.guard.motion import MotionPreference
from desktop_qml.guard.stats import FrameWindow, WindowStats


class UiGuard(QObject):
    statsChanged = Signal()  # noqa: N815 - Qt signal names are camelCase for QML
    reduceMotionChanged = Signal()  # noqa: N815

    def __init__(
        self,
        thresholds: Thresholds,
        *,
        client_version: str,
        log_path: Path | None = None,
        sinks: Iterable[Sink] = (),
        settings: QSettings | None = None,
        evaluate_every_ms: int = 1000,
        clock: Callable[[], float] = time.monotonic,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.thresholds = thresholds
        self.clock = clock
        self.frames = FrameWindow(thresholds.window_s)
        self._lock = threading.Lock()
        self._started_at: float | None = None
        self.log_path = log_path
        all_sinks = ([AlertLog(log_path)] if log_path is not None else []) + list(sinks)
        self.guard = Guard(thresholds, client_version=client_version, sinks=all_sinks)
        self.motion = MotionPreference(settings)
        self._reduce = self.motion.effective
        self._stats = self.frames.stats(clock())
        self._window: QQuickWindow | None = None
        self._connections: list = []
        self.frame_listeners: list[Callable[[float, float], None]] = []  # (swap s, frame ms): check, bench
        self.timer = QTimer(self)
        self.timer.setInterval(evaluate_every_ms)
        self.timer.timeout.connect(self.evaluate)

    # -- frames ---------------------------------------------------------------------------------------------
    def attach(self, window: QQuickWindow) -> None:
        self.detach()
        self._window = window
        screen = window.screen()
        if screen is not None:
            self.frames.set_refresh_rate(screen.refreshRate())
        self._connections = [
            window.afterAnimating.connect(self._frame_started, Qt.ConnectionType.DirectConnection),
            window.frameSwapped.connect(self._frame_swapped, Qt.ConnectionType.DirectConnection),
        ]
        self.timer.start()

    def detach(self) -> None:
        if self._window is not None:
            for signal, slot in (
                (self._window.afterAnimating, self._frame_started),
                (self._window.frameSwapped, self._frame_swapped),
            ):
                try:
                    signal.disconnect(slot)
                except (RuntimeError, TypeError):  # the window is already gone
                    pass
        self._window = None
        self._connections = []
        self.timer.stop()

    def _frame_started(self) -> None:
        self._started_at = self.clock()

    def _frame_swapped(self) -> None:
        started, self._started_at = self._started_at, None
        if started is None:
            return
        now = self.clock()
        self.record_frame(now, (now - started) * 1000.0)

    def record_frame(self, swap_s: float, frame_ms: float) -> None:
        with self._lock:
            self.frames.add(swap_s, frame_ms)
        for listener in self.frame_listeners:
            listener(swap_s, frame_ms)

    # -- evaluation -----------------------------------------------------------------------------------------
    @Slot()
    def evaluate(self) -> list[dict]:
        now = self.clock()
        with self._lock:
            self._stats = self.frames.stats(now)
        events = self.guard.evaluate(self._stats, now_s=now, reduce_motion=self._reduce)
        self.statsChanged.emit()
        return events

    def stats(self) -> WindowStats:
        return self._stats

    @property
    def total_frames(self) -> int:
        return self.frames.total_frames

    # -- QML properties -------------------------------------------------------------------------------------
    def _fps(self) -> float:
        return round(self._stats.fps, 1)

    def _p95(self) -> float:
        return round(self._stats.p95_ms, 2)

    def _jank(self) -> float:
        return round(self._stats.jank_percent, 2)

    def _healthy(self) -> bool:
        return self.guard.healthy

    def _frames_total(self) -> int:
        return self.frames.total_frames

    fps = Property(float, _fps, notify=statsChanged)
    framesTotal = Property(int, _frames_total, notify=statsChanged)  # noqa: N815
    p95LimitMs = Property(float, lambda self: self.thresholds.p95_frame_ms, constant=True)  # noqa: N815
    jankLimitPercent = Property(float, lambda self: self.thresholds.jank_percent, constant=True)  # noqa: N815
    windowSeconds = Property(float, lambda self: self.thresholds.window_s, constant=True)  # noqa: N815
    logPath = Property(str, lambda self: str(self.log_path or ""), constant=True)  # noqa: N815
    p95Ms = Property(float, _p95, notify=statsChanged)  # noqa: N815
    jankPercent = Property(float, _jank, notify=statsChanged)  # noqa: N815
    healthy = Property(bool, _healthy, notify=statsChanged)

    def _get_reduce(self) -> bool:
        return self._reduce

    def _set_reduce(self, value: bool) -> None:
        self.motion.choose(bool(value))
        self._apply_motion()

    @Slot()
    def followPlatformMotion(self) -> None:  # noqa: N802 - called from QML
        self.motion.choose(None)
        self._apply_motion()

    def _apply_motion(self) -> None:
        value = self.motion.effective
        if value != self._reduce:
            self._reduce = value
            self.reduceMotionChanged.emit()

    def _animations(self) -> bool:
        return not self._reduce

    reduceMotion = Property(bool, _get_reduce, _set_reduce, notify=reduceMotionChanged)  # noqa: N815
    animationsEnabled = Property(bool, _animations, notify=reduceMotionChanged)  # noqa: N815
