"""Strategies running inside the daemon (ListStrategies): state, stage, positions, P&L, orders, refusals and
the last error, with Start / Stop. The daemon decides: a stage the verified evidence does not allow is
refused there, and the refusal's reason code is shown as it came."""

from __future__ import annotations

from PySide6.QtCore import Property, QObject, Signal, Slot

from desktop_qml.client import ClientError
from desktop_qml.models.base import StateObject, prop
from desktop_qml.models.listmodel import RecordModel


class StrategiesModel(StateObject):
    changed = Signal()
    DEFAULTS = {"feed": "", "stale": "", "lastResult": "", "lastOk": True}
    feed = prop(str, "feed", changed)
    stale = prop(str, "stale", changed)
    lastResult = prop(str, "lastResult", changed)  # noqa: N815
    lastOk = prop(bool, "lastOk", changed)  # noqa: N815

    def __init__(self, client_getter, parent=None) -> None:
        super().__init__(parent)
        self._client = client_getter
        self._rows = RecordModel(
            ("name", "cls", "stage", "state", "positions", "pnl", "orders", "refused", "lastError"), self
        )

    rows = Property(QObject, lambda self: self._rows, constant=True)

    def _report(self, ok: bool, line: str) -> bool:
        self._set(lastOk=ok, lastResult=line)
        return ok

    @staticmethod
    def _row(info) -> dict:
        return {
            "name": info.name,
            "cls": info.strategy_class,
            "stage": info.stage,
            "state": info.state,
            "positions": ", ".join(
                f"{p.symbol} {p.qty:g}" + (" (stale)" if p.stale else "") for p in info.positions
            ),
            "pnl": info.pnl,
            "orders": info.orders,
            "refused": ", ".join(f"{k} {v}" for k, v in sorted(info.refused.items())),
            "lastError": info.last_error,
        }

    @Slot(result=bool)
    def refresh(self) -> bool:
        client = self._client()
        if client is None:
            return self._report(False, "not connected to the daemon")
        try:
            reply = client.strategies()
        except ClientError as exc:
            return self._report(False, str(exc))
        self._rows.set_rows([self._row(i) for i in reply.strategies])
        self._set(feed=reply.market_data_feed or "no market data feed", stale=", ".join(reply.stale_symbols))
        return True

    def _control(self, action: str, name: str) -> bool:
        client = self._client()
        if client is None:
            return self._report(False, "not connected to the daemon")
        call = client.start_strategy if action == "start" else client.stop_strategy
        try:
            info = call(name, f"{action} from the desktop client")
        except ClientError as exc:
            self.refresh()
            return self._report(False, f"{action} {name} refused: {exc}")
        self.refresh()
        return self._report(True, f"{name} {info.state} ({info.stage})")

    @Slot(str, result=bool)
    def start(self, name: str) -> bool:
        return self._control("start", name)

    @Slot(str, result=bool)
    def stop(self, name: str) -> bool:
        return self._control("stop", name)
