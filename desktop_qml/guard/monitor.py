"""The UI guard on a live QML window (imports PySide6).

``UiGuard.attach(window)`` times every frame of a ``QQuickWindow`` from the moment the GUI thread could no
longer have shown anything else to ``frameSwapped`` (the frame is on screen):

- the frame's own work starts at ``afterAnimating`` (animations advanced; polish, sync and render follow);
- but when the GUI thread was already busy before that (Python draining a burst of fills, a slow slot),
  the frame waited for it: the start moves back to the first event the GUI thread handled after its last
  real wait, never before the previous frame's swap. A real wait is an ``aboutToBlock`` of the event
  dispatcher followed by the next event at least ``IDLE_MIN_S`` later (an application event filter sees
  every event); the dispatcher also "blocks" for zero-timeout polls while work is pending, which are not
  idle time. (``QAbstractEventDispatcher.awake`` cannot say when work started: the glib dispatcher emits it
  after dispatching.)

So a frame time is the GUI thread's busy stretch that ended in the frame, bounded by the previous frame: an
idle scene adds no frames (QML renders only on change), a steady 60 Hz animation gives its render cost, and
a 300 ms stall before a frame gives a 300 ms frame. The signals are connected directly, so the clock is read
on the emitting thread (the render thread's ``frameSwapped`` included), not when a queued slot happens to run.

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

from PySide6.QtCore import (
    Property,
    QAbstractEventDispatcher,
    QCoreApplication,
    QObject,
    QSettings,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtQuick import QQuickWindow

from desktop_qml.guard.alerts import AlertLog, Guard, Sink, Thresholds
from desktop_qml.guard.motion import MotionPreference
from desktop_qml.guard.stats import FrameWindow, WindowStats

IDLE_MIN_S = 0.001  # an aboutToBlock -> next event gap this long means the GUI thread really waited
# A change made during a busy stretch is often rendered only after a short wait for the window's update
# timer (one display interval at most): a frame starting this soon after a stretch that held no frame of its
# own still waited for that stretch.
STRETCH_GAP_S = 0.05


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
        self._dispatcher: QAbstractEventDispatcher | None = None
        self._busy_since: float | None = None
        self._blocked_at: float | None = None
        self._last_stretch: tuple[float, float] | None = None  # (start, end) of the last busy stretch
        self._last_swap: float | None = None
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
        direct = Qt.ConnectionType.DirectConnection
        self._dispatcher = QAbstractEventDispatcher.instance(window.thread())
        if self._dispatcher is not None:
            self._dispatcher.aboutToBlock.connect(self._gui_about_to_block, direct)
            QCoreApplication.instance().installEventFilter(self)
        self._connections = [
            window.afterAnimating.connect(self._frame_started, direct),
            window.frameSwapped.connect(self._frame_swapped, direct),
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
        if self._dispatcher is not None:
            try:
                self._dispatcher.aboutToBlock.disconnect(self._gui_about_to_block)
            except (RuntimeError, TypeError):
                pass
            app = QCoreApplication.instance()
            if app is not None:
                app.removeEventFilter(self)
        self._dispatcher = None
        self._busy_since = self._blocked_at = self._last_swap = None
        self._last_stretch = None
        self._window = None
        self._connections = []
        self.timer.stop()

    def _gui_about_to_block(self) -> None:
        now = self._blocked_at = self.clock()
        if self._busy_since is not None:
            self._last_stretch = (self._busy_since, now)

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt override
        blocked = self._blocked_at
        if blocked is not None:
            self._blocked_at = None
            now = self.clock()
            if now - blocked >= IDLE_MIN_S:
                self._busy_since = now  # the first event after a real wait: the GUI thread is busy from here
        return False

    def _frame_started(self) -> None:
        start = self.clock()
        if self._busy_since is not None:
            start = min(start, self._busy_since)
        stretch = self._last_stretch
        if (
            stretch is not None
            and start - stretch[1] <= STRETCH_GAP_S
            and (self._last_swap is None or stretch[0] >= self._last_swap)
        ):
            start = min(start, stretch[0])
        if self._last_swap is not None:
            start = max(start, self._last_swap)
        self._started_at = start

    def _frame_swapped(self) -> None:
        started, self._started_at = self._started_at, None
        now = self.clock()
        if started is not None:
            self.record_frame(now, (now - started) * 1000.0)
        self._last_swap = now

    def record_frame(self, swap_s: float, frame_ms: float) -> None:
        with self._lock:
            self.frames.add(swap_s, frame_ms)
        for listener in self.frame_listeners:
            listener(swap_s, frame_ms)

    # -- evaluation -----------------------------------------------------------------------------------------
    @Slot()
    def evaluate(self) -> list[dict]:
        now = self.clock()
        try:
            with self._lock:
                self._stats = self.frames.stats(now)
            events = self.guard.evaluate(self._stats, now_s=now, reduce_motion=self._reduce)
            self.statsChanged.emit()
        finally:
            # The guard's own work (log line, report to the daemon) is the instrument, not the scene: the
            # busy stretch it sits in is shortened by it, so the guard never measures itself into a breach.
            if self._busy_since is not None and self._busy_since <= now:
                self._busy_since += self.clock() - now
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
