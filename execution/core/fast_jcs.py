"""RFC 8785 (JCS) bytes for journal records at C-encoder speed, byte for byte what ``canonical_bytes`` gives.

``json`` with sorted keys, no spaces and raw UTF-8 already writes JCS for strings, integers, booleans and
null; only numbers can differ: JCS prints a double the ECMAScript way (``1`` not ``1.0``, ``5e-7`` not
``5e-07``, positional up to 1e21). So one pass first turns every float into something ``json`` prints as JCS
does: an integral float below 2**53 into its ``int``; a non-integral one in [1e-4, 1e15) stays (Python's
shortest round-trip ``repr`` is positional there -- the reference encoder starts from the same ``repr``);
any other finite float (a fee of 5e-7) into a placeholder string that is replaced afterwards by the
reference encoder's spelling of that one number. Whatever else JCS may spell differently or refuses
(non-finite numbers, integers beyond 2**53, non-ASCII keys, lone surrogates, NUL in a string when a
placeholder is in use, unknown types) goes to ``canonical_bytes`` whole: the same bytes, the same refusal
(``StrictJSONError``). ``tests/execution/test_journal_encoding.py`` compares both encoders on generated
values.
"""

from __future__ import annotations

import json
from typing import Any

from audit.trust.canonical import canonical_bytes

_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
_MAX_SAFE = 2**53 - 1


class _Outside(Exception):  # noqa: N818 - control flow: the value needs the reference encoder
    pass


class _Ready:
    """One conversion pass: the value as ``json`` should see it, and the numbers spliced in afterwards."""

    __slots__ = ("has_nul", "numbers")

    def __init__(self) -> None:
        self.numbers: list[float] = []  # finite floats JCS spells in exponent form (or beyond 1e15)
        self.has_nul = False

    def convert(self, value: Any) -> Any:
        kind = type(value)
        if kind is float:
            if value.is_integer() and -_MAX_SAFE <= value <= _MAX_SAFE:
                return int(value)  # also -0.0 -> 0, as JCS prints it
            if 1e-4 <= abs(value) < 1e15:
                return value
            if value != value or value in (_INF, -_INF):
                raise _Outside  # the reference encoder refuses it, with its message
            self.numbers.append(value)
            return f"\x00{len(self.numbers) - 1}"  # a placeholder string, replaced by the JCS number
        if kind is str:
            if "\x00" in value:
                self.has_nul = True
            return value
        if kind is bool or value is None:
            return value
        if kind is int:
            if -_MAX_SAFE <= value <= _MAX_SAFE:
                return value
            raise _Outside
        if kind is dict:
            out = {}
            for key, item in value.items():
                if (
                    type(key) is not str or not key.isascii()
                ):  # JCS sorts by UTF-16 units, json by code points
                    raise _Outside
                if "\x00" in key:
                    self.has_nul = True
                out[key] = self.convert(item)
            return out
        if kind is list or kind is tuple:
            return [self.convert(item) for item in value]
        raise _Outside


_INF = float("inf")


def fast_jcs(value: Any) -> bytes:
    """``canonical_bytes(value)``, faster for the values the journal writes; same bytes, same errors."""
    try:
        ready = _Ready()
        text = _ENCODER.encode(ready.convert(value))
        if ready.numbers:
            if ready.has_nul:  # a real string could look like a placeholder: take the reference path
                raise _Outside
            for index, number in enumerate(ready.numbers):
                # json writes the placeholder "\x00<i>" as "\u0000<i>"; the quotes delimit the index
                text = text.replace(f'"\\u0000{index}"', canonical_bytes(number).decode("ascii"), 1)
        return text.encode("utf-8")
    except (_Outside, UnicodeEncodeError, ValueError, TypeError, RecursionError):
        return canonical_bytes(value)
