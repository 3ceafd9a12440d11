"""Injectable clocks: the router, the risk engine and the venues read time only through one of these."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds (monotonic for intervals; the system clock's epoch is not assumed)."""

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """Wall time for timestamps, ``time.sleep`` for back-off."""

    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class ManualClock:
    """A test clock: time moves only when ``advance`` or ``sleep`` is called."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = float(start)

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock never goes backwards")
        self._now += seconds

    def sleep(self, seconds: float) -> None:
        self.advance(max(0.0, seconds))
