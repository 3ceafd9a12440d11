"""The order journal: every order state change is durably appended BEFORE it is acknowledged.

Format: JSONL, one RFC 8785 canonical JSON record per line, durable (fdatasync, shared by concurrent
appends: group commit, see ``Journal``) before ``append`` returns::

    {"event": "ack", "order": {...full snapshot...}, "prev_hash": "<sha384 of prev line>", "seq": n, "ts": t}

Why JSONL + hash chain rather than SQLite WAL: it is the same evidence format as the decision logs and the
audit trail (canonical bytes, ``seq`` + ``prev_hash`` chain, on disk before it counts), it is readable and
diffable by an operator or a compliance officer with no tooling, edits/reorders/deletions break the chain,
and a crash can damage at most the final line, which is detectable (no trailing newline or unparsable) and
safely cut off. Each record carries the whole order snapshot, so replay is "last snapshot per client
order id wins" and never depends on re-deriving state from deltas.

Damage anywhere but the last line (bad hash, bad seq, garbage) is not a crash artefact: ``JournalCorrupt``
is raised and the daemon must not trade on it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from audit.trust.canonical import StrictJSONError, canonical_bytes, strict_loads
from audit.trust.fsutil import exclusive_lock, fsync_dir
from execution.core.orders import Order

GENESIS_HASH = "0" * 96


class JournalError(RuntimeError):
    pass


class JournalCorrupt(JournalError):
    """The journal was edited or damaged somewhere a crash cannot explain; the message is one line."""


@dataclass
class ReplayReport:
    path: str
    records: int = 0
    last_seq: int = 0
    head_hash: str = GENESIS_HASH
    torn_bytes: int = 0  # bytes cut off the end (a crash mid-write); 0 when the file was clean
    torn_detail: str = ""
    orders: dict[str, Order] = field(default_factory=dict)

    @property
    def open_orders(self) -> list[Order]:
        return [o for o in self.orders.values() if o.is_open]

    def summary(self) -> str:
        text = f"journal {self.path}: {self.records} records, {len(self.orders)} orders, "
        text += f"{len(self.open_orders)} open"
        if self.torn_bytes:
            text += f"; cut {self.torn_bytes} torn bytes at the end ({self.torn_detail})"
        return text


def _line_hash(line: bytes) -> str:
    return hashlib.sha384(line).hexdigest()


def scan(path: str | Path) -> tuple[ReplayReport, int]:
    """Read and verify a journal without changing it: (report, byte length of the verified prefix)."""
    path = Path(path)
    report = ReplayReport(path=str(path))
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return report, 0
    offset = 0
    expected_prev = GENESIS_HASH
    while offset < len(data):
        end = data.find(b"\n", offset)
        if end == -1:
            report.torn_bytes = len(data) - offset
            report.torn_detail = f"line {report.records + 1} has no newline"
            break
        line = data[offset:end]
        try:
            record = strict_loads(line)
            if not isinstance(record, dict):
                raise StrictJSONError("record is not an object")
            if canonical_bytes(record) != line:
                raise StrictJSONError("record is not canonical JSON")
        except StrictJSONError as exc:
            if end == len(data) - 1:
                # Final line with a newline but unreadable: a torn write that happened to end in '\n'.
                report.torn_bytes = len(data) - offset
                report.torn_detail = f"line {report.records + 1}: {exc}"
                break
            raise JournalCorrupt(f"{path}:{report.records + 1}: {exc}") from None
        seq = record.get("seq")
        if seq != report.last_seq + 1:
            raise JournalCorrupt(f"{path}:{report.records + 1}: seq {seq!r}, expected {report.last_seq + 1}")
        if record.get("prev_hash") != expected_prev:
            raise JournalCorrupt(f"{path}:{report.records + 1}: prev_hash does not match line {seq - 1}")
        try:
            order = Order.from_dict(record["order"])
        except (KeyError, TypeError, ValueError) as exc:
            raise JournalCorrupt(f"{path}:{report.records + 1}: bad order snapshot ({exc})") from None
        report.orders[order.client_order_id] = order
        report.records += 1
        report.last_seq = seq
        expected_prev = _line_hash(line)
        offset = end + 1
    report.head_hash = expected_prev
    return report, offset


class Journal:
    """Append-only, fsynced, hash-chained order journal with group commit; one writer per file (flock).

    ``open()`` replays the file, cuts a torn final line (reported in the returned ``ReplayReport``) and
    positions for appending. ``append`` returns only after the record is on disk (``sync=False`` skips the
    fsync: benchmarks and tests that do not test durability only).

    Group commit: ``append_nowait`` chains and writes one record under a short mutex (one ``os.write`` on an
    ``O_APPEND`` fd, so the file order IS the chain order) and returns its ``seq`` as a ticket;
    ``wait_durable(ticket)`` returns once an fdatasync that started after that write has finished. The first
    waiter to find no fsync running becomes the leader: it notes the highest written seq, fsyncs, and
    publishes that seq as durable; every waiter at or below it returns without an fsync of its own, so N
    concurrent writers share one fsync instead of queueing for N. ``append`` = ``append_nowait`` +
    ``wait_durable``. A failed fsync poisons the journal: the page cache state is unknown after EIO, so every
    not-yet-durable ticket and every later append raises ``JournalError`` (the daemon must stop trading).
    ``fsync`` is injectable (tests count or block it); it defaults to ``os.fdatasync``.
    """

    def __init__(
        self, path: str | Path, *, sync: bool = True, fsync: Callable[[int], None] | None = None
    ) -> None:
        self.path = Path(path)
        self.sync = sync
        self._fsync = fsync or os.fdatasync
        self._fd: int | None = None
        self._seq = 0  # last seq written (file order == chain order)
        self._prev = GENESIS_HASH
        self._durable = 0  # every seq <= this is on disk
        self._syncing = False  # a leader is inside fsync
        self._failed: BaseException | None = None
        self._mutex = threading.Lock()  # chain state + the write; held for microseconds
        self._cond = threading.Condition(self._mutex)  # waiters for _durable / the leader slot
        self.fsyncs = 0  # fsyncs issued by append/wait_durable (group-commit effectiveness)
        self._stack = contextlib.ExitStack()

    def open(self) -> ReplayReport:
        if self._fd is not None:
            raise JournalError(f"journal {self.path} is already open")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._stack.enter_context(exclusive_lock(self.path.with_name(self.path.name + ".lock")))
        try:
            report, good = scan(self.path)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
            if report.torn_bytes:
                os.ftruncate(fd, good)
                os.fsync(fd)
            else:
                os.fsync(fd)
            fsync_dir(self.path.parent)
        except BaseException:
            self._stack.close()
            raise
        self._fd = fd
        self._seq = self._durable = report.last_seq
        self._prev = report.head_hash
        self._failed = None
        return report

    def append(self, event: str, order: Order, ts: float) -> int:
        """Append one record and return its seq once it is durable (the pre-group-commit contract)."""
        ticket = self.append_nowait(event, order, ts)
        self.wait_durable(ticket)
        return ticket

    def append_nowait(self, event: str, order: Order, ts: float) -> int:
        """Chain and write one record (not yet durable); returns the ticket for ``wait_durable``.

        The order is snapshotted and serialized here, by the caller, so the record is the state at call
        time. Only the hash chaining and the write happen under the mutex.
        """
        # canonical_bytes of the record with keys in RFC 8785 order (event < order < prev_hash < seq < ts);
        # the expensive part (the order snapshot) is serialized outside the mutex.
        head = b'{"event":' + canonical_bytes(event) + b',"order":' + canonical_bytes(order.to_dict())
        tail = b',"ts":' + canonical_bytes(ts) + b"}"
        with self._mutex:
            if self._fd is None:
                raise JournalError(f"journal {self.path} is not open")
            if self._failed is not None:
                raise JournalError(f"journal {self.path} is unusable after a failed fsync: {self._failed}")
            seq = self._seq + 1
            line = head + b',"prev_hash":"' + self._prev.encode() + b'","seq":' + str(seq).encode() + tail
            data = line + b"\n"
            written = os.write(self._fd, data)
            while written < len(data):  # os.write may be partial on a full disk / signal
                written += os.write(self._fd, data[written:])
            self._seq = seq
            self._prev = _line_hash(line)
            if not self.sync:
                self._durable = seq
            return seq

    def wait_durable(self, ticket: int) -> None:
        """Return once record ``ticket`` (and every record before it) is on disk; raise if it cannot be."""
        with self._cond:
            while True:
                if self._durable >= ticket:
                    return
                if self._failed is not None:
                    raise JournalError(f"journal {self.path}: fsync failed, record {ticket} may be lost")
                if not self._syncing:
                    break
                self._cond.wait()
            # Leader: everything written so far (ours included) is covered by the fsync we start now.
            self._syncing = True
            target = self._seq
            fd = self._fd
        error: BaseException | None = None
        try:
            if fd is None:
                raise JournalError(f"journal {self.path} was closed before record {ticket} was synced")
            self._fsync(fd)
        except BaseException as exc:  # noqa: BLE001 - recorded, then re-raised below
            error = exc
        with self._cond:
            self._syncing = False
            self.fsyncs += 1
            if error is None:
                self._durable = max(self._durable, target)
            elif self._failed is None:
                self._failed = error
            self._cond.notify_all()
        if error is not None:
            raise JournalError(f"journal {self.path}: fsync failed ({error})") from error

    @property
    def seq(self) -> int:
        return self._seq

    @property
    def durable_seq(self) -> int:
        return self._durable

    def close(self) -> None:
        with self._cond:
            fd, self._fd = self._fd, None
            # a leader mid-fsync still holds its fd number: let it finish before the number is reused
            while self._syncing:
                self._cond.wait()
        if fd is not None:
            if self.sync and self._durable < self._seq and self._failed is None:
                os.fdatasync(fd)
                self._durable = self._seq
            os.close(fd)
        self._stack.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def replay(path: str | Path) -> ReplayReport:
    """Verify and rebuild orders from a journal without opening it for writing (read-only tools)."""
    return scan(path)[0]
