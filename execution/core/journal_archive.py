"""Closed journal segments, their manifest chain, per-segment order indexes, and snapshots of open state.

Layout beside the active segment ``<dir>/<name>.jsonl`` (``name`` = paper | live)::

    <dir>/<name>/segments/00000001.jsonl   a closed segment: renamed, never written again (mode 0400)
    <dir>/<name>/segments/00000001.idx     its orders: fixed-width "<client order id> <byte offset>" lines,
                                           sorted, pointing at each order's last record in that segment
    <dir>/<name>/segments/00000001.keys    the same orders as sorted 64-bit keys (BLAKE2b of the id): all
                                           segments' keys stay in memory, so an id that was never used (every
                                           new order) is ruled out with one search, not one per segment
    <dir>/<name>/segments.jsonl            the manifest: one canonical line per closed segment (size, SHA-384,
                                           seq range, chain head, highest fill seq) chained by ``prev`` =
                                           SHA-384 of the previous manifest line
    <dir>/<name>/snapshots/00000001.json   the open orders (and the caller's extra state) right after
                                           segment 1 was closed; a second line holds the SHA-384 of the first

The record hash chain runs on across segments (the first record of segment n+1 names the last line of
segment n), so the full history stays one verifiable chain (``verify_history``). A start reads the latest
snapshot and only the segments after it: its cost does not grow with the history. Orders closed before the
snapshot are found on demand through the indexes (binary search over a memory map).
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import threading
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from audit.trust.canonical import StrictJSONError, canonical_bytes, strict_loads
from audit.trust.fsutil import (
    MAX_JSON_FILE,
    MAX_LOG_FILE,
    UnsafeFileError,
    atomic_write_bytes,
    fsync_dir,
    read_regular_file,
)
from execution.core.journal_scan import GENESIS_HASH, line_hash, scan_bytes
from execution.core.orders import Fill, Order

SNAPSHOT_FORMAT = "oem/journal-snapshot/v1"
_CID_WIDTH = 36
_INDEX_LINE = _CID_WIDTH + 1 + 12 + 1


class ArchiveError(RuntimeError):
    """The archive (manifest, a closed segment, a snapshot) is damaged; the message is one line."""


@dataclass
class Segment:
    n: int
    path: Path
    first_seq: int
    last_seq: int
    head_hash: str
    fill_seq: int  # highest fill seq in this segment or before it
    records: int
    size: int
    sha384: str
    _index: mmap.mmap | None = field(default=None, repr=False)
    _fd: int | None = field(default=None, repr=False)
    _open_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)  # RPC threads read too

    @property
    def index_path(self) -> Path:
        return self.path.with_suffix(".idx")

    def _map(self) -> mmap.mmap | None:
        with self._open_lock:
            return self._map_locked()

    def _map_locked(self) -> mmap.mmap | None:
        if self._index is None:
            try:
                with open(self.index_path, "rb") as handle:
                    if os.fstat(handle.fileno()).st_size == 0:
                        return None
                    self._index = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
            except FileNotFoundError:
                raise ArchiveError(f"journal archive: index {self.index_path} is missing") from None
        return self._index

    def count(self) -> int:
        index = self._map()
        return 0 if index is None else len(index) // _INDEX_LINE

    def entry(self, i: int) -> tuple[str, int]:
        index = self._map()
        line = index[i * _INDEX_LINE : (i + 1) * _INDEX_LINE]
        return line[:_CID_WIDTH].rstrip(b" ").decode("ascii"), int(line[_CID_WIDTH + 1 : -1])

    def lookup(self, cid: str) -> int | None:
        index = self._map()
        if index is None:
            return None
        lo, hi = 0, len(index) // _INDEX_LINE
        key = cid.encode("ascii", "replace")
        while lo < hi:
            mid = (lo + hi) // 2
            here = index[mid * _INDEX_LINE : mid * _INDEX_LINE + _CID_WIDTH].rstrip(b" ")
            if here < key:
                lo = mid + 1
            elif here > key:
                hi = mid
            else:
                return int(index[mid * _INDEX_LINE + _CID_WIDTH + 1 : (mid + 1) * _INDEX_LINE - 1])
        return None

    def read_line(self, offset: int) -> bytes:
        with self._open_lock:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW)
        chunks = []
        while True:
            chunk = os.pread(self._fd, 65536, offset)
            if not chunk:
                break
            cut = chunk.find(b"\n")
            if cut != -1:
                chunks.append(chunk[:cut])
                break
            chunks.append(chunk)
            offset += len(chunk)
        return b"".join(chunks)

    def read_order(self, offset: int) -> Order:
        return Order.from_dict(json.loads(self.read_line(offset))["order"])

    def close(self) -> None:
        with self._open_lock:
            if self._index is not None:
                self._index.close()
                self._index = None
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


def order_key(cid: str) -> int:
    return int.from_bytes(hashlib.blake2b(cid.encode("ascii", "replace"), digest_size=8).digest(), "little")


def write_index(path: Path, index: dict[str, int]) -> None:
    rows = sorted((cid.encode("ascii"), offset) for cid, offset in index.items())
    data = b"".join(cid.ljust(_CID_WIDTH) + b" " + b"%012d\n" % offset for cid, offset in rows)
    atomic_write_bytes(path, data, mode=0o400)
    keys = np.sort(np.array([order_key(cid) for cid in index], dtype=np.uint64))
    atomic_write_bytes(path.with_suffix(".keys"), keys.astype("<u8").tobytes(), mode=0o400)


@dataclass
class Snapshot:
    segment: int
    seq: int
    head_hash: str
    fill_seq: int
    orders: list[Order]
    extra: dict


class JournalArchive:
    def __init__(self, active_path: Path) -> None:
        self.active_path = Path(active_path)
        self.root = self.active_path.with_suffix("")
        self.segments_dir = self.root / "segments"
        self.snapshots_dir = self.root / "snapshots"
        self.manifest_path = self.root / "segments.jsonl"
        self.segments: list[Segment] = []
        self._manifest_head = GENESIS_HASH
        self._keys = np.zeros(0, dtype=np.uint64)  # every archived order's key, sorted
        self._keys_lock = threading.Lock()

    # -- reading --------------------------------------------------------------------------------------------
    def load(self) -> None:
        """Read and verify the manifest chain; check every closed segment is there with its recorded size."""
        self.segments = []
        self._manifest_head = GENESIS_HASH
        try:
            data = read_regular_file(self.manifest_path, max_bytes=MAX_JSON_FILE, what="journal manifest")
        except FileNotFoundError:
            data = b""
        except UnsafeFileError as exc:
            raise ArchiveError(str(exc)) from None
        for number, line in enumerate(data.splitlines(), 1):
            where = f"journal manifest {self.manifest_path}:{number}"
            try:
                entry = strict_loads(line)
                if not isinstance(entry, dict) or canonical_bytes(entry) != line:
                    raise StrictJSONError("not a canonical JSON object")
                if entry.get("prev") != self._manifest_head or entry.get("n") != number:
                    raise StrictJSONError("breaks the manifest chain")
                segment = Segment(
                    n=number,
                    path=self.segments_dir / f"{number:08d}.jsonl",
                    first_seq=int(entry["first_seq"]),
                    last_seq=int(entry["last_seq"]),
                    head_hash=str(entry["head_hash"]),
                    fill_seq=int(entry["fill_seq"]),
                    records=int(entry["records"]),
                    size=int(entry["bytes"]),
                    sha384=str(entry["sha384"]),
                )
            except (StrictJSONError, KeyError, TypeError, ValueError) as exc:
                raise ArchiveError(f"{where}: {exc}") from None
            try:
                size = os.stat(segment.path, follow_symlinks=False).st_size
            except FileNotFoundError:
                raise ArchiveError(f"{where}: closed segment {segment.path} is missing") from None
            if size != segment.size:
                raise ArchiveError(
                    f"{where}: closed segment {segment.path} has {size} bytes, not {segment.size}"
                )
            self.segments.append(segment)
            self._manifest_head = line_hash(line)
        self._keys = np.sort(np.concatenate([self._segment_keys(s) for s in self.segments] or [self._keys]))

    @staticmethod
    def _segment_keys(segment: Segment) -> np.ndarray:
        path = segment.path.with_suffix(".keys")
        try:
            return np.frombuffer(
                read_regular_file(path, max_bytes=MAX_LOG_FILE, what="journal segment keys"), dtype="<u8"
            ).astype(np.uint64)
        except FileNotFoundError:  # written after the index: rebuild it from the index
            keys = [order_key(segment.entry(i)[0]) for i in range(segment.count())]
            return np.array(keys, dtype=np.uint64)
        except UnsafeFileError as exc:
            raise ArchiveError(str(exc)) from None

    def may_hold(self, cid: str) -> bool:
        # Every new order asks this (its id must not be an archived one): bisect over a plain view of the
        # sorted keys costs about a microsecond, numpy's searchsorted for one key several.
        keys = self._key_view
        key = order_key(cid)
        at = bisect_left(keys, key)
        return at < len(keys) and keys[at] == key

    @property
    def _keys(self) -> np.ndarray:
        return self._key_array

    @_keys.setter
    def _keys(self, keys: np.ndarray) -> None:
        self._key_array = np.ascontiguousarray(keys, dtype=np.uint64)
        self._key_view = memoryview(self._key_array).cast("B").cast("Q")

    def orphan_segments(self) -> list[Path]:
        """Closed segments the manifest does not list yet (a stop between the rename and the manifest)."""
        listed = len(self.segments)
        out = []
        n = listed + 1
        while (self.segments_dir / f"{n:08d}.jsonl").exists():
            out.append(self.segments_dir / f"{n:08d}.jsonl")
            n += 1
        return out

    def latest_snapshot(self) -> Snapshot | None:
        """The newest snapshot whose segment the manifest lists and whose seq/hash match that segment."""
        if not self.snapshots_dir.is_dir():
            return None
        names = sorted(p.name for p in self.snapshots_dir.glob("[0-9]*.json"))
        for name in reversed(names):
            n = int(name.split(".")[0])
            if n > len(self.segments):
                continue
            path = self.snapshots_dir / name
            try:
                data = read_regular_file(path, max_bytes=MAX_LOG_FILE, what="journal snapshot")
            except UnsafeFileError as exc:
                raise ArchiveError(str(exc)) from None
            body, _, tail = data.rstrip(b"\n").rpartition(b"\n")
            if tail != b"sha384:" + line_hash(body).encode():
                raise ArchiveError(f"journal snapshot {path}: its SHA-384 line does not match (damaged)")
            doc = json.loads(body)
            segment = self.segments[n - 1]
            if doc.get("format") != SNAPSHOT_FORMAT or doc.get("segment") != n:
                raise ArchiveError(f"journal snapshot {path}: not a {SNAPSHOT_FORMAT} of segment {n}")
            if doc["seq"] != segment.last_seq or doc["head_hash"] != segment.head_hash:
                raise ArchiveError(f"journal snapshot {path}: does not end where segment {n} ends")
            return Snapshot(
                segment=n,
                seq=doc["seq"],
                head_hash=doc["head_hash"],
                fill_seq=doc["fill_seq"],
                orders=[Order.from_dict(o) for o in doc["orders"]],
                extra=doc.get("extra") or {},
            )
        return None

    def find(self, cid: str) -> Order | None:
        if not self.may_hold(cid):
            return None
        for segment in reversed(self.segments):
            offset = segment.lookup(cid)
            if offset is not None:
                return segment.read_order(offset)
        return None

    def newer_holds(self, position: int, cid: str) -> bool:
        """True when a segment after ``position`` (0-based) has a later record of ``cid``."""
        return any(s.lookup(cid) is not None for s in self.segments[position + 1 :])

    def fills_after(self, since: int) -> Iterator[tuple[Order, Fill]]:
        """Every archived fill with seq > ``since``, in seq order, with the order snapshot that carried it."""
        emitted = since
        for position, segment in enumerate(self.segments):
            previous = self.segments[position - 1].fill_seq if position else 0
            if segment.fill_seq <= emitted or segment.fill_seq <= previous:
                continue
            with open(segment.path, "rb") as handle:
                for line in handle:
                    record = json.loads(line)
                    data = record.get("order")
                    if not data or not data.get("fills"):
                        continue
                    fresh = [f for f in data["fills"] if f.get("seq", 0) > emitted]
                    if not fresh:
                        continue
                    order = Order.from_dict(data)
                    for fill in sorted((Fill.from_dict(f) for f in fresh), key=lambda f: f.seq):
                        yield order, fill
                        emitted = fill.seq

    @property
    def fill_seq(self) -> int:
        return self.segments[-1].fill_seq if self.segments else 0

    # -- writing --------------------------------------------------------------------------------------------
    def close_segment(
        self,
        *,
        source: Path,
        first_seq: int,
        last_seq: int,
        head_hash: str,
        fill_seq: int,
        records: int,
        sha384: str,
        index: dict[str, int],
    ) -> Segment:
        """Move the active segment into the archive and chain it into the manifest (every step durable)."""
        n = len(self.segments) + 1
        self.segments_dir.mkdir(parents=True, exist_ok=True)
        target = self.segments_dir / f"{n:08d}.jsonl"
        write_index(target.with_suffix(".idx"), index)
        if source != target:
            os.rename(source, target)
            fsync_dir(source.parent)
        os.chmod(target, 0o400)
        fsync_dir(self.segments_dir)
        entry = {
            "n": n,
            "bytes": target.stat().st_size,
            "sha384": sha384,
            "first_seq": first_seq,
            "last_seq": last_seq,
            "head_hash": head_hash,
            "fill_seq": fill_seq,
            "records": records,
            "prev": self._manifest_head,
        }
        line = canonical_bytes(entry)
        fd = os.open(self.manifest_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, line + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        fsync_dir(self.root)
        self._manifest_head = line_hash(line)
        segment = Segment(
            n, target, first_seq, last_seq, head_hash, fill_seq, records, entry["bytes"], sha384
        )
        self.segments.append(segment)
        with self._keys_lock:
            self._keys = np.sort(np.concatenate([self._keys, self._segment_keys(segment)]))
        return segment

    def write_snapshot(self, *, fill_seq: int, orders: list[Order], extra: dict) -> Path:
        segment = self.segments[-1]
        doc = {
            "format": SNAPSHOT_FORMAT,
            "segment": segment.n,
            "seq": segment.last_seq,
            "head_hash": segment.head_hash,
            "fill_seq": fill_seq,
            "orders": [o.to_dict() for o in orders],
            "extra": extra,
        }
        body = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode("utf-8")
        path = self.snapshots_dir / f"{segment.n:08d}.json"
        atomic_write_bytes(path, body + b"\nsha384:" + line_hash(body).encode() + b"\n", mode=0o600)
        return path

    def close(self) -> None:
        for segment in self.segments:
            segment.close()


def verify_history(active_path: Path) -> tuple[int, str]:
    """Re-verify every closed segment (SHA-384 against the manifest, the record chain across all of them and
    into the active segment). Returns (records, head hash); raises ArchiveError with one line."""
    archive = JournalArchive(active_path)
    archive.load()
    seq, head = 0, GENESIS_HASH
    try:
        for segment in archive.segments:
            data = read_regular_file(segment.path, max_bytes=MAX_LOG_FILE, what="closed journal segment")
            if hashlib.sha384(data).hexdigest() != segment.sha384:
                raise ArchiveError(f"closed segment {segment.path}: SHA-384 differs from the manifest")
            result = scan_bytes(data, str(segment.path), start_seq=seq, start_hash=head)
            if result.damage is not None:
                raise ArchiveError(result.damage.one_line())
            if result.last_seq != segment.last_seq or result.head_hash != segment.head_hash:
                raise ArchiveError(f"closed segment {segment.path}: does not end where the manifest says")
            seq, head = result.last_seq, result.head_hash
        try:
            data = read_regular_file(active_path, max_bytes=MAX_LOG_FILE, what="journal")
        except FileNotFoundError:
            data = b""
    except UnsafeFileError as exc:
        raise ArchiveError(str(exc)) from None
    finally:
        archive.close()
    result = scan_bytes(data, str(active_path), start_seq=seq, start_hash=head)
    if result.damage is not None:
        raise ArchiveError(result.damage.one_line())
    return result.last_seq, result.head_hash
