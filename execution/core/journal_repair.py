"""The one way past a damaged journal: ``python -m execution.daemon --data-dir D --repair-journal``.

What it does, in order, each step durable before the next:
1. finds the first damaged byte of the active segment (a closed segment is never edited: restore it from a
   backup instead);
2. copies everything from there to the end into a quarantine file beside the journal (mode 0400, never
   overwritten), and names each cut record by seq, kind, order id and status, and whether it had been
   acknowledged (its seq is at or below the head witness) -- an acknowledged FILLED that is cut is said to
   be so, never turned silently into another status;
3. cuts the journal there, moves the head witness back to the last good record, and appends a ``repair``
   record (what was cut, its SHA-384, the quarantine file, who, when) to the journal's hash chain;
the caller then writes the same summary to the daemon's access audit. The next start replays the repaired
journal and reconciles the open orders with the venues as after any restart.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from audit.trust.fsutil import fsync_dir
from execution.core.journal import (
    Journal,
    JournalCorrupt,
    JournalDamaged,
    Witness,
    journal_lock,
    load,
    read_segment,
    read_witness,
    write_witness,
)
from execution.core.journal_archive import JournalArchive
from execution.core.journal_scan import GENESIS_HASH, CutRecord, line_hash

_SEQ = re.compile(rb',"seq":([0-9]{1,18}),"ts":[^,]*\}\Z')


_ACK_WORDS = {True: "ACKNOWLEDGED", False: "not acknowledged", None: "acknowledgement unknown"}


class RepairRefused(JournalCorrupt):
    pass


@dataclass
class RepairResult:
    path: Path
    offset: int = 0
    cut_bytes: int = 0
    cut_sha384: str = ""
    quarantine: Path | None = None
    detail: str = ""
    records: list[dict] = field(default_factory=list)
    repair_seq: int = 0

    @property
    def acknowledged(self) -> list[dict]:
        return [r for r in self.records if r["acknowledged"] is not False]

    def one_line(self) -> str:
        named = "; ".join(
            f"seq {r['seq']} {r['event'] or '?'} {r['client_order_id'] or '?'} {r['status'] or '?'} "
            + {True: "ACKNOWLEDGED", False: "not acknowledged", None: "acknowledgement unknown"}[
                r["acknowledged"]
            ]
            for r in self.records
        )
        where = f"to {self.quarantine.name} (sha384:{self.cut_sha384})" if self.quarantine else "(bytes gone)"
        return (
            f"journal repaired: {self.path}: cut {self.cut_bytes} bytes at byte {self.offset} {where}; "
            f"{len(self.acknowledged)} acknowledged state(s) cut: {named or 'none'}; "
            f"repair record seq {self.repair_seq}; cause: {self.detail}"
        )


def _chain_start(path: Path) -> tuple[int, str]:
    archive = JournalArchive(path)
    try:
        archive.load()
        if archive.segments:
            last = archive.segments[-1]
            return last.last_seq, last.head_hash
        return 0, GENESIS_HASH
    finally:
        archive.close()


def _last_good(data: bytes, offset: int, start: tuple[int, str]) -> tuple[int, str]:
    if offset == 0:
        return start
    line = data[: offset - 1].rsplit(b"\n", 1)[-1]
    match = _SEQ.search(line)
    if match is None:  # cannot happen for a verified prefix: every line ends with seq and ts
        raise RepairRefused(f"the record before byte {offset} has no seq")
    return int(match.group(1)), line_hash(line)


def repair_journal(path: Path, *, actor: str = "", now: datetime | None = None) -> RepairResult | None:
    """Repair the damaged journal at ``path``; None when it has no damage. Raises RepairRefused (one line)."""
    path = Path(path)
    actor = actor or getpass.getuser()
    now = now or datetime.now(UTC)
    result = RepairResult(path)
    with journal_lock(path):
        try:
            report, _state = load(path)
        except JournalDamaged as exc:
            damage = exc.damage
        else:
            if report.archive is not None:
                report.archive.close()
            return None
        if damage.path != str(path):
            raise RepairRefused(
                f"{damage.one_line()}; a closed segment is never edited: restore it from a backup"
            )
        data = read_segment(path)
        witness = read_witness(path)
        good_seq, good_hash = _last_good(data, damage.offset, _chain_start(path))
        cut = data[damage.offset :]
        result.offset, result.cut_bytes, result.detail = damage.offset, len(cut), damage.detail
        result.cut_sha384 = hashlib.sha384(cut).hexdigest()
        cut_records = list(damage.records) if cut else []
        for i, record in enumerate(cut_records):
            record.seq = good_seq + i + 1  # by position: a damaged line's own seq field may be garbage
        if witness is not None and witness.seq > good_seq + len(cut_records):
            # whole acknowledged records are gone; the witness still names the last one
            gone = CutRecord(
                witness.seq, witness.last.event, witness.last.client_order_id, witness.last.status
            )
            cut_records.append(gone)
        for record in cut_records:
            acknowledged = None if witness is None else record.seq <= witness.seq
            result.records.append({**record.to_dict(), "acknowledged": acknowledged})
        if cut:
            stamp = now.strftime("%Y%m%dT%H%M%SZ")
            quarantine = path.with_name(f"{path.name}.quarantine-{stamp}-at-{damage.offset}")
            fd = os.open(quarantine, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o400)
            try:
                os.write(fd, cut)
                os.fsync(fd)
            finally:
                os.close(fd)
            result.quarantine = quarantine
            fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW)
            try:
                os.ftruncate(fd, damage.offset)
                os.fsync(fd)
            finally:
                os.close(fd)
            fsync_dir(path.parent)
        write_witness(path, Witness(good_seq, good_hash, CutRecord(good_seq)))
        journal = Journal(path)
        journal.open(lock=False)
        try:
            result.repair_seq = journal.append_repair(
                {
                    "actor": actor,
                    "at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "offset": damage.offset,
                    "cut_bytes": len(cut),
                    "cut_sha384": result.cut_sha384,
                    "quarantine": result.quarantine.name if result.quarantine else "",
                    "cause": damage.detail,
                    "records": result.records,
                },
                now.timestamp(),
            )
        finally:
            journal.close()
    return result


def journals_in(data_dir: Path) -> list[Path]:
    """The active segments of a data dir's journals (``<data_dir>/journal/*.jsonl``)."""
    folder = Path(data_dir) / "journal"
    return sorted(p for p in folder.glob("*.jsonl")) if folder.is_dir() else []
