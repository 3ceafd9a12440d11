"""The root object QML sees as ``backend``: owns the session and every screen's model, and moves the
session's events (background threads) onto the GUI thread in batches, a few times a second, so a burst of
fills costs one model update per batch instead of one per fill."""

from __future__ import annotations

import queue

from PySide6.QtCore import Property, QObject, QTimer, Signal, Slot

from desktop_qml.models.base import StateObject, prop
from desktop_qml.models.checklist import ChecklistModel
from desktop_qml.models.connection import ConnectionModel
from desktop_qml.models.dashboard import DashboardModel
from desktop_qml.models.license import LicenseModel
from desktop_qml.models.orders import OrdersModel
from desktop_qml.models.strategies import StrategiesModel
from desktop_qml.session import Backoff, Session

SCREENS = ("connection", "dashboard", "orders", "strategies", "checklist", "license", "settings")


class Backend(StateObject):
    changed = Signal()
    DEFAULTS = {"screen": "connection", "screenIndex": 0, "overlay": False}
    screen = prop(str, "screen", changed)
    screenIndex = prop(int, "screenIndex", changed)  # noqa: N815
    overlay = prop(bool, "overlay", changed)

    def __init__(
        self, parent=None, *, drain_ms: int = 100, poll_s: float = 1.0, backoff: Backoff | None = None
    ) -> None:
        super().__init__(parent)
        self.poll_s = poll_s
        self.backoff = backoff
        self.session: Session | None = None
        self.events: queue.SimpleQueue = queue.SimpleQueue()
        self._connection = ConnectionModel(self)
        self._dashboard = DashboardModel(self)
        self._orders = OrdersModel(self.client, self)
        self._checklist = ChecklistModel(self.client, lambda: self._connection.value("daemonMode"), self)
        self._license = LicenseModel(self)
        self._strategies = StrategiesModel(self.client, self)
        self._connection.profileReady.connect(self._start_session)
        self._checklist.liveStarted.connect(self._orders.allow_live)
        self._timer = QTimer(self)
        self._timer.setInterval(drain_ms)
        self._timer.timeout.connect(self.drain)
        self._timer.start()

    connection = Property(QObject, lambda self: self._connection, constant=True)
    dashboard = Property(QObject, lambda self: self._dashboard, constant=True)
    orders = Property(QObject, lambda self: self._orders, constant=True)
    checklist = Property(QObject, lambda self: self._checklist, constant=True)
    license = Property(QObject, lambda self: self._license, constant=True)
    strategies = Property(QObject, lambda self: self._strategies, constant=True)

    def client(self):
        return self.session.client if self.session is not None else None

    # -- navigation -----------------------------------------------------------------------------------------
    @Slot(str)
    def showScreen(self, name: str) -> None:  # noqa: N802
        if name in SCREENS:
            self._set(screen=name, screenIndex=SCREENS.index(name))
            if name == "strategies" and self.client() is not None:
                self._strategies.refresh()

    @Slot(bool)
    def setOverlay(self, on: bool) -> None:  # noqa: N802
        self._set(overlay=bool(on))

    # -- session --------------------------------------------------------------------------------------------
    def _sink(self, kind: str, payload: object) -> None:
        self.events.put((kind, payload))

    def _start_session(self) -> None:
        self.stop_session()
        profile = self._connection.profile
        if profile is None:
            return
        self.session = Session(profile, self._sink, poll_s=self.poll_s, backoff=self.backoff).start()

    def stop_session(self) -> None:
        if self.session is not None:
            self.session.stop()
            self.session = None

    @Slot()
    def drain(self) -> None:
        fills, telemetry = [], []
        while True:
            try:
                kind, payload = self.events.get_nowait()
            except queue.Empty:
                break
            if kind == "fill":
                fills.append(payload)
            elif kind == "telemetry":
                telemetry.append(payload)
            elif kind in ("status", "connected"):
                self._connection.on_status(payload, connected=kind == "connected")
                self._dashboard.on_status(payload)
                if kind == "connected" and self.value("screen") == "connection":
                    self.showScreen("dashboard")
            elif kind == "checklist":
                self._checklist.on_checklist(payload)
            elif kind == "connecting":
                self._connection.on_connecting(int(payload))
            elif kind == "disconnected":
                reason, delay = payload
                self._connection.on_disconnected(reason, delay)
        self._dashboard.on_telemetry(telemetry)
        if telemetry:
            self._orders.on_telemetry(telemetry)
        if fills:
            self._orders.on_fills(fills)

    def shutdown(self) -> None:
        self._timer.stop()
        self.stop_session()
