"""Sends UI guard events to the daemon (``ReportUiTelemetry``) off the GUI thread. No Qt.

Events queue in memory (bounded: the oldest are dropped first when the daemon is away for long) and a
background thread sends them in batches of at most 64. A daemon that is unreachable is retried with backoff;
a refusal (no operator role, a malformed event) drops that batch with its reason in ``last_error``: the
local JSONL file has the events either way.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

import grpc

from execution.proto.gen import oem_daemon_v1_pb2 as pb

MAX_BATCH = 64
RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})
_FIELDS = tuple(f.name for f in pb.UiTelemetryEvent.DESCRIPTOR.fields)

# () -> (stub, metadata) of the live connection, or None while there is none
Connection = Callable[[], "tuple[object, list[tuple[str, str]]] | None"]


def to_message(event: dict) -> pb.UiTelemetryEvent:
    return pb.UiTelemetryEvent(**{k: event[k] for k in _FIELDS if k in event})


class DaemonReporter:
    def __init__(
        self,
        connection: Connection,
        *,
        max_pending: int = 1000,
        timeout_s: float = 5.0,
        backoff_s: tuple[float, float] = (0.5, 30.0),
    ) -> None:
        self.connection = connection
        self.timeout_s = timeout_s
        self.backoff_s = backoff_s
        self._pending: deque[dict] = deque(maxlen=max_pending)
        self._cv = threading.Condition()
        self._busy = False
        self._closed = False
        self.sent = 0
        self.dropped = 0
        self.last_error = ""
        self.last_reply: pb.ReportUiTelemetryReply | None = None
        self._thread = threading.Thread(target=self._run, name="ui-guard-report", daemon=True)
        self._thread.start()

    def __call__(self, events: list[dict]) -> None:
        with self._cv:
            for event in events:
                if len(self._pending) == self._pending.maxlen:
                    self.dropped += 1
                self._pending.append(event)
            self._cv.notify_all()

    def flush(self, timeout_s: float = 10.0) -> bool:
        """True once everything queued so far was sent or refused (tests, the check command, shutdown)."""
        with self._cv:
            return self._cv.wait_for(lambda: not self._pending and not self._busy, timeout=timeout_s)

    def close(self, timeout_s: float = 2.0) -> None:
        self.flush(timeout_s)
        with self._cv:
            self._closed = True
            self._cv.notify_all()
        self._thread.join(timeout=timeout_s)

    def _run(self) -> None:
        delay = self.backoff_s[0]
        while True:
            with self._cv:
                self._cv.wait_for(lambda: self._pending or self._closed)
                if self._closed:
                    return
                batch = [self._pending.popleft() for _ in range(min(MAX_BATCH, len(self._pending)))]
                self._busy = True
            retry = False
            try:
                retry = not self._send(batch)
            finally:
                with self._cv:
                    if retry:
                        self._pending.extendleft(reversed(batch))
                    self._busy = False
                    self._cv.notify_all()
            if retry:
                with self._cv:
                    self._cv.wait_for(lambda: self._closed, timeout=delay)
                delay = min(delay * 2, self.backoff_s[1])
            else:
                delay = self.backoff_s[0]

    def _send(self, batch: list[dict]) -> bool:
        """True when the batch is done with (sent or refused), False to retry later."""
        conn = self.connection()
        if conn is None:
            self.last_error = "not connected to the daemon"
            return False
        stub, metadata = conn
        request = pb.ReportUiTelemetryRequest(events=[to_message(e) for e in batch])
        try:
            self.last_reply = stub.ReportUiTelemetry(request, metadata=metadata, timeout=self.timeout_s)
        except grpc.RpcError as exc:
            self.last_error = f"{exc.code().name}: {exc.details()}"
            if exc.code() in RETRYABLE:
                return False
            self.dropped += len(batch)
            return True
        self.sent += len(batch)
        self.last_error = ""
        return True
