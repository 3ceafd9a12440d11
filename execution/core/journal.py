"""The order journal: every order state change is durably appended BEFORE it is acknowledged.

Format (``execution.core.journal_scan``): JSONL, one RFC 8785 canonical JSON record per line, hash-chained
(``seq`` + ``prev_hash``), durable (fdatasync, shared by concurrent appends: group commit, see ``Journal``)
before ``append`` returns. Each record carries the whole order snapshot, so replay is "last snapshot per
client order id wins" and never depends on re-deriving state from deltas.

Why JSONL + hash chain rather than SQLite WAL: it is the same evidence format as the decision logs and the
audit trail, readable and diffable by an operator or a compliance officer with no tooling, and edits,
reorders and deletions break the chain.

Damage is never repaired silently. After every fsync the head (seq, hash, and what the last record was) is
written to a witness beside the journal (``<name>.jsonl.head``), so a start can tell a journal that lost
acknowledged records -- a torn tail, a zeroed block, whole records cut -- from one that is merely behind the
witness by records nobody was told about. Any damage raises ``JournalDamaged`` (one line: file, byte offset,
record kind, order id); ``execution.core.journal_repair`` is the one way past it, and it writes down what it
cut. Growth is bounded by segments and snapshots (``execution.core.journal_archive``): ``rotate`` closes the
active segment into the archive and snapshots the open state; ``open`` reads the latest snapshot and only the
segments after it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import heapq
import itertools
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from audit.trust.canonical import StrictJSONError, canonical_bytes, strict_loads
from audit.trust.fsutil import MAX_LOG_FILE, UnsafeFileError, fsync_dir, read_regular_file
from execution.core.fast_jcs import fast_jcs, jcs_number, jcs_text, order_jcs
from execution.core.journal_archive import ArchiveError, JournalArchive
from execution.core.journal_scan import GENESIS_HASH, CutRecord, Damage, line_hash, scan_bytes
from execution.core.orders import Order

_WITNESS_SIZE = 320


class JournalError(RuntimeError):
    pass


class JournalCorrupt(JournalError):
    """The journal cannot be trusted as it is; the message is one line."""


class JournalDamaged(JournalCorrupt):
    """Damage an operator must look at (``--repair-journal``); ``damage`` says where and what."""

    def __init__(self, damage: Damage) -> None:
        super().__init__(damage.one_line())
        self.damage = damage


class JournalLocked(JournalError):
    pass


@dataclass
class Witness:
    seq: int = 0
    head_hash: str = GENESIS_HASH
    last: CutRecord = field(default_factory=CutRecord)


def witness_path(path: Path) -> Path:
    return path.with_name(path.name + ".head")


def read_witness(path: Path) -> Witness | None:
    """The head witness of journal ``path``; None when there is none yet (a new or older journal)."""
    target = witness_path(path)
    try:
        data = read_regular_file(target, max_bytes=4096, what="journal head witness")
    except FileNotFoundError:
        return None
    except UnsafeFileError as exc:
        raise JournalCorrupt(str(exc)) from None
    try:
        doc = strict_loads(data.rstrip(b" \n"))
        return Witness(
            int(doc["seq"]),
            str(doc["head_hash"]),
            CutRecord(int(doc["seq"]), str(doc["event"]), str(doc["client_order_id"]), str(doc["status"])),
        )
    except (StrictJSONError, KeyError, TypeError, ValueError) as exc:
        raise JournalCorrupt(f"journal head witness {target}: unreadable ({exc})") from None


def encode_witness(witness: Witness) -> bytes:
    """The witness's RFC 8785 bytes, padded to its fixed size; written after every journal fsync."""
    last = witness.last
    try:  # keys in JCS order; any value the field writer does not take goes to the general encoder
        body = (
            f'{{"client_order_id":{jcs_text(last.client_order_id)},"event":{jcs_text(last.event)},'
            f'"head_hash":{jcs_text(witness.head_hash)},"seq":{jcs_number(witness.seq)},'
            f'"status":{jcs_text(last.status)}}}'
        ).encode()
    except (ValueError, UnicodeEncodeError):
        body = fast_jcs(
            {
                "seq": witness.seq,
                "head_hash": witness.head_hash,
                "event": last.event,
                "client_order_id": last.client_order_id,
                "status": last.status,
            }
        )
    return body.ljust(_WITNESS_SIZE - 1) + b"\n"


def write_witness(path: Path, witness: Witness) -> None:
    """Durably replace the witness (repair, tools). The daemon's own updates use ``Journal``'s fd."""
    fd = os.open(witness_path(path), os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        os.pwrite(fd, encode_witness(witness), 0)
        os.ftruncate(fd, _WITNESS_SIZE)
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def journal_lock(path: Path):
    """One writer per journal, across processes; a second one is refused at once, never left waiting."""
    lock = path.with_name(path.name + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise JournalLocked(f"journal {path} is in use by another process (a running daemon?)") from None
        yield
    finally:
        os.close(fd)


def read_segment(path: Path) -> bytes:
    """The active segment's bytes (empty when there is none); a directory, FIFO... is a one-line refusal."""
    try:
        return read_regular_file(path, max_bytes=MAX_LOG_FILE, what="journal")
    except FileNotFoundError:
        return b""
    except UnsafeFileError as exc:
        raise JournalCorrupt(str(exc)) from None


@dataclass
class ReplayReport:
    path: str
    records: int = 0  # records read at this start (snapshot + later segments: not the whole history)
    last_seq: int = 0
    head_hash: str = GENESIS_HASH
    torn_bytes: int = 0  # kept for readers of older reports: a start never cuts bytes any more
    torn_detail: str = ""
    orders: dict[str, Order] = field(default_factory=dict)
    fill_seq: int = 0  # highest fill sequence number in the journal
    fill_base: int = 0  # fills up to this seq are in closed segments only
    snapshot_segment: int = 0  # 0: no snapshot, the whole journal was replayed
    segments: int = 0  # closed segments in the archive
    extra: dict = field(default_factory=dict)  # what the latest snapshot's writer stored beside the orders
    repairs: list[dict] = field(default_factory=list)
    archive: JournalArchive | None = None

    @property
    def open_orders(self) -> list[Order]:
        return [o for o in self.orders.values() if o.is_open]

    def summary(self) -> str:
        text = f"journal {self.path}: {self.records} records read, {len(self.orders)} orders, "
        text += f"{len(self.open_orders)} open, seq {self.last_seq}"
        if self.snapshot_segment:
            text += f" (snapshot after segment {self.snapshot_segment} of {self.segments})"
        return text


def load(path: str | Path) -> tuple[ReplayReport, dict]:
    """Rebuild the journal's state (latest snapshot + later segments + active segment), verified.

    Returns (report, writer state for ``Journal``). Raises JournalDamaged / JournalCorrupt (one line)."""
    path = Path(path)
    report = ReplayReport(path=str(path))
    archive = JournalArchive(path)
    try:
        archive.load()
        orphans = archive.orphan_segments()
        snapshot = archive.latest_snapshot()
    except ArchiveError as exc:
        raise JournalCorrupt(str(exc)) from None
    witness = read_witness(path)
    strict_after = witness.seq if witness is not None else 0
    seq, head, fill_seq = 0, GENESIS_HASH, 0
    if snapshot is not None:
        seq, head, fill_seq = snapshot.seq, snapshot.head_hash, snapshot.fill_seq
        report.orders = {o.client_order_id: o for o in snapshot.orders}
        report.snapshot_segment = snapshot.segment
        report.extra = snapshot.extra
        report.fill_base = archive.segments[snapshot.segment - 1].fill_seq
    later = [s.path for s in archive.segments[report.snapshot_segment :]] + orphans
    for segment_path in later:
        data = read_segment(segment_path)
        result = scan_bytes(
            data, str(segment_path), start_seq=seq, start_hash=head, strict_after=strict_after
        )
        if result.damage is not None:
            raise JournalDamaged(result.damage)
        if segment_path in orphans:  # a stop between the rename and the manifest: finish closing it
            archive.close_segment(
                source=segment_path,
                first_seq=seq + 1,
                last_seq=result.last_seq,
                head_hash=result.head_hash,
                fill_seq=max(fill_seq, result.fill_seq),
                records=result.records,
                sha384=hashlib.sha384(data).hexdigest(),
                index=result.index,
            )
        elif not segment_path.with_suffix(".idx").exists():
            from execution.core.journal_archive import write_index

            write_index(segment_path.with_suffix(".idx"), result.index)
        report.orders.update(result.orders)
        report.records += result.records
        report.repairs += result.repairs
        seq, head, fill_seq = result.last_seq, result.head_hash, max(fill_seq, result.fill_seq)
    data = read_segment(path)
    want = (witness.seq,) if witness is not None else ()
    result = scan_bytes(
        data, str(path), start_seq=seq, start_hash=head, strict_after=strict_after, want_hash_at=want
    )
    if result.damage is not None:
        raise JournalDamaged(result.damage)
    first_seq = seq + 1
    report.orders.update(result.orders)
    report.records += result.records
    report.repairs += result.repairs
    report.last_seq, report.head_hash = result.last_seq, result.head_hash
    report.fill_seq = max(fill_seq, result.fill_seq)
    report.segments = len(archive.segments)
    report.archive = archive
    if witness is not None:
        if witness.seq > result.last_seq:
            missing = Damage(
                str(path),
                len(data),
                0,
                data.count(b"\n") + 1,
                f"the journal ends at seq {result.last_seq} but seq {witness.seq} was acknowledged "
                f"(head witness): {witness.seq - result.last_seq} acknowledged record(s) are missing",
                True,
                [witness.last],
                what="acknowledged records missing",
            )
            raise JournalDamaged(missing)
        known = result.hash_at.get(witness.seq, head if witness.seq == seq else None)
        if witness.seq and known is not None and known != witness.head_hash:
            raise JournalCorrupt(
                f"journal {path}: record seq {witness.seq} is not the one that was acknowledged "
                "(its hash differs from the head witness)"
            )
    state = {
        "size": len(data),
        "records": result.records,
        "first_seq": first_seq,
        "index": result.index,
        "hasher": hashlib.sha384(data),
        "segment_fill_seq": report.fill_seq,
    }
    return report, state


class Journal:
    """Append-only, fsynced, hash-chained order journal with group commit; one writer per file (flock).

    ``open()`` verifies and replays (latest snapshot + later segments + the active segment) and refuses
    damage with ``JournalDamaged``; nothing is cut at start. ``append`` returns only after the record is on
    disk (``sync=False`` skips the fsync: benchmarks and tests that do not test durability only).

    Group commit: ``append_nowait`` chains and writes one record under a short mutex (one ``os.write`` on an
    ``O_APPEND`` fd, so the file order IS the chain order) and returns its ``seq`` as a ticket;
    ``wait_durable(ticket)`` returns once an fdatasync that started after that write has finished. The first
    waiter to find no fsync running becomes the leader: it notes the highest written seq, fsyncs, publishes
    that seq as durable and writes it to the head witness; every waiter at or below it returns without an
    fsync of its own. A failed fsync poisons the journal: the page cache state is unknown after EIO, so every
    not-yet-durable ticket and every later append raises ``JournalError`` (the daemon must stop trading).
    ``fsync`` is injectable (tests count or block it); it defaults to ``os.fdatasync``.

    The witness is written (``pwrite``, no fsync of its own) only after the journal's fsync, so it never
    runs ahead of what is on disk; a power cut may leave it behind, never ahead.

    Companions (``add_companion``): files whose lines must be on disk no later than the journal records
    written after them (the daemon's access log). The leader notes each companion's mark when it fixes its
    target -- so the mark covers every line written before any record in the batch -- and waits for the
    companion to be durable up to it before its own fsync; it publishes nothing as durable unless both
    succeeded, and a failed companion sync poisons the journal like a failed fsync.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        sync: bool = True,
        fsync: Callable[[int], None] | None = None,
        segment_records: int = 10_000,
    ) -> None:
        self.path = Path(path)
        self.sync = sync
        self.segment_records = segment_records
        self._fsync = fsync or os.fdatasync
        self._fd: int | None = None
        self._witness_fd: int | None = None
        self._seq = 0  # last seq written (file order == chain order)
        self._prev = GENESIS_HASH
        self._last = CutRecord()
        self._durable = 0  # every seq <= this is on disk
        self._syncing = False  # a leader is inside fsync
        self._failed: BaseException | None = None
        self._mutex = threading.Lock()  # chain state + the write; held for microseconds
        self._cond = threading.Condition(self._mutex)  # rotate/close waiting for the leader slot
        self._waiters: list[
            tuple[int, int, threading.Lock]
        ] = []  # heap: (ticket, n, gate) asleep in wait_durable
        self._waiter_ids = itertools.count()
        self.fsyncs = 0  # fsyncs issued by append/wait_durable (group-commit effectiveness)
        self._companions: list[tuple[Callable[[], int], Callable[[int], None]]] = []
        self._stack = contextlib.ExitStack()
        self.archive: JournalArchive | None = None
        # the active segment: size, records, first seq, order index, running SHA-384, highest fill seq
        self._size = 0
        self._records = 0
        self._first_seq = 1
        self._index: dict[str, int] = {}
        self._hasher = hashlib.sha384()
        self._fill_seq = 0

    def open(self, *, lock: bool = True) -> ReplayReport:
        """``lock=False`` only for a caller that already holds ``journal_lock`` (the repair)."""
        if self._fd is not None:
            raise JournalError(f"journal {self.path} is already open")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if lock:
            self._stack.enter_context(journal_lock(self.path))
        try:
            report, state = load(self.path)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
            os.fsync(fd)
            fsync_dir(self.path.parent)
            witness_fd = os.open(witness_path(self.path), os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        except BaseException:
            self._stack.close()
            raise
        self._fd, self._witness_fd = fd, witness_fd
        self._seq = self._durable = report.last_seq
        self._prev = report.head_hash
        self._failed = None
        self.archive = report.archive
        self._size, self._records, self._first_seq = state["size"], state["records"], state["first_seq"]
        self._index, self._hasher = state["index"], state["hasher"]
        self._fill_seq = state["segment_fill_seq"]
        last = report.orders and max(report.orders.values(), key=lambda o: o.updated_ts)
        self._last = CutRecord(report.last_seq, "", last.client_order_id if last else "", "")
        self._write_witness(self._seq, self._prev, self._last)
        return report

    def add_companion(self, mark: Callable[[], int], wait_durable: Callable[[int], None]) -> None:
        """Every fsync leader notes ``mark()`` with its target and calls ``wait_durable(mark)`` first."""
        self._companions.append((mark, wait_durable))

    def _write_witness(self, seq: int, head: str, last: CutRecord) -> None:
        if self._witness_fd is not None:
            os.pwrite(self._witness_fd, encode_witness(Witness(seq, head, last)), 0)

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
        head = b'{"event":' + fast_jcs(event) + b',"order":' + order_jcs(order)
        tail = b',"ts":' + fast_jcs(ts) + b"}"
        fill_seq = order.fills[-1].seq if order.fills else 0
        summary = CutRecord(0, event, order.client_order_id, str(order.status))
        return self._write(head, tail, summary, order.client_order_id, fill_seq)

    def append_repair(self, repair: dict, ts: float) -> int:
        """A repair record (``journal_repair``): what was cut, its hash, who, when. Durable on return."""
        head = b'{"event":"repair"'
        tail = (b',"repair":' + canonical_bytes(repair), b',"ts":' + canonical_bytes(ts) + b"}")
        ticket = self._write(head, tail, CutRecord(0, "repair", "", ""), None, 0)
        self.wait_durable(ticket)
        return ticket

    def _write(
        self,
        head: bytes,
        tail: bytes | tuple[bytes, bytes],
        summary: CutRecord,
        cid: str | None,
        fill_seq: int,
    ) -> int:
        with self._mutex:
            if self._fd is None:
                raise JournalError(f"journal {self.path} is not open")
            if self._failed is not None:
                raise JournalError(f"journal {self.path} is unusable after a failed fsync: {self._failed}")
            seq = self._seq + 1
            if isinstance(tail, tuple):  # a repair record; keys: event < prev_hash < repair < seq < ts
                middle, end = tail
                line = head + b',"prev_hash":"' + self._prev.encode() + b'"' + middle
                line += b',"seq":' + str(seq).encode() + end
            else:
                line = head + b',"prev_hash":"' + self._prev.encode() + b'","seq":' + str(seq).encode() + tail
            data = line + b"\n"
            written = os.write(self._fd, data)
            while written < len(data):  # os.write may be partial on a full disk / signal
                written += os.write(self._fd, data[written:])
            if cid is not None:
                self._index[cid] = self._size
            self._size += len(data)
            self._records += 1
            self._hasher.update(data)
            self._fill_seq = max(self._fill_seq, fill_seq)
            self._seq = seq
            self._prev = line_hash(line)
            summary.seq = seq
            self._last = summary
            if not self.sync:
                self._durable = seq
                self._write_witness(seq, self._prev, summary)
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
                # Sleep on a lock of our own: the leader wakes only the waiters its fsync covered, plus
                # the first one left (the next leader), instead of every waiter after every fsync.
                gate = threading.Lock()
                gate.acquire()
                heapq.heappush(self._waiters, (ticket, next(self._waiter_ids), gate))
                self._mutex.release()
                try:
                    gate.acquire()
                finally:
                    self._mutex.acquire()
            # Leader: everything written so far (ours included) is covered by the fsync we start now.
            self._syncing = True
            target, head, last = self._seq, self._prev, self._last
            fd = self._fd
            marks = [(mark(), wait) for mark, wait in self._companions]
        error: BaseException | None = None
        try:
            if fd is None:
                raise JournalError(f"journal {self.path} was closed before record {ticket} was synced")
            for mark, wait in marks:
                wait(mark)
            self._fsync(fd)
            self._write_witness(target, head, last)
        except BaseException as exc:  # noqa: BLE001 - recorded, then re-raised below
            error = exc
        with self._cond:
            self._syncing = False
            self.fsyncs += 1
            if error is None:
                self._durable = max(self._durable, target)
            elif self._failed is None:
                self._failed = error
            waiters = self._waiters
            if self._failed is not None:
                woken, self._waiters = waiters, []  # every one of them raises
            else:
                woken = []
                while waiters and waiters[0][0] <= self._durable:
                    woken.append(heapq.heappop(waiters))
                if waiters:  # the next batch needs a leader
                    woken.append(heapq.heappop(waiters))
            for _ticket, _n, gate in woken:
                gate.release()
            self._cond.notify_all()  # rotate/close waiting for the leader slot
        if error is not None:
            raise JournalError(f"journal {self.path}: fsync failed ({error})") from error

    @property
    def seq(self) -> int:
        return self._seq

    @property
    def durable_seq(self) -> int:
        return self._durable

    @property
    def segment_full(self) -> bool:
        return self._records >= self.segment_records

    def rotate(self, *, open_orders: list[Order], fill_seq: int, extra: dict) -> int:
        """Close the active segment into the archive and snapshot the open state; returns its number.

        The caller holds whatever lock serialises appends (the router lock), so no record can slip in
        between the last one archived and the snapshot. Every step is durable before the next one, and a
        stop between any two is finished by the next ``open`` (see ``journal_archive``)."""
        if self._fd is None or self.archive is None:
            raise JournalError(f"journal {self.path} is not open")
        if self._records == 0:
            return 0
        self.wait_durable(self._seq)
        with self._cond:
            while self._syncing:
                self._cond.wait()
            os.fsync(self._fd)
            segment = self.archive.close_segment(
                source=self.path,
                first_seq=self._first_seq,
                last_seq=self._seq,
                head_hash=self._prev,
                fill_seq=self._fill_seq,
                records=self._records,
                sha384=self._hasher.hexdigest(),
                index=self._index,
            )
            self.archive.write_snapshot(fill_seq=fill_seq, orders=open_orders, extra=extra)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
            fsync_dir(self.path.parent)
            os.close(self._fd)
            self._fd = fd
            self._size, self._records, self._first_seq = 0, 0, self._seq + 1
            self._index, self._hasher = {}, hashlib.sha384()
        return segment.n

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
                self._write_witness(self._seq, self._prev, self._last)
            os.close(fd)
        if self._witness_fd is not None:
            os.close(self._witness_fd)
            self._witness_fd = None
        if self.archive is not None:
            self.archive.close()
        self._stack.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def replay(path: str | Path) -> ReplayReport:
    """Verify and rebuild orders from a journal without opening it for writing (read-only tools)."""
    report, _state = load(path)
    if report.archive is not None:
        report.archive.close()
    return report


def scan(path: str | Path) -> tuple[ReplayReport, int]:
    """(report, byte length of the verified active segment) -- kept for read-only callers."""
    report, state = load(path)
    return report, state["size"]
