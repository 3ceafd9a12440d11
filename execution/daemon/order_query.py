"""Read-only order queries for GetOrder / ListOrders: memory first, then the journals' closed segments.

Nothing here changes an order or places one. Who may see what is decided by the caller (``server.py``):
an operator sees their own orders, an admin every order.

ListOrders pages with an opaque token and never holds the trading lock while it reads the archive:
- first the orders in memory (open ones and those closed since the latest snapshot), newest update first,
  keyset-paged on (updated_ts, client order id) so a page boundary survives concurrent trading;
- then the closed history, newest segment first, each segment in its index order; an index entry counts
  only where it is the order's last record (no newer segment and no memory entry holds the id). At most
  ``SCAN_LIMIT`` archived entries are read per call: a short page with a token means "continue".
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Iterable
from dataclasses import dataclass

from audit.trust.canonical import StrictJSONError, canonical_bytes, strict_loads
from execution.core.orders import Order, OrderStatus

SCAN_LIMIT = 20_000
MAX_PAGE = 500
DEFAULT_PAGE = 100


class QueryRefused(ValueError):
    """A bad filter or page token; the message is one line."""


@dataclass(frozen=True)
class OrderFilter:
    statuses: frozenset[str]
    symbol: str
    since: float
    owner: str | None  # None: every owner

    @classmethod
    def build(cls, *, statuses: Iterable[str], symbol: str, since: float, owner: str | None) -> OrderFilter:
        wanted = frozenset(s.upper() for s in statuses)
        unknown = wanted - {str(s) for s in OrderStatus}
        if unknown:
            raise QueryRefused(f"unknown status {sorted(unknown)[0]!r}")
        if not math.isfinite(since) or since < 0:
            raise QueryRefused("since must be a non-negative Unix time")
        return cls(wanted, symbol, since, owner)

    def accepts(self, order: Order) -> bool:
        return (
            (not self.statuses or str(order.status) in self.statuses)
            and (not self.symbol or order.symbol == self.symbol)
            and order.updated_ts >= self.since
            and (self.owner is None or order.owner == self.owner)
        )


def _encode(token: dict) -> str:
    return base64.urlsafe_b64encode(canonical_bytes(token)).decode("ascii").rstrip("=")


def _decode(text: str) -> dict:
    if not text:
        return {"phase": "memory"}
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        token = strict_loads(raw)
        if not isinstance(token, dict) or token.get("phase") not in ("memory", "archive"):
            raise StrictJSONError("unknown phase")
        return token
    except (binascii.Error, ValueError, StrictJSONError):
        raise QueryRefused("page_token is not one this daemon issued") from None


def list_orders(
    routers: dict, *, flt: OrderFilter, page_size: int, page_token: str, lock
) -> tuple[list[Order], str]:
    size = DEFAULT_PAGE if page_size <= 0 else min(page_size, MAX_PAGE)
    token = _decode(page_token)
    out: list[Order] = []
    with lock:
        memory = {cid: o for r in routers.values() for cid, o in r.store._orders.items()}  # noqa: SLF001
        archives = [(g, r.journal.archive) for g, r in sorted(routers.items()) if r.journal is not None]
        snapshot = [Order.from_dict(o.to_dict()) for o in memory.values() if flt.accepts(o)]
    if token["phase"] == "memory":
        snapshot.sort(key=lambda o: (o.updated_ts, o.client_order_id), reverse=True)
        after = token.get("after")
        if after is not None:
            try:
                key = (float(after[0]), str(after[1]))
            except (TypeError, ValueError, IndexError):
                raise QueryRefused("page_token is not one this daemon issued") from None
            snapshot = [o for o in snapshot if (o.updated_ts, o.client_order_id) < key]
        out = snapshot[:size]
        if len(snapshot) > size:
            last = out[-1]
            return out, _encode({"phase": "memory", "after": [last.updated_ts, last.client_order_id]})
        token = {"phase": "archive", "archive": 0, "segment": -1, "entry": 0}
    return _list_archive(out, archives, memory, flt, size, token)


def _list_archive(out, archives, memory, flt, size, token) -> tuple[list[Order], str]:
    try:
        a, seg, entry = int(token["archive"]), int(token["segment"]), int(token["entry"])
    except (KeyError, TypeError, ValueError):
        raise QueryRefused("page_token is not one this daemon issued") from None
    scanned = 0
    while a < len(archives):
        archive = archives[a][1]
        segments = archive.segments if archive is not None else []
        if seg == -1:
            seg = len(segments) - 1
        while 0 <= seg < len(segments):
            segment = segments[seg]
            count = segment.count()
            while entry < count:
                if len(out) >= size or scanned >= SCAN_LIMIT:
                    return out, _encode({"phase": "archive", "archive": a, "segment": seg, "entry": entry})
                cid, offset = segment.entry(entry)
                entry += 1
                scanned += 1
                if cid in memory or archive.newer_holds(seg, cid):
                    continue
                order = segment.read_order(offset)
                if flt.accepts(order):
                    out.append(order)
            seg, entry = seg - 1, 0
        a, seg, entry = a + 1, -1, 0
    return out, ""
