"""The pre-live checklist from GetPreLiveChecklist. "Start live" stays disabled until every item passes and
the daemon runs in live mode; the daemon refuses live orders anyway when the client is wrong."""

from __future__ import annotations

from PySide6.QtCore import Property, QObject, Signal, Slot

from desktop_qml.client import ClientError
from desktop_qml.models.base import StateObject, prop
from desktop_qml.models.listmodel import RecordModel


class ChecklistModel(StateObject):
    changed = Signal()
    liveStarted = Signal(bool)  # noqa: N815
    DEFAULTS = {"ready": False, "canStartLive": False, "missing": "", "message": "", "liveActive": False}
    ready = prop(bool, "ready", changed)
    canStartLive = prop(bool, "canStartLive", changed)  # noqa: N815
    missing = prop(str, "missing", changed)
    message = prop(str, "message", changed)
    liveActive = prop(bool, "liveActive", changed)  # noqa: N815

    def __init__(self, client_getter, mode_getter, parent=None) -> None:
        super().__init__(parent)
        self._client = client_getter
        self._mode = mode_getter
        self._items = RecordModel(("name", "ok", "detail"), self)

    items = Property(QObject, lambda self: self._items, constant=True)

    def on_checklist(self, reply) -> None:
        rows = [{"name": i.name, "ok": i.ok, "detail": i.detail} for i in reply.items]
        self._items.set_rows(rows)
        failing = [r["name"] for r in rows if not r["ok"]]
        ready = bool(reply.ready) and not failing
        mode = self._mode()
        missing = [f"missing: {', '.join(failing)}"] if failing else []
        if mode != "live":
            missing.append(f"the daemon runs in {mode or 'an unknown'} mode: live needs --mode live")
        can_start = ready and mode == "live"
        self._set(ready=ready, canStartLive=can_start, missing="\n".join(missing), message="")
        if not can_start and self._v["liveActive"]:
            self._set(liveActive=False)
            self.liveStarted.emit(False)

    @Slot(result=bool)
    def refresh(self) -> bool:
        client = self._client()
        if client is None:
            self._set(message="not connected to the daemon")
            return False
        try:
            self.on_checklist(client.checklist())
        except ClientError as exc:
            self._set(message=str(exc))
            return False
        return True

    @Slot(result=bool)
    def startLive(self) -> bool:  # noqa: N802
        if not self.refresh() or not self._v["canStartLive"]:
            self._set(message="live stays locked: " + (self._v["missing"].replace("\n", "; ") or "not ready"))
            return False
        self._set(liveActive=True, message="live trading enabled on the order ticket")
        self.liveStarted.emit(True)
        return True
