"""Breach / recovery / sample events of the UI guard and where they go. Pure Python: no Qt.

``Guard.evaluate(stats, ...)`` turns window statistics into events (schema
``docs/schemas/ui_telemetry_alert_v1.json``, one JSON object per line):

- ``breach`` the first time a metric goes over its threshold, ``recovery`` the first time it is back at or
  under ``RECOVER_AT`` of it (a value hovering at the threshold would otherwise flap breach/recovery every
  second); nothing in between, so a long breach is one line, not one per frame;
- ``sample`` of every metric once per window, so the log proves how long the guard watched and the daemon
  sees a healthy client as healthy (not as silent).

A breach needs a window of at least ``min_frames`` frames: a handful of frames (start-up, an idle scene) says
nothing about smoothness. A recovery needs none: once the slow frames have left the window (an idle scene
renders nothing), the last ``window_s`` seconds were not slow.

Events go to every sink (``AlertLog`` for the JSONL file, ``desktop_qml.guard.report.DaemonReporter`` for
``ReportUiTelemetry``); a failing sink never stops the others or the UI.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from desktop_qml.guard.stats import WindowStats

SCHEMA = "oem/ui-telemetry-alert/v1"
LOG_NAME = "ui_telemetry_alerts.jsonl"
METRICS = ("p95_frame_ms", "jank_percent")
RECOVER_AT = 0.8  # a breached metric recovers at or under this fraction of its threshold
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Thresholds:
    """The ``ui_guard`` section of config/core.yaml (the schema caps p95 at 150 ms and jank at 1 %)."""

    p95_frame_ms: float = 150.0
    jank_percent: float = 1.0
    window_s: float = 10.0
    min_frames: int = 30

    @classmethod
    def from_mapping(cls, section: Mapping | None) -> Thresholds:
        section = section or {}
        defaults = cls()
        return cls(
            p95_frame_ms=float(section.get("p95_frame_ms", defaults.p95_frame_ms)),
            jank_percent=float(section.get("jank_percent", defaults.jank_percent)),
            window_s=float(section.get("window_s", defaults.window_s)),
            min_frames=int(section.get("min_frames", defaults.min_frames)),
        )

    def limit(self, metric: str) -> float:
        return {"p95_frame_ms": self.p95_frame_ms, "jank_percent": self.jank_percent}[metric]


def load_thresholds(config_path: Path | None = None) -> Thresholds:
    """Thresholds from the (schema-checked) product config; ConfigError (one line) when it is invalid."""
    from audit.trust import paths
    from audit.trust.core_config import load_config

    config = load_config(Path(config_path) if config_path else paths.DEFAULT_CONFIG_PATH)
    return Thresholds.from_mapping(config.get("ui_guard"))


def default_log_path() -> Path:
    """``<OEM_DATA_DIR>/logs/ui_telemetry_alerts.jsonl``: beside the evidence the live gate records."""
    from audit.trust import paths

    return paths.data_dir() / "logs" / LOG_NAME


def utc_text(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_client_id() -> str:
    return "ui-" + secrets.token_hex(6)


class AlertLog:
    """Append-only JSONL: one event per line, written with one ``write`` under an advisory lock."""

    def __init__(self, path: Path, *, sync: bool = False) -> None:
        self.path = Path(path)
        self.sync = sync

    def __call__(self, events: list[dict]) -> None:
        if not events:
            return
        data = b"".join(
            json.dumps(e, sort_keys=True, separators=(",", ":"), allow_nan=False).encode() + b"\n"
            for e in events
        )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, data)
            if self.sync:
                os.fsync(fd)
        finally:
            os.close(fd)


Sink = Callable[[list[dict]], None]


class Guard:
    def __init__(
        self,
        thresholds: Thresholds,
        *,
        client_version: str,
        client_id: str | None = None,
        sinks: Iterable[Sink] = (),
    ) -> None:
        self.thresholds = thresholds
        self.client_version = client_version
        self.client_id = client_id or new_client_id()
        self.sinks: list[Sink] = list(sinks)
        self.breached: dict[str, bool] = dict.fromkeys(METRICS, False)
        self._last_sample_s: float | None = None
        self.emitted: dict[str, int] = dict.fromkeys(("breach", "recovery", "sample"), 0)

    @property
    def healthy(self) -> bool:
        return not any(self.breached.values())

    def _event(self, kind: str, metric: str, value: float, stats: WindowStats, when, reduce_motion) -> dict:
        return {
            "schema": SCHEMA,
            "time": utc_text(when),
            "event": kind,
            "metric": metric,
            "value": round(value, 3),
            "threshold": self.thresholds.limit(metric),
            "window_s": round(stats.span_s, 3),
            "window_frames": stats.frames,
            "fps": round(stats.fps, 2),
            "reduce_motion": bool(reduce_motion),
            "client_version": self.client_version,
            "client_id": self.client_id,
        }

    def evaluate(
        self, stats: WindowStats, *, now_s: float, when: datetime | None = None, reduce_motion: bool = False
    ) -> list[dict]:
        """Events for this window (possibly none), already handed to every sink."""
        when = when or datetime.now(UTC)
        values = {"p95_frame_ms": stats.p95_ms, "jank_percent": stats.jank_percent}
        events: list[dict] = []
        for metric in METRICS:
            limit = self.thresholds.limit(metric)
            if self.breached[metric]:
                # the slow frames have left the window (or the rest are fast): a recovery needs no minimum
                change = values[metric] <= limit * RECOVER_AT
            else:
                change = stats.frames >= self.thresholds.min_frames and values[metric] > limit
            if change:
                self.breached[metric] = not self.breached[metric]
                kind = "breach" if self.breached[metric] else "recovery"
                events.append(self._event(kind, metric, values[metric], stats, when, reduce_motion))
        if self._last_sample_s is None:
            self._last_sample_s = now_s
        elif now_s - self._last_sample_s >= self.thresholds.window_s:
            self._last_sample_s = now_s
            events.extend(self._event("sample", m, values[m], stats, when, reduce_motion) for m in METRICS)
        self.emit(events)
        return events

    def emit(self, events: list[dict]) -> None:
        if not events:
            return
        for event in events:
            self.emitted[event["event"]] += 1
        for sink in self.sinks:
            try:
                sink(events)
            except Exception:  # noqa: BLE001 - a broken sink must not take the UI (or the other sinks) down
                log.exception("UI guard sink %r failed", sink)
