"""The dashboard and its overlay: telemetry (StreamTelemetry) folded into per-venue latency percentiles,
fill ratio and rejects by reason, plus the daemon's status (venues, risk, gates, license)."""

from __future__ import annotations

import time
from collections import Counter, deque

from PySide6.QtCore import Property, QObject, Signal

from desktop_qml.client import STATE_NAMES
from desktop_qml.models.base import StateObject, prop
from desktop_qml.models.listmodel import RecordModel

LATENCY_WINDOW = 2000  # samples per venue the percentiles are taken over
RATE_WINDOW_S = 10.0  # fills per second over the last ten seconds (daemon and client share the clock)


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list (0 for an empty one)."""
    if not sorted_values:
        return 0.0
    rank = max(1, -(-int(q * len(sorted_values) * 1000) // 1000))  # ceil(q * n), stable for q*n integral
    return sorted_values[min(rank, len(sorted_values)) - 1]


class DashboardModel(StateObject):
    changed = Signal()
    DEFAULTS = {
        "mode": "",
        "liveUnlocked": False,
        "liveReasons": "",
        "riskState": "",
        "riskReason": "",
        "licenseValid": False,
        "licenseSummary": "",
        "licenseDaysLeft": -1.0,
        "licenseExpires": "",
        "fillRatio": 0.0,
        "fills": 0,
        "fillsPerSecond": 0.0,
        "terminal": 0,
        "rejectsTotal": 0,
        "openOrders": 0,
        "configSha": "",
        "gateLine": "",
        "telemetryEvents": 0,
    }
    mode = prop(str, "mode", changed)
    liveUnlocked = prop(bool, "liveUnlocked", changed)  # noqa: N815
    liveReasons = prop(str, "liveReasons", changed)  # noqa: N815
    riskState = prop(str, "riskState", changed)  # noqa: N815
    riskReason = prop(str, "riskReason", changed)  # noqa: N815
    licenseValid = prop(bool, "licenseValid", changed)  # noqa: N815
    licenseSummary = prop(str, "licenseSummary", changed)  # noqa: N815
    licenseDaysLeft = prop(float, "licenseDaysLeft", changed)  # noqa: N815
    licenseExpires = prop(str, "licenseExpires", changed)  # noqa: N815
    fillRatio = prop(float, "fillRatio", changed)  # noqa: N815
    fills = prop(int, "fills", changed)
    fillsPerSecond = prop(float, "fillsPerSecond", changed)  # noqa: N815
    terminal = prop(int, "terminal", changed)
    rejectsTotal = prop(int, "rejectsTotal", changed)  # noqa: N815
    openOrders = prop(int, "openOrders", changed)  # noqa: N815
    configSha = prop(str, "configSha", changed)  # noqa: N815
    gateLine = prop(str, "gateLine", changed)  # noqa: N815
    telemetryEvents = prop(int, "telemetryEvents", changed)  # noqa: N815

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._latency_model = RecordModel(("venue", "p50_ms", "p99_ms", "samples"), self)
        self._rejects_model = RecordModel(("reason", "count"), self)
        self._venues_model = RecordModel(("name", "up", "circuit", "detail"), self)
        self._gates_model = RecordModel(("name", "passed", "missing", "deciding"), self)
        self._samples: dict[str, deque] = {}
        self._rejects: Counter = Counter()
        self._circuits: dict[str, str] = {}
        self._filled = 0
        self._terminal = 0
        self._events = 0
        self._fills = 0
        self._fill_times: deque = deque(maxlen=100_000)

    latency = Property(QObject, lambda self: self._latency_model, constant=True)
    rejects = Property(QObject, lambda self: self._rejects_model, constant=True)
    venues = Property(QObject, lambda self: self._venues_model, constant=True)
    gates = Property(QObject, lambda self: self._gates_model, constant=True)

    # -- status ---------------------------------------------------------------------------------------------
    def on_status(self, status) -> None:
        gates = [
            {
                "name": g.name,
                "passed": g.passed,
                "missing": "; ".join(g.missing),
                "deciding": g.deciding_entry or "no deciding entry",
            }
            for g in status.gates
        ]
        self._gates_model.set_rows(gates)
        venues = []
        for v in status.venues:
            self._circuits[v.name] = v.circuit
            venues.append({"name": v.name, "up": v.up, "circuit": v.circuit, "detail": v.detail})
        self._venues_model.set_rows(venues)
        lic = status.license
        passed = [g for g in status.gates if g.passed]
        stage = {"demo_exit": "paper", "paper_exit": "live-ready", "live_go": "live"}
        if status.live_unlocked:
            gate_line = "live unlocked"
        elif passed:
            last = passed[-1]
            reached = stage.get(last.name, last.name)
            gate_line = f"{status.mode}: {last.name} passed ({reached}) by {last.deciding_entry}"
        else:
            gate_line = f"{status.mode}: no gate passed yet"
        self._set(
            mode=status.mode,
            liveUnlocked=status.live_unlocked,
            liveReasons="; ".join(status.live_reasons),
            riskState=STATE_NAMES.get(status.trading_state, "UNKNOWN"),
            riskReason=status.trading_state_reason,
            licenseValid=lic.valid,
            licenseSummary=lic.summary,
            licenseDaysLeft=float(lic.days_left) if lic.expires_at else -1.0,
            licenseExpires=lic.expires_at,
            openOrders=status.open_orders,
            configSha=status.config_sha384,
            gateLine=gate_line,
        )

    # -- telemetry ------------------------------------------------------------------------------------------
    def on_telemetry(self, events: list) -> None:
        """Fold a batch in; an empty batch still lets the fill rate decay."""
        if not events and not self._fill_times:
            return
        touched = False
        for event in events:
            self._events += 1
            data = event.data
            kind = event.kind
            if kind in ("submitted", "resolved") and "latency_s" in data:
                venue = event.venue or "-"
                self._samples.setdefault(venue, deque(maxlen=LATENCY_WINDOW)).append(float(data["latency_s"]))
                touched = True
            elif kind in ("risk_reject", "venue_reject"):
                self._rejects[str(data.get("reason") or "UNKNOWN")] += 1
            elif kind == "terminal":
                self._terminal += 1
                self._filled += data.get("status") == "FILLED"
            elif kind == "fill":
                self._fills += 1
                self._fill_times.append(event.ts)
            elif kind == "circuit" and event.venue:
                self._circuits[event.venue] = str(data.get("state", ""))
                self._venues_model.update_where("name", event.venue, {"circuit": self._circuits[event.venue]})
            elif kind == "trading_state":
                self._set(
                    riskState=str(data.get("state", "")).upper(), riskReason=str(data.get("reason", ""))
                )
        if touched:
            rows = []
            for venue, samples in sorted(self._samples.items()):
                ordered = sorted(samples)
                rows.append(
                    {
                        "venue": venue,
                        "p50_ms": round(percentile(ordered, 0.50) * 1000, 3),
                        "p99_ms": round(percentile(ordered, 0.99) * 1000, 3),
                        "samples": len(ordered),
                    }
                )
            self._latency_model.set_rows(rows)
        self._rejects_model.set_rows([{"reason": r, "count": n} for r, n in sorted(self._rejects.items())])
        horizon = time.time() - RATE_WINDOW_S
        while self._fill_times and self._fill_times[0] < horizon:
            self._fill_times.popleft()
        self._set(
            fillsPerSecond=len(self._fill_times) / RATE_WINDOW_S,
            fillRatio=(self._filled / self._terminal) if self._terminal else 0.0,
            terminal=self._terminal,
            fills=self._fills,
            rejectsTotal=sum(self._rejects.values()),
            telemetryEvents=self._events,
        )
