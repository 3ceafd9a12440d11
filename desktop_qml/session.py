"""A connected session: status polling and the fill / telemetry streams on background threads, with
reconnects on a capped exponential backoff. No Qt: events go to ``sink(kind, payload)``, which the Qt side
drains on its own thread (``desktop_qml.models.backend``).

Fills resume: the session keeps the sequence number of the last fill it saw (``last_fill_seq``; on the very
first connection, the daemon's fill head at that moment) and every reconnect -- after a network drop or a
daemon restart -- asks StreamFills for what came after it, so no fill is missed and none is shown twice.

Event kinds: ``connecting`` (attempt number), ``connected`` (StatusReply), ``status`` (StatusReply),
``checklist`` (PreLiveChecklist), ``fill`` (Fill), ``telemetry`` (``Telemetry``), ``disconnected``
((one-line reason, seconds to the retry)).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from desktop_qml.client import ClientError, DaemonClient
from desktop_qml.profile import Profile

Sink = Callable[[str, object], None]


@dataclass(frozen=True)
class Telemetry:
    """A TelemetryEvent with its ``data_json`` already parsed (on the stream thread, not the GUI thread)."""

    kind: str
    ts: float
    client_order_id: str
    venue: str
    data: dict = field(default_factory=dict)


def parsed(events) -> Iterator[Telemetry]:
    for event in events:
        try:
            data = json.loads(event.data_json) if event.data_json else {}
        except ValueError:
            data = {}
        yield Telemetry(
            event.kind, event.ts, event.client_order_id, event.venue, data if isinstance(data, dict) else {}
        )


class Backoff:
    """0.5 s, 1 s, 2 s ... capped at ``cap`` seconds; ``reset()`` after a good connection."""

    def __init__(self, initial: float = 0.5, factor: float = 2.0, cap: float = 30.0) -> None:
        self.initial, self.factor, self.cap = initial, factor, cap
        self._next = initial

    def next(self) -> float:
        delay = self._next
        self._next = min(self._next * self.factor, self.cap)
        return delay

    def reset(self) -> None:
        self._next = self.initial


class Session:
    def __init__(
        self,
        profile: Profile,
        sink: Sink,
        *,
        poll_s: float = 1.0,
        backoff: Backoff | None = None,
        all_fills: bool = False,
    ) -> None:
        self.profile = profile
        self.sink = sink
        self.poll_s = poll_s
        self.backoff = backoff or Backoff()
        self.all_fills = all_fills
        self.client: DaemonClient | None = None
        self.last_fill_seq: int | None = None
        self._stop = threading.Event()
        self._broken = threading.Event()
        self._broken_reason = ""
        self._thread = threading.Thread(target=self._run, name="oem-desktop-session", daemon=True)

    def start(self) -> Session:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._broken.set()
        client = self.client
        if client is not None:
            client.close()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    # -- background ----------------------------------------------------------------------------------------
    def _pump(self, kind: str, stream) -> None:
        try:
            for item in stream:
                self.sink(kind, item)
            reason = f"the daemon closed the {kind} stream"
        except ClientError as exc:
            reason = str(exc)
        except Exception as exc:  # noqa: BLE001 - a broken stream reconnects, never kills the client
            reason = f"{kind} stream failed: {exc}"
        if not self._stop.is_set():
            self._broken_reason = reason
            self._broken.set()

    def _fills(self, stream) -> Iterator:
        for fill in stream:
            if fill.seq:
                self.last_fill_seq = max(self.last_fill_seq or 0, fill.seq)
            yield fill

    def _connect_once(self, attempt: int) -> None:
        self.sink("connecting", attempt)
        client = DaemonClient(self.profile)
        self.client = client
        self._broken.clear()
        try:
            status = client.status()
            self.backoff.reset()
            self.sink("connected", status)
            self.sink("checklist", client.checklist())
            if self.last_fill_seq is None:
                try:
                    self.last_fill_seq = client.fill_head()
                except ClientError as exc:
                    if exc.code != "UNIMPLEMENTED":  # a daemon older than fill sequence numbers: live only
                        raise
            fills = self._fills(client.fills(self.all_fills, since_seq=self.last_fill_seq))
            streams = [("fill", fills), ("telemetry", parsed(client.telemetry()))]
            for kind, stream in streams:
                threading.Thread(target=self._pump, args=(kind, stream), daemon=True).start()
            while not self._broken.wait(self.poll_s):
                self.sink("status", client.status())
                self.sink("checklist", client.checklist())
            if not self._stop.is_set():
                raise ClientError(self._broken_reason or "connection lost")
        finally:
            self.client = None
            client.close()

    def _run(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            attempt += 1
            try:
                self._connect_once(attempt)
            except ClientError as exc:
                if self._stop.is_set():
                    return
                delay = self.backoff.next()
                self.sink("disconnected", (str(exc), delay))
                self._stop.wait(delay)
            except Exception as exc:  # noqa: BLE001 - keep retrying; the reason is shown
                delay = self.backoff.next()
                self.sink("disconnected", (f"unexpected error: {exc}", delay))
                self._stop.wait(delay)
