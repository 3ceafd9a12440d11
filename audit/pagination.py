"""API list pagination with bounds: no request can ask for the whole table or an offset SQL cannot hold.

`?limit=` and `?offset=` take digits only; a limit above MAX_LIMIT is capped, a non-numeric or zero limit
and a non-numeric offset are a 400 naming the parameter. The audit trail pages by keyset on `seq`
(a cursor), so a deep page costs what the first one does.
"""

from __future__ import annotations

from rest_framework.exceptions import APIException, NotFound
from rest_framework.pagination import CursorPagination, LimitOffsetPagination

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
_MAX_DIGITS = 18  # below 2**63: anything longer is past every table and is capped, never parsed as is


class InvalidPagination(APIException):
    status_code = 400
    default_code = "invalid_pagination"
    default_detail = "invalid pagination parameter"


def bounded_count(text: str, name: str, *, minimum: int, cap: int) -> int:
    """A non-negative decimal integer from a query parameter, capped at `cap`; anything else is a 400."""
    text = text.strip()
    if not text or not text.isascii() or not text.isdigit():
        raise InvalidPagination(f"{name} must be a whole number, got {text[:20]!r}")
    value = cap if len(text) > _MAX_DIGITS else min(int(text), cap)
    if value < minimum:
        raise InvalidPagination(f"{name} must be at least {minimum}")
    return value


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    default_limit = DEFAULT_LIMIT
    max_limit = MAX_LIMIT

    def get_limit(self, request) -> int:
        raw = request.query_params.get(self.limit_query_param)
        if raw is None:
            return self.default_limit
        return bounded_count(raw, self.limit_query_param, minimum=1, cap=self.max_limit)

    def get_offset(self, request) -> int:
        raw = request.query_params.get(self.offset_query_param)
        if raw is None:
            return 0
        return bounded_count(raw, self.offset_query_param, minimum=0, cap=10**_MAX_DIGITS)


class SeqKeysetPagination(CursorPagination):
    """Newest first by `seq`: each page is `WHERE seq < last seen ORDER BY seq DESC LIMIT n`."""

    ordering = "-seq"
    page_size = DEFAULT_LIMIT
    page_size_query_param = "limit"
    max_page_size = MAX_LIMIT

    def get_page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        return bounded_count(raw, self.page_size_query_param, minimum=1, cap=self.max_page_size)

    def decode_cursor(self, request):
        # DRF answers a cursor it cannot decode with 404; it is a malformed parameter, so a 400 like the rest.
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            cursor = False
        # The position is a seq this list gave out; anything else would reach the database as a bad integer.
        if cursor is False or (
            cursor is not None and cursor.position is not None and not _is_seq(cursor.position)
        ):
            raise InvalidPagination(f"{self.cursor_query_param} is not a cursor this list gave out")
        return cursor


def _is_seq(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= _MAX_DIGITS


def paginate_sequence(request, items, *, limit_param: str = "limit", offset_param: str = "offset"):
    """(page items, count, limit, offset) of an indexable sequence with the same bounds as the API lists
    (the decision log: entries are read by position, a page costs its own entries)."""
    raw_limit = request.query_params.get(limit_param)
    raw_offset = request.query_params.get(offset_param)
    limit = (
        DEFAULT_LIMIT
        if raw_limit is None
        else bounded_count(raw_limit, limit_param, minimum=1, cap=MAX_LIMIT)
    )
    offset = (
        0 if raw_offset is None else bounded_count(raw_offset, offset_param, minimum=0, cap=10**_MAX_DIGITS)
    )
    count = len(items)
    return [items[i] for i in range(offset, min(offset + limit, count))], count, limit, offset
