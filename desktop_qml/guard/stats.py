"""Frame-time statistics over a sliding time window. Pure Python: no Qt.

A frame time is what ``monitor.FrameMonitor`` measures for one rendered frame: from the start of the
frame's GUI-thread work (``QQuickWindow.afterAnimating``) to ``frameSwapped``. Over the last ``window_s``
seconds of swaps the window reports:

- ``fps``: frames swapped per second of the window (of the time since the first frame, until a window has
  passed);
- ``p95_ms``: the 95th percentile frame time, nearest rank (the smallest value that at least 95 % of the
  frames do not exceed);
- ``jank_percent``: the share of frames that took longer than twice the display interval (a frame that
  misses two refreshes is visible as a stutter).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

DEFAULT_REFRESH_HZ = 60.0


@dataclass(frozen=True)
class WindowStats:
    frames: int
    span_s: float
    fps: float
    p95_ms: float
    max_ms: float
    jank_percent: float
    jank_frames: int
    jank_limit_ms: float


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of ``values`` (0 for none); ``q`` in (0, 100]."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[rank - 1]


class FrameWindow:
    def __init__(self, window_s: float, *, refresh_hz: float = DEFAULT_REFRESH_HZ) -> None:
        if not window_s > 0:
            raise ValueError("window_s must be positive")
        self.window_s = float(window_s)
        self.set_refresh_rate(refresh_hz)
        self._frames: deque[tuple[float, float]] = deque()  # (swap time s, frame time ms)
        self._first: float | None = None
        self.total_frames = 0

    def set_refresh_rate(self, refresh_hz: float) -> None:
        # a platform that reports no rate (0, NaN) is taken as 60 Hz
        hz = refresh_hz if refresh_hz and math.isfinite(refresh_hz) and refresh_hz > 0 else DEFAULT_REFRESH_HZ
        self.display_interval_ms = 1000.0 / hz
        self.jank_limit_ms = 2.0 * self.display_interval_ms

    def add(self, swap_s: float, frame_ms: float) -> None:
        if not math.isfinite(frame_ms) or frame_ms < 0:
            raise ValueError(f"frame time must be a finite, non-negative number of ms (got {frame_ms!r})")
        if self._first is None:
            self._first = swap_s
        self._frames.append((swap_s, frame_ms))
        self.total_frames += 1
        self._expire(swap_s)

    def _expire(self, now_s: float) -> None:
        horizon = now_s - self.window_s
        while self._frames and self._frames[0][0] <= horizon:
            self._frames.popleft()

    def stats(self, now_s: float) -> WindowStats:
        self._expire(now_s)
        times = [ms for _t, ms in self._frames]
        since_first = now_s - self._first if self._first is not None else 0.0
        span = min(self.window_s, since_first)
        n = len(times)
        jank = sum(1 for ms in times if ms > self.jank_limit_ms)
        return WindowStats(
            frames=n,
            span_s=span,
            fps=n / span if span > 0 else 0.0,
            p95_ms=percentile(times, 95.0),
            max_ms=max(times, default=0.0),
            jank_percent=100.0 * jank / n if n else 0.0,
            jank_frames=jank,
            jank_limit_ms=self.jank_limit_ms,
        )
