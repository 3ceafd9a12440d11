"""Append-only JSONL audit of every access decision: ``<data_dir>/audit/daemon_access.jsonl``.

One canonical JSON object per line (ts, subject, method, decision, reason, peer certificate fingerprint,
token id), written with one ``write`` under an advisory lock shared with other processes and fsynced
before the RPC proceeds or is refused. Group commit: concurrent RPCs share one ``fdatasync`` (the first
waiter syncs everything written so far; the others find their line already durable) - each caller still
returns only once its own line is on disk.

Deferred lines (``record(..., defer=True)``, the order path): the line is written before the RPC proceeds
but made durable by the order journal's group commit -- the journal's fsync leader calls ``sync_written``
before it fsyncs the journal, so the line is on disk before the order's first journal record is, hence
before any venue sees the order -- and, whatever the handler did, ``wait_durable(ticket)`` before the reply
(a no-op when the journal's commit already covered it).
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
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
        if not defer:
            self.wait_durable(mine)
        return mine

    def wait_durable(self, ticket: int) -> None:
        """Return once line ``ticket`` (and every line before it) is on disk."""
        if not self.sync or self._durable >= ticket:
            return
        with self._sync_lock:
            if self._durable >= ticket:
                return  # another caller's fdatasync covered this line
            self._sync_locked()

    def sync_written(self) -> None:
        """Make every line written so far durable (the journal's group-commit leader calls this)."""
        if not self.sync:
            return
        with self._sync_lock:
            self._sync_locked()

    def _sync_locked(self) -> None:
        with self._mutex:
            target = self._written
        if self._durable >= target:
            return
        os.fdatasync(self._fd)
        self._durable = target

    def close(self) -> None:
        with self._mutex:
            for fd in (self._fd, self._lock_fd):
                try:
                    os.close(fd)
                except OSError:
                    pass
