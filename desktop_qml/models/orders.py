"""Orders: the ticket (submit / cancel), this client's open orders, fills from StreamFills, every refusal
with the daemon's reason code, the kill switch (two steps: request, then confirm) and, for admins, the
trading state."""

from __future__ import annotations

import secrets

from PySide6.QtCore import Property, QObject, Signal, Slot

from desktop_qml.client import STATE_NAMES, ClientError
from desktop_qml.models.base import StateObject, prop
from desktop_qml.models.listmodel import RecordModel

OPEN_STATUSES = ("NEW", "ACKED", "PARTIALLY_FILLED")
FILLS_KEPT = 500


def new_client_order_id() -> str:
    return f"dq-{secrets.token_hex(8)}"


class OrdersModel(StateObject):
    changed = Signal()
    DEFAULTS = {
        "lastResult": "",  # one line: what the last action did or why it was refused
        "lastReason": "",  # the daemon's reason code of the last refusal ("" when accepted)
        "lastOk": True,
        "killPending": False,
        "stage": "",  # "" = the daemon's mode; "live" only after the pre-live checklist passed
        "fillsSeen": 0,
    }
    lastResult = prop(str, "lastResult", changed)  # noqa: N815
    lastReason = prop(str, "lastReason", changed)  # noqa: N815
    lastOk = prop(bool, "lastOk", changed)  # noqa: N815
    killPending = prop(bool, "killPending", changed)  # noqa: N815
    stage = prop(str, "stage", changed)
    fillsSeen = prop(int, "fillsSeen", changed)  # noqa: N815

    def __init__(self, client_getter, parent=None) -> None:
        super().__init__(parent)
        self._client = client_getter
        self._open_model = RecordModel(
            ("cid", "symbol", "side", "qty", "filled", "status", "venue", "stage", "reason"), self
        )
        self._fills_model = RecordModel(
            ("fill_id", "cid", "symbol", "side", "qty", "price", "fee", "venue", "owner", "ts"), self
        )
        self._fills_seen = 0

    openOrders = Property(QObject, lambda self: self._open_model, constant=True)  # noqa: N815
    fillsModel = Property(QObject, lambda self: self._fills_model, constant=True)  # noqa: N815

    def _report(self, ok: bool, line: str, reason: str = "") -> bool:
        self._set(lastOk=ok, lastResult=line, lastReason=reason)
        return ok

    def _connected(self):
        client = self._client()
        if client is None:
            raise ClientError("not connected to the daemon")
        return client

    def _track(self, reply, symbol: str, side: str, qty: float) -> None:
        row = {
            "cid": reply.client_order_id,
            "symbol": symbol,
            "side": side,
            "qty": qty,
            "filled": reply.filled_qty,
            "status": reply.status,
            "venue": reply.venue,
            "stage": reply.stage,
            "reason": reply.reason,
        }
        if reply.status in OPEN_STATUSES:
            if not self._open_model.update_where("cid", row["cid"], row):
                self._open_model.prepend([row], 1000)
        else:
            self._open_model.remove_where("cid", row["cid"])

    # -- actions --------------------------------------------------------------------------------------------
    @Slot(str, str, float, str, float, result=bool)
    def submit(
        self, symbol: str, side: str, qty: float, order_type: str = "market", limit_price: float = 0.0
    ) -> bool:
        cid = new_client_order_id()
        try:
            reply = self._connected().submit(
                client_order_id=cid,
                symbol=symbol.strip(),
                side=side.lower(),
                qty=qty,
                order_type=order_type.lower() or "market",
                limit_price=limit_price,
                stage=self._v["stage"],
            )
        except ClientError as exc:
            return self._report(False, f"{cid} refused: {exc}", exc.code)
        if not reply.accepted:
            detail = f": {reply.message}" if reply.message else ""
            return self._report(False, f"{cid} refused [{reply.reason}]{detail}", reply.reason)
        self._track(reply, symbol.strip(), side.lower(), qty)
        return self._report(
            True, f"{cid} {reply.status} on {reply.venue or '-'} ({reply.filled_qty:g}/{qty:g} filled)"
        )

    @Slot(str, result=bool)
    def cancel(self, cid: str) -> bool:
        try:
            reply = self._connected().cancel(cid)
        except ClientError as exc:
            return self._report(False, f"cancel {cid} refused: {exc}", exc.code)
        if not reply.accepted:
            if reply.status and reply.status not in OPEN_STATUSES:
                self._open_model.remove_where("cid", cid)
            return self._report(
                False, f"cancel {cid} refused [{reply.reason}] {reply.message}".strip(), reply.reason
            )
        self._open_model.remove_where("cid", cid)
        return self._report(True, f"{cid} {reply.status or 'CANCELLED'}")

    @Slot()
    def requestKillSwitch(self) -> None:  # noqa: N802
        self._set(killPending=True)

    @Slot()
    def abortKillSwitch(self) -> None:  # noqa: N802
        self._set(killPending=False)

    @Slot(str, result=bool)
    def confirmKillSwitch(self, reason: str = "") -> bool:  # noqa: N802
        if not self._v["killPending"]:
            return self._report(False, "kill switch: confirm it first")
        self._set(killPending=False)
        try:
            reply = self._connected().kill_switch(reason.strip())
        except ClientError as exc:
            return self._report(False, f"kill switch refused: {exc}", exc.code)
        for row in self._open_model.rows:
            self._open_model.remove_where("cid", row["cid"])
        state = STATE_NAMES.get(reply.state, "UNKNOWN")
        return self._report(True, f"kill switch: {state}, {reply.cancelled} cancelled, {reply.failed} failed")

    @Slot(str, str, result=bool)
    def setTradingState(self, state: str, reason: str = "") -> bool:  # noqa: N802
        try:
            reply = self._connected().set_trading_state(state.upper(), reason.strip())
        except ClientError as exc:
            return self._report(False, f"trading state refused: {exc}", exc.code)
        return self._report(True, f"trading state {STATE_NAMES.get(reply.state, '?')}: {reply.reason}")

    def allow_live(self, allowed: bool) -> None:
        self._set(stage="live" if allowed else "")

    # -- streams --------------------------------------------------------------------------------------------
    def on_fills(self, fills: list) -> None:
        if not fills:
            return
        rows = [
            {
                "fill_id": f.fill_id,
                "cid": f.client_order_id,
                "symbol": f.symbol,
                "side": f.side,
                "qty": f.qty,
                "price": f.price,
                "fee": f.fee,
                "venue": f.venue,
                "owner": f.owner,
                "ts": f.ts,
            }
            for f in fills
        ]
        self._fills_model.prepend(rows, FILLS_KEPT)
        self._fills_seen += len(rows)
        for f in fills:
            for row in self._open_model.rows:
                if row["cid"] == f.client_order_id:
                    filled = row["filled"] + f.qty
                    if filled + 1e-12 >= row["qty"]:
                        self._open_model.remove_where("cid", row["cid"])
                    else:
                        self._open_model.update_where(
                            "cid", row["cid"], {"filled": filled, "status": "PARTIALLY_FILLED"}
                        )
        self._set(fillsSeen=self._fills_seen)

    def on_telemetry(self, events: list) -> None:
        for event in events:
            if event.kind in ("terminal", "cancel") and event.client_order_id:
                status = str(event.data.get("status", ""))
                if status and status not in OPEN_STATUSES:
                    self._open_model.remove_where("cid", event.client_order_id)
