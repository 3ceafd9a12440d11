"""Reading a journal segment: verify the hash chain, find damage, rebuild the last state of every order.

A segment is JSONL, one RFC 8785 canonical record per line::

    {"event": "ack", "order": {...full snapshot...}, "prev_hash": "<sha384 of prev line>", "seq": n, "ts": t}
    {"event": "repair", "prev_hash": "...", "repair": {...what was cut...}, "seq": n, "ts": t}

Why the fast path is safe: every line's SHA-384 is the next line's ``prev_hash``, and the last line's is in
the head witness (``journal.py``), so a line covered by the chain is byte for byte what the daemon wrote; only
its ``seq`` / ``prev_hash`` are read per line (fixed positions of canonical JSON), and only the last record
of each order is parsed. Lines the chain does not cover yet (after the witnessed seq) are parsed strictly.

Nothing here raises on damage: ``scan_bytes`` returns what it verified plus a ``Damage`` that names the byte
offset, why, and what the damaged bytes seem to hold (record kind, order id, status, seq), so the daemon can
refuse with one line and the repair can say which acknowledged state it cut.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field

from audit.trust.canonical import StrictJSONError, canonical_bytes, strict_loads
from execution.core.orders import Order

GENESIS_HASH = "0" * 96

_TAIL = re.compile(rb',"prev_hash":"([0-9a-f]{96})","seq":([1-9][0-9]{0,17}),"ts":[-+.0-9eE]+\}\Z')
_HEAD = re.compile(rb'\A\{"event":"([a-z_]{1,40})","order":\{"client_order_id":"([.A-Za-z0-9:/_-]{1,36})"')
_GUESS_EVENT = re.compile(rb'"event":"([a-z_]{1,40})"')
_GUESS_CID = re.compile(rb'"client_order_id":"([.A-Za-z0-9:/_-]{1,36})"')
_GUESS_SEQ = re.compile(rb'"seq":([0-9]{1,18})[,}]')
_GUESS_STATUS = re.compile(rb'"status":"([A-Z_]{1,20})"')


def line_hash(line: bytes) -> str:
    return hashlib.sha384(line).hexdigest()


@dataclass
class CutRecord:
    """What a damaged or cut line seems to hold (best effort: any field may be empty / 0)."""

    seq: int = 0
    event: str = ""
    client_order_id: str = ""
    status: str = ""

    def describe(self) -> str:
        parts = [f"seq {self.seq}" if self.seq else "seq ?", self.event or "kind ?"]
        if self.client_order_id:
            parts.append(f"order {self.client_order_id}")
        if self.status:
            parts.append(self.status)
        return " ".join(parts)

    def to_dict(self) -> dict:
        return {
            "seq": self.seq,
            "event": self.event,
            "client_order_id": self.client_order_id,
            "status": self.status,
        }


def guess_records(chunk: bytes) -> list[CutRecord]:
    out = []
    for piece in chunk.split(b"\n"):
        if not piece.strip(b"\x00 \t\r"):
            continue

        def first(rx: re.Pattern, piece: bytes = piece) -> str:
            m = rx.search(piece)
            return m.group(1).decode("ascii") if m else ""

        # the order's own status (fills carry none); "seq" of the record is the last one on the line
        seqs = _GUESS_SEQ.findall(piece)
        out.append(
            CutRecord(
                seq=int(seqs[-1]) if seqs else 0,
                event=first(_GUESS_EVENT),
                client_order_id=first(_GUESS_CID),
                status=first(_GUESS_STATUS),
            )
        )
    return out


@dataclass
class Damage:
    path: str
    offset: int  # first byte that is not part of the verified chain
    size: int  # bytes from there to the end of the file
    line: int  # 1-based line number of the damaged record in this file
    detail: str
    torn: bool  # the damage is at the very end (a torn write), not in the middle
    records: list[CutRecord] = field(default_factory=list)
    what: str = ""  # overrides "torn tail" / "corrupt record"

    def one_line(self) -> str:
        where = self.what or ("torn tail" if self.torn else "corrupt record")
        first = self.records[0].describe() if self.records else "unreadable"
        return (
            f"journal {self.path}: {where} at byte {self.offset} (line {self.line}, {first}): {self.detail}; "
            f"{self.size} bytes from there to the end"
        )


@dataclass
class ScanResult:
    records: int = 0
    last_seq: int = 0
    head_hash: str = GENESIS_HASH
    good_bytes: int = 0
    orders: dict[str, Order] = field(default_factory=dict)
    index: dict[str, int] = field(default_factory=dict)  # client order id -> offset of its last record
    fill_seq: int = 0  # highest fill sequence number in the scanned records
    hash_at: dict[int, str] = field(default_factory=dict)  # seq -> line hash, for the seqs asked for
    repairs: list[dict] = field(default_factory=list)
    damage: Damage | None = None


def _strict(line: bytes) -> dict:
    record = strict_loads(line)
    if not isinstance(record, dict):
        raise StrictJSONError("record is not an object")
    if canonical_bytes(record) != line:
        raise StrictJSONError("record is not canonical JSON")
    return record


def scan_bytes(
    data: bytes,
    path: str,
    *,
    start_seq: int = 0,
    start_hash: str = GENESIS_HASH,
    strict_after: int = 0,
    want_hash_at: tuple[int, ...] = (),
) -> ScanResult:
    """Verify ``data`` as the segment that continues the chain at (start_seq, start_hash)."""
    result = ScanResult(last_seq=start_seq, head_hash=start_hash)
    offset = 0
    expected_prev = start_hash
    size = len(data)
    want = set(want_hash_at)

    def damaged(detail: str, at: int, line_no: int) -> ScanResult:
        torn = data.find(b"\n", at) in (-1, size - 1)
        records = guess_records(data[at:]) or [CutRecord()]
        for i, record in enumerate(records):  # by position: a damaged line's own seq may be cut or garbage
            record.seq = result.last_seq + i + 1
        result.damage = Damage(path, at, size - at, line_no, detail, torn, records)
        return result

    while offset < size:
        line_no = result.records + 1
        end = data.find(b"\n", offset)
        if end == -1:
            return damaged("the last record has no newline (cut mid-write)", offset, line_no)
        line = data[offset:end]
        seq = result.last_seq + 1
        tail = _TAIL.search(line)
        head = _HEAD.match(line)
        needs_strict = seq > strict_after or tail is None or head is None or b"\x00" in line
        record = None
        if needs_strict:
            try:
                record = _strict(line)
            except StrictJSONError as exc:
                return damaged(str(exc), offset, line_no)
            rec_seq, prev = record.get("seq"), record.get("prev_hash")
        else:
            prev, rec_seq = tail.group(1).decode("ascii"), int(tail.group(2))
        if rec_seq != seq:
            return damaged(f"seq {rec_seq!r}, expected {seq}", offset, line_no)
        if prev != expected_prev:
            return damaged(f"prev_hash does not match the record before (seq {seq - 1})", offset, line_no)
        if record is not None and record.get("event") == "repair":
            if not isinstance(record.get("repair"), dict):
                return damaged("repair record without its description", offset, line_no)
            result.repairs.append(record["repair"])
        elif record is not None:
            order_data = record.get("order")
            cid = order_data.get("client_order_id") if isinstance(order_data, dict) else None
            if not isinstance(cid, str):
                return damaged("record has no order snapshot", offset, line_no)
            result.index[cid] = offset
        else:
            result.index[head.group(2).decode("ascii")] = offset
        expected_prev = line_hash(line)
        if seq in want:
            result.hash_at[seq] = expected_prev
        result.records += 1
        result.last_seq = seq
        offset = end + 1
        result.good_bytes = offset
    result.head_hash = expected_prev
    for cid, at in result.index.items():
        end = data.find(b"\n", at)
        try:
            order = Order.from_dict(json.loads(data[at:end])["order"])
        except (KeyError, TypeError, ValueError) as exc:
            line_no = data.count(b"\n", 0, at) + 1
            return damaged(f"bad order snapshot of {cid} ({exc})", at, line_no)
        result.orders[cid] = order
        if order.fills:
            result.fill_seq = max(result.fill_seq, max(f.seq for f in order.fills))
    return result
