"""What the strict verifier already proved about each decision log, so a view pays only for what changed.

One sealed state file per log under `<data dir>/state/verified/` records the verified prefix: entry count,
byte length, SHA-384 of those bytes, head line hash, the end offset of every line, the key ring digest and
signing context it was verified under, a digest of what it depended on in earlier logs (the first time and
the last entry of each status), every file its evidence was read from, and the small index the gates need
(last entry per status, revocations, the chronologically latest entry). The console, the CLIs and the
daemon share it; the files stay the truth.

A later verification resumes from that state only when every one of these still holds: the seal verifies
with the installation's `audit` HMAC key; the key ring, context and earlier-log digest are unchanged; the
log has not shrunk and its verified prefix is byte-identical; and every recorded evidence file is unchanged.
The prefix is re-hashed whenever the file's identity (device, inode, size, mtime, ctime) differs from what
was recorded: an append or any in-place edit changes ctime, which a file writer cannot set back. Any
mismatch means a full verification, never a guess. The checkpoint and the witness are always checked.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from audit.trust.canonical import StrictJSONError, canonical_bytes, strict_loads
from audit.trust.fsutil import MAX_JSON_FILE, atomic_write_bytes, read_regular_file
from audit.trust.keyring import KeyRing, KeyRingError, format_time, parse_time
from audit.trust.signatures import SignatureError

STATE_FORMAT = "oem-verified-state/2"
_SEAL_DOMAIN = b"oem/verified-state/v1\x00"
_SEAL_PURPOSE = "audit"
_CHUNK = 1024 * 1024
# Several copies of one line of every log state fit in MAX_JSON_FILE: 8 bytes per line, base64-encoded.
_MAX_LINES = MAX_JSON_FILE // 16


def stat_signature(st: os.stat_result) -> str:
    """A file's identity as text (device, inode, size, mtime and ctime in ns exceed JSON's safe integers)."""
    return f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"


def file_signature(path: Path) -> str | None:
    try:
        return stat_signature(os.stat(path))
    except OSError:
        return None


def prefix_sha384(path: Path, size: int) -> str | None:
    """SHA-384 of the first `size` bytes of a regular file, streamed (no copy of the log in memory)."""
    digest = hashlib.sha384()
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        import stat as stat_module

        if not stat_module.S_ISREG(os.fstat(fd).st_mode):
            return None
        remaining = size
        while remaining:
            chunk = os.read(fd, min(_CHUNK, remaining))
            if not chunk:
                return None
            digest.update(chunk)
            remaining -= len(chunk)
    finally:
        os.close(fd)
    return digest.hexdigest()


# ---- the index the gates read --------------------------------------------------------------------------


@dataclass
class LogIndex:
    """Per log, what gate evaluation and stage order need without walking every entry. "line" here is the
    entry's position among the log's verified entries (1-based): equal to its line in a log with no
    refused line, the only kind that is recorded or evaluated by a gate."""

    last_by_status: dict[str, int] = field(default_factory=dict)  # status -> line
    last_hash_by_status: dict[str, str] = field(default_factory=dict)  # status -> line hash
    first_ts_by_status: dict[str, datetime] = field(default_factory=dict)
    revoked: list[tuple[datetime, int]] = field(default_factory=list)
    latest: tuple[datetime, int, int] | None = None  # chronological key of the latest entry

    def add(self, *, line: int, status: str, timestamp: datetime, line_hash: str, rank: int) -> None:
        self.last_by_status[status] = line
        self.last_hash_by_status[status] = line_hash
        if status not in self.first_ts_by_status or timestamp < self.first_ts_by_status[status]:
            self.first_ts_by_status[status] = timestamp
        if status == "revoked":
            self.revoked.append((timestamp, line))
        key = (timestamp, rank, line)
        if self.latest is None or key > self.latest:
            self.latest = key

    def to_json(self) -> dict[str, Any]:
        return {
            "last": self.last_by_status,
            "last_hash": self.last_hash_by_status,
            "first_ts": {s: format_time(t) for s, t in self.first_ts_by_status.items()},
            "revoked": [[format_time(t), line] for t, line in self.revoked],
            "latest": None
            if self.latest is None
            else [format_time(self.latest[0]), self.latest[1], self.latest[2]],
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> LogIndex:
        latest = doc["latest"]
        return cls(
            dict(doc["last"]),
            dict(doc["last_hash"]),
            {s: parse_time(t) for s, t in doc["first_ts"].items()},
            [(parse_time(t), int(line)) for t, line in doc["revoked"]],
            None if latest is None else (parse_time(latest[0]), int(latest[1]), int(latest[2])),
        )

    def copy(self) -> LogIndex:
        return LogIndex(
            dict(self.last_by_status),
            dict(self.last_hash_by_status),
            dict(self.first_ts_by_status),
            list(self.revoked),
            self.latest,
        )


def dependency_digest(prior: list[LogIndex]) -> str:
    """What a log's verdict takes from earlier logs: per status, the earliest time (stage order) and the
    last entry (evidence compared with the prerequisite). A change there re-verifies the later log fully."""
    summary: dict[str, list[str]] = {}
    for index in prior:
        for status, first in index.first_ts_by_status.items():
            earliest = summary.get(status, [format_time(first), ""])[0]
            summary[status] = [min(earliest, format_time(first)), index.last_hash_by_status[status]]
    return hashlib.sha384(canonical_bytes(summary)).hexdigest()


# ---- lines and entries read on demand ------------------------------------------------------------------


class FileLines(Sequence[bytes]):
    """The lines of a verified log, read by offset only when asked for (a page, the head, a deciding
    entry). `data` holds bytes already in memory (an append's pending content)."""

    def __init__(self, path: Path, ends: array, data: bytes | None = None):
        self.path = path
        self.ends = ends
        self.data = data

    def __len__(self) -> int:
        return len(self.ends)

    def span(self, index: int) -> tuple[int, int]:
        start = self.ends[index - 1] + 1 if index else 0
        return start, self.ends[index]

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        start, end = self.span(index)
        if self.data is not None:
            return self.data[start:end]
        fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
        try:
            return os.pread(fd, end - start, start)
        finally:
            os.close(fd)


class LazyEntries(Sequence):
    """Verified entries of one log: those verified in earlier runs are rebuilt from their line when used;
    those verified in this run are held. Iterating the whole log costs parsing, never re-verification."""

    def __init__(self, lines: Sequence[bytes], cached: int, fresh: list, build: Callable[[int, bytes], Any]):
        self.lines = lines
        self.cached = cached
        self.fresh = fresh
        self.build = build
        self.memo: dict[int, Any] = {}

    def __len__(self) -> int:
        return self.cached + len(self.fresh)

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        if index >= self.cached:
            return self.fresh[index - self.cached]
        entry = self.memo.get(index)
        if entry is None:
            entry = self.memo[index] = self.build(index + 1, self.lines[index])
        return entry

    def __iter__(self) -> Iterator:
        for i in range(len(self)):
            yield self[i]


class ChainedEntries(Sequence):
    """Every log's verified entries, logs in stage order: a tuple-like view that materialises nothing."""

    def __init__(self, parts: list[Sequence]):
        self.parts = parts

    def __len__(self) -> int:
        return sum(len(p) for p in self.parts)

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        for part in self.parts:
            if index < len(part):
                return part[index]
            index -= len(part)
        raise IndexError(index)

    def __iter__(self) -> Iterator:
        for part in self.parts:
            yield from part

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]


# ---- the sealed state file -----------------------------------------------------------------------------


@dataclass
class LogState:
    path: str
    log: str
    count: int
    size: int
    prefix: str  # sha384 hex of the verified bytes
    head: str
    stat: str
    keyring: str
    context: list[str]
    depends: str
    files: dict[str, list]  # path -> [stat signature, sha384 or None]
    index: LogIndex
    ends: array


def state_path(keyring: KeyRing, log_path: Path) -> Path:
    name = hashlib.sha256(str(log_path.resolve()).encode()).hexdigest()[:32]
    return Path(keyring.data_dir) / "state" / "verified" / f"{name}.json"


def _seal_message(body: dict[str, Any]) -> bytes:
    return _SEAL_DOMAIN + canonical_bytes(body)


def load_state(keyring: KeyRing, log_path: Path) -> LogState | None:
    """The recorded state of `log_path`, or None when there is none or its seal does not verify."""
    path = state_path(keyring, log_path)
    try:
        doc = strict_loads(read_regular_file(path, max_bytes=MAX_JSON_FILE, what="verified state"))
        body, seal = doc["body"], doc["seal"]
        if body.get("format") != STATE_FORMAT:
            return None
        keyring.verify(seal, _seal_message(body), purpose=_SEAL_PURPOSE)
        ends = array("Q")
        ends.frombytes(base64.b64decode(body["ends"], validate=True))
        state = LogState(
            path=body["path"],
            log=body["log"],
            count=body["count"],
            size=body["size"],
            prefix=body["prefix"],
            head=body["head"],
            stat=str(body["stat"]),
            keyring=body["keyring"],
            context=list(body["context"]),
            depends=body["depends"],
            files=dict(body["files"]),
            index=LogIndex.from_json(body["index"]),
            ends=ends,
        )
    except (OSError, StrictJSONError, KeyError, TypeError, ValueError, SignatureError, KeyRingError):
        return None
    if len(ends) != state.count or (ends and ends[-1] + 1 != state.size):
        return None
    return state


def save_state(keyring: KeyRing, log_path: Path, state: LogState) -> None:
    """Record a fully verified log. Best effort: a verifier that may not write (a read-only data dir, no
    audit key yet) simply verifies in full next time."""
    if state.count > _MAX_LINES:
        return
    try:
        signer = keyring.hmac_signer(_SEAL_PURPOSE, create=False)
    except (KeyRingError, OSError):
        return
    body = {
        "format": STATE_FORMAT,
        "path": state.path,
        "log": state.log,
        "count": state.count,
        "size": state.size,
        "prefix": state.prefix,
        "head": state.head,
        "stat": state.stat,
        "keyring": state.keyring,
        "context": state.context,
        "depends": state.depends,
        "files": state.files,
        "index": state.index.to_json(),
        "ends": base64.b64encode(state.ends.tobytes()).decode("ascii"),
    }
    document = {"body": body, "seal": signer.sign_bytes(_seal_message(body))}
    try:
        atomic_write_bytes(state_path(keyring, log_path), json.dumps(document).encode() + b"\n", mode=0o600)
    except OSError:
        return


def forget_state(keyring: KeyRing, log_path: Path) -> None:
    try:
        state_path(keyring, log_path).unlink()
    except OSError:
        pass


def files_unchanged(files: dict[str, list], digest: Callable[[Path], str | None]) -> bool:
    """Every evidence file the recorded verdicts read is the same file, or at least the same bytes."""
    for name, (signature, sha) in files.items():
        path = Path(name)
        if file_signature(path) == signature:
            continue
        if sha is None or digest(path) != sha:
            return False
    return True


def line_ends(data: bytes, base: int = 0) -> array:
    """End offsets (the newline's position) of every complete line in `data`, shifted by `base`."""
    ends = array("Q")
    position = data.find(b"\n")
    while position != -1:
        ends.append(base + position)
        position = data.find(b"\n", position + 1)
    return ends
