"""Durable fills in sequence order, for ``StreamFills(since_seq)``: replay, then live, no gap, no duplicate.

Each fill gets its sequence number under the router lock, in journal order, but reaches the daemon only after
its journal record is durable -- and concurrent calls become durable in any order. ``offer`` therefore holds a
fill back until every lower sequence number has arrived, so the log is always gap-free and a client that
saw seq n has seen every fill up to n (of the owners it may see).

Memory holds, per journal, the fills after that journal's latest snapshot; older ones are read from the
journal's closed segments (``JournalArchive.fills_after``). A stream that starts (or falls) behind what
memory holds merges the archives with memory by sequence number, then follows the live log.
"""

from __future__ import annotations

import bisect
import heapq
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class FillEvent:
    client_order_id: str
    symbol: str
    side: str
    venue: str
    fill_id: str
    qty: float
    price: float
    fee: float
    ts: float
    owner: str
    seq: int = 0
    group: str = ""  # the journal (router) that holds it


ArchiveReader = Callable[[int, int], Iterable[FillEvent]]  # (after seq, up to seq) -> fills in seq order


class FillLog:
    def __init__(self, head: int = 0) -> None:
        self._cond = threading.Condition()
        self._events: list[FillEvent] = []
        self._seqs: list[int] = []
        self._pending: dict[int, FillEvent] = {}
        self._head = head  # highest seq published: every seq <= head is durable and in order
        self._floors: dict[str, int] = {}  # journal -> fills up to here are in its closed segments only
        self._archives: dict[str, ArchiveReader] = {}
        self._closed = False

    # -- building -------------------------------------------------------------------------------------------
    def attach(self, group: str, *, floor: int, archive: ArchiveReader, history: Iterable[FillEvent]) -> None:
        """At start: one journal's archive reader, its floor, and its durable fills after the floor."""
        with self._cond:
            self._floors[group] = floor
            self._archives[group] = archive
            merged = sorted([*self._events, *(e for e in history if e.seq > floor)], key=lambda e: e.seq)
            self._events = merged
            self._seqs = [e.seq for e in merged]
            if merged:
                self._head = max(self._head, merged[-1].seq)

    def offer_head(self, head: int) -> None:
        """At start, after every journal is attached: every seq up to ``head`` is durable already."""
        with self._cond:
            self._head = max(self._head, head)

    def offer(self, event: FillEvent) -> None:
        """A fill whose journal record is durable; published once every lower seq has been."""
        with self._cond:
            if event.seq <= self._head:
                return
            self._pending[event.seq] = event
            published = False
            while self._head + 1 in self._pending:
                item = self._pending.pop(self._head + 1)
                self._events.append(item)
                self._seqs.append(item.seq)
                self._head = item.seq
                published = True
            if published:
                self._cond.notify_all()

    def raise_floor(self, group: str, floor: int) -> None:
        """After a snapshot: fills of ``group`` up to ``floor`` are read from its archive from now on."""
        with self._cond:
            self._floors[group] = max(self._floors.get(group, 0), floor)
            keep = [e for e in self._events if not (e.group == group and e.seq <= floor)]
            self._events = keep
            self._seqs = [e.seq for e in keep]

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    # -- reading --------------------------------------------------------------------------------------------
    @property
    def head(self) -> int:
        with self._cond:
            return self._head

    def _behind(self, last: int) -> bool:
        # never past the head: a closed segment may already hold a fill a lower, unpublished seq precedes
        return any(last < min(floor, self._head) for floor in self._floors.values())

    def _catch_up(self, last: int) -> Iterator[FillEvent]:
        """Everything after ``last`` up to the current head: archives merged with memory, in seq order."""
        with self._cond:
            head = self._head
            memory = self._events[bisect.bisect_right(self._seqs, last) :]
            sources = [
                self._archives[g](last, min(floor, head))
                for g, floor in self._floors.items()
                if last < min(floor, head)
            ]
        yield from heapq.merge(*sources, memory, key=lambda e: e.seq)

    def stream(
        self, since: int | None, accept: Callable[[FillEvent], bool], active: Callable[[], bool]
    ) -> Iterator[FillEvent]:
        """Fills after ``since`` (None: from now on) that ``accept`` lets through, until ``active()`` fails
        or the log closes. Yields in strictly increasing seq, each once."""
        last = self.head if since is None else since
        while active():
            with self._cond:
                if self._closed:
                    return
                behind = self._behind(last)
                fresh = [] if behind else self._events[bisect.bisect_right(self._seqs, last) :]
                if not behind and not fresh:
                    self._cond.wait(0.25)
                    continue
            items = self._catch_up(last) if behind else iter(fresh)
            for event in items:
                if event.seq <= last:
                    continue
                last = event.seq
                if accept(event):
                    yield event
