"""The daemon's side of the desktop UI guard (``ReportUiTelemetry``, docs/daemon.md "UI telemetry").

Desktop clients report frame-time breaches, recoveries and a periodic sample per metric. The recorder:

- validates a whole request before writing anything (one-line reason, nothing half-recorded);
- appends each event, with who reported it (token subject, client certificate fingerprint) and when it was
  received, as one canonical JSON line to ``<data_dir>/audit/daemon_ui_telemetry.jsonl`` (fsynced before
  the RPC answers);
- judges every reported value against the daemon's own thresholds (the ``ui_guard`` section of the config
  it runs, defaults below), never against the threshold the client sent, so a client configured looser
  than the daemon cannot report itself healthy;
- keeps the state per client run (subject + client_id): the UI guard is healthy when at least one client
  reported within ``stale_after_s`` and no such client is over a threshold. That answer is the pre-live
  checklist's "UI guard healthy" row and the ``oem_ui_guard_healthy`` gauge.
"""

from __future__ import annotations

import fcntl
import math
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge

from audit.trust.canonical import canonical_bytes

EVENTS = ("breach", "recovery", "sample")
METRICS = ("p95_frame_ms", "jank_percent")
# The alarm thresholds when the config has no ui_guard section (docs/schemas/core_config.json bounds them).
DEFAULT_THRESHOLDS = {"p95_frame_ms": 150.0, "jank_percent": 1.0}
MAX_EVENTS_PER_CALL = 64
MAX_CLIENTS = 256  # client runs kept in memory; stale ones are forgotten first
MAX_VALUE = 1e6
MAX_FUTURE = timedelta(minutes=5)
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}\Z")
_VERSION = re.compile(r"^[\x21-\x7e]{1,64}\Z")
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z\Z")


class UiTelemetryRefused(ValueError):
    """A report that is not recorded at all; the message is one line."""


def thresholds_from_config(config: Mapping | None) -> dict[str, float]:
    """The ``ui_guard`` thresholds of a config (the defaults without the section). ValueError (one line) for a
    value that is not a number in (0, default]: a demo-mode config is not schema-checked, and a looser
    threshold would let an unhealthy client pass."""
    section = (config or {}).get("ui_guard") or {}
    if not isinstance(section, Mapping):
        raise ValueError("ui_guard must be a mapping")
    out = dict(DEFAULT_THRESHOLDS)
    for metric in METRICS:
        if metric not in section:
            continue
        value = section[metric]
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= out[metric]:
            raise ValueError(f"ui_guard.{metric} must be a number in (0, {out[metric]:g}] (got {value!r})")
        out[metric] = float(value)
    return out


def _number(event: Mapping, name: str, low: float, high: float) -> float:
    value = event[name]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise UiTelemetryRefused(f"{name} must be a finite number")
    if not low <= value <= high:
        raise UiTelemetryRefused(f"{name} {value} is outside [{low:g}, {high:g}]")
    return float(value)


def validate_event(event: Mapping, *, now: datetime) -> dict:
    """One reported event as a plain dict, or UiTelemetryRefused."""
    if event.get("event") not in EVENTS:
        raise UiTelemetryRefused(f"event must be one of {', '.join(EVENTS)}")
    if event.get("metric") not in METRICS:
        raise UiTelemetryRefused(f"metric must be one of {', '.join(METRICS)}")
    stamp = str(event.get("time", ""))
    if not _TIME.match(stamp):
        raise UiTelemetryRefused("time must be RFC 3339 UTC (YYYY-MM-DDTHH:MM:SS[.ffffff]Z)")
    try:
        when = datetime.fromisoformat(stamp[:-1]).replace(tzinfo=UTC)
    except ValueError:
        raise UiTelemetryRefused(f"time {stamp!r} is not a valid date") from None
    if when > now + MAX_FUTURE:
        raise UiTelemetryRefused(f"time {stamp} is in the future")
    if not _CLIENT_ID.match(str(event.get("client_id", ""))):
        raise UiTelemetryRefused("client_id must be 1-64 characters of [A-Za-z0-9._-]")
    if not _VERSION.match(str(event.get("client_version", ""))):
        raise UiTelemetryRefused("client_version must be 1-64 printable characters")
    return {
        "time": stamp,
        "event": event["event"],
        "metric": event["metric"],
        "value": _number(event, "value", 0.0, MAX_VALUE),
        "threshold": _number(event, "threshold", 0.0, MAX_VALUE),
        "window_s": _number(event, "window_s", 0.001, 86_400.0),
        "window_frames": int(_number(event, "window_frames", 0, 10**9)),
        "fps": _number(event, "fps", 0.0, 10_000.0),
        "reduce_motion": bool(event.get("reduce_motion", False)),
        "client_version": str(event["client_version"]),
        "client_id": str(event["client_id"]),
    }


@dataclass
class _ClientState:
    last_seen: float
    values: dict[str, float] = field(default_factory=dict)
    reduce_motion: bool = False


class UiTelemetryRecorder:
    def __init__(
        self,
        path: Path,
        *,
        thresholds: Mapping[str, float] | None = None,
        registry: CollectorRegistry | None = None,
        sync: bool = True,
        stale_after_s: float = 120.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self.thresholds = dict(thresholds or DEFAULT_THRESHOLDS)
        self.sync = sync
        self.stale_after_s = stale_after_s
        self.clock = clock
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, str], _ClientState] = {}
        r = registry or CollectorRegistry()
        self.healthy_gauge = Gauge(
            "oem_ui_guard_healthy",
            "1 when a desktop client reported recently and none is over a threshold",
            registry=r,
        )
        self.p95_gauge = Gauge(
            "oem_ui_frame_p95_seconds", "Worst p95 frame time among recently reporting clients", registry=r
        )
        self.jank_gauge = Gauge(
            "oem_ui_jank_ratio", "Worst jank share (0..1) among recently reporting clients", registry=r
        )
        self.events = Counter(
            "oem_ui_telemetry_events_total", "UI telemetry events received", ["event", "metric"], registry=r
        )
        self.clients_gauge = Gauge(
            "oem_ui_telemetry_clients",
            "Desktop clients that reported within the freshness window",
            registry=r,
        )

    # -- writes ---------------------------------------------------------------------------------------------
    def record(self, events: list[Mapping], *, subject: str, peer_fingerprint: str) -> int:
        if not events:
            raise UiTelemetryRefused("no events")
        if len(events) > MAX_EVENTS_PER_CALL:
            raise UiTelemetryRefused(f"at most {MAX_EVENTS_PER_CALL} events per call ({len(events)} sent)")
        now = self.clock()
        now_dt = datetime.fromtimestamp(now, UTC)
        checked = [validate_event(e, now=now_dt) for e in events]  # all or nothing
        received = now_dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        data = b"".join(
            canonical_bytes(
                {**e, "subject": subject, "peer_cert_sha256": peer_fingerprint, "received": received}
            )
            + b"\n"
            for e in checked
        )
        with self._lock:
            new_keys = {(subject, e["client_id"]) for e in checked} - self._clients.keys()
            if new_keys and len(self._clients) + len(new_keys) > MAX_CLIENTS:
                self._clients = self._fresh(now)
                if len(self._clients) + len(new_keys) > MAX_CLIENTS:
                    raise UiTelemetryRefused(f"more than {MAX_CLIENTS} desktop clients reporting at once")
            self._append(data)
            for e in checked:
                key = (subject, e["client_id"])
                state = self._clients.setdefault(key, _ClientState(now))
                state.last_seen = now
                state.values[e["metric"]] = e["value"]
                state.reduce_motion = e["reduce_motion"]
                self.events.labels(e["event"], e["metric"]).inc()
        self.refresh()
        return len(checked)

    def _append(self, data: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, data)
            if self.sync:
                os.fdatasync(fd)
        finally:
            os.close(fd)

    # -- reads ----------------------------------------------------------------------------------------------
    def _fresh(self, now: float) -> dict[tuple[str, str], _ClientState]:
        return {k: s for k, s in self._clients.items() if now - s.last_seen <= self.stale_after_s}

    def health(self) -> tuple[bool, str]:
        now = self.clock()
        with self._lock:
            fresh = self._fresh(now)
            if not fresh:
                if self._clients:
                    return (
                        False,
                        f"no desktop client reported UI telemetry in the last {self.stale_after_s:g} s",
                    )
                return False, "no UI telemetry received yet (run the desktop client)"
            over = []
            for (subject, client_id), state in sorted(fresh.items()):
                for metric in METRICS:
                    value = state.values.get(metric)
                    if value is not None and value > self.thresholds[metric]:
                        over.append(
                            f"{subject}/{client_id}: {metric} {value:g} over {self.thresholds[metric]:g}"
                        )
            if over:
                return False, "; ".join(over)
            worst = {m: max((s.values.get(m, 0.0) for s in fresh.values()), default=0.0) for m in METRICS}
            return True, (
                f"{len(fresh)} client(s): p95 {worst['p95_frame_ms']:.1f} ms, "
                f"jank {worst['jank_percent']:.2f} % (limits {self.thresholds['p95_frame_ms']:g} ms, "
                f"{self.thresholds['jank_percent']:g} %)"
            )

    def refresh(self) -> None:
        """Update the gauges (also called on the daemon's periodic tick, so a silent client goes stale)."""
        healthy, _detail = self.health()
        now = self.clock()
        with self._lock:
            fresh = self._fresh(now)
            p95 = max((s.values.get("p95_frame_ms", 0.0) for s in fresh.values()), default=0.0)
            jank = max((s.values.get("jank_percent", 0.0) for s in fresh.values()), default=0.0)
        self.healthy_gauge.set(1.0 if healthy else 0.0)
        self.p95_gauge.set(p95 / 1000.0)
        self.jank_gauge.set(jank / 100.0)
        self.clients_gauge.set(len(fresh))
