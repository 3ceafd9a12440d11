"""Append-only JSONL audit of every access decision: ``<data_dir>/audit/daemon_access.jsonl``.

One canonical JSON object per line (ts, subject, method, decision, reason, peer certificate fingerprint,
token id), written with one ``write`` under an advisory lock shared with other processes and fsynced
before the RPC proceeds or is refused. Group commit: concurrent RPCs share one ``fdatasync`` (the first
waiter syncs everything written so far; the others find their line already durable) - each caller still
returns only once its own line is on disk.

Deferred lines (``record(..., defer=True)``, the order path): the line is written before the RPC proceeds
and synced by a background thread while the handler works (when that thread is idle; else by whoever needs
it first), and the order journal's fsync leader waits for it (``wait_durable(mark)``, mark taken when it
fixes its target) before it fsyncs the journal, so the line is on disk before the order's first journal
record is, hence before any venue outside the daemon sees the order (an in-process paper venue may see it
first: its NEW and fills share one later commit); whatever the handler did, ``wait_durable(ticket)`` before
the reply (a no-op when that already covered it).
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from audit.trust.canonical import fast_canonical_bytes
from audit.trust.keyring import format_time


class AccessLog:
    def __init__(self, path: Path, *, sync: bool = True) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.sync = sync
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._lock_fd = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        self._mutex = threading.Lock()
        self._sync_lock = threading.Lock()
        self._written = 0  # lines written (not necessarily durable)
        self._durable = 0  # lines known to be on disk
        self._failed: OSError | None = None  # after a failed fdatasync nothing more is ever called durable
        # Deferred lines are synced eagerly by a background thread, so that by the time the journal's
        # leader needs them (after the router's work) they are usually on disk already; the leader still
        # waits for them before its own fsync.
        self._kick = threading.Event()
        self._syncer: threading.Thread | None = None
        self._syncer_idle = False  # waiting for a kick (not inside an fdatasync)
        self._closed = False

    def record(
        self,
        *,
        method: str,
        decision: str,
        reason: str,
        subject: str = "",
        peer_fingerprint: str = "",
        jti: str = "",
        defer: bool = False,
    ) -> int:
        """Append one line; returns its ticket. Durable on return unless ``defer`` (see the module doc)."""
        # every value is a string: json.dumps(sort_keys) then gives exactly the RFC 8785 bytes, faster
        entry = {
            "ts": format_time(datetime.now(UTC)),
            "subject": subject,
            "method": method,
            "decision": decision,
            "reason": reason,
            "peer_cert_sha256": peer_fingerprint,
            "jti": jti,
        }
        try:
            line = fast_canonical_bytes(entry)
        except UnicodeEncodeError:  # a lone surrogate in some text: escape it rather than lose the line
            line = json.dumps(entry, sort_keys=True, separators=(",", ":")).encode("ascii")
        data = line + b"\n"
        with self._mutex:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            try:
                os.write(self._fd, data)
            finally:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            self._written += 1
            mine = self._written
            if defer and self.sync and self._syncer is None and not self._closed:
                self._syncer = threading.Thread(target=self._sync_loop, name="access-log-sync", daemon=True)
                self._syncer.start()
        if not defer:
            self.wait_durable(mine)
        elif self.sync:
            # The syncer only gets ahead of the journal's leader, which syncs whatever is left of the lines
            # before its own fsync (and the reply waits for this line either way). So it is woken only when
            # idle: a syncer kicked again mid-fdatasync would start another at once, and under load those
            # extra fsyncs of the access log (measured: one per 2.4 orders, against one journal fsync per 7)
            # queue on the file system's commits with the journal's own.
            if self._syncer_idle:
                self._kick.set()
                # Let go of the GIL for a moment: the syncer just woken takes it and starts its fdatasync
                # now, while this thread goes on with the order, rather than at this thread's next blocking
                # call (measured: one order at a time, its journal leader then finds the line on disk more
                # often).
                time.sleep(0)
        return mine

    def mark(self) -> int:
        """The ticket of the last line written so far (``wait_durable(mark())`` covers them all)."""
        with self._mutex:
            return self._written

    def wait_durable(self, ticket: int) -> None:
        """Return once line ``ticket`` (and every line before it) is on disk; OSError if it cannot be."""
        if not self.sync or (self._durable >= ticket and self._failed is None):
            return
        with self._sync_lock:
            if self._failed is not None:
                raise OSError(f"access log {self.path}: an earlier fdatasync failed ({self._failed})")
            if self._durable >= ticket:
                return  # another caller's fdatasync covered this line
            self._sync_locked()

    def _sync_locked(self) -> None:
        with self._mutex:
            target = self._written
        if self._durable >= target:
            return
        try:
            os.fdatasync(self._fd)
        except OSError as exc:  # the page cache state is unknown now: a later fsync proves nothing
            self._failed = exc
            raise
        self._durable = target

    def _sync_loop(self) -> None:
        while True:
            self._syncer_idle = True
            self._kick.wait()
            self._syncer_idle = False
            self._kick.clear()
            if self._closed:
                return
            try:
                self.wait_durable(self.mark())
            except OSError:
                return  # recorded in _failed: every waiter raises from now on

    def close(self) -> None:
        self._closed = True
        self._kick.set()
        if self._syncer is not None:
            self._syncer.join(timeout=5)
        with self._mutex:
            for fd in (self._fd, self._lock_fd):
                try:
                    os.close(fd)
                except OSError:
                    pass
