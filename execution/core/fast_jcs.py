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


class _Outside(ValueError):  # noqa: N818 - control flow: the value needs the reference encoder
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
    kind = type(value)
    if kind is str:  # an event name: no conversion pass (a lone surrogate fails to encode: reference path)
        try:
            return _ENCODER.encode(value).encode("utf-8")
        except UnicodeEncodeError:
            return canonical_bytes(value)
    if kind is float and 1e-4 <= value < 1e15 and not value.is_integer():  # a timestamp: repr is JCS here
        return repr(value).encode("ascii")
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


# -- order records: the journal's hot path ------------------------------------------------------------------
# An order's fields are known and typed, so its record is written field by field in RFC 8785 key order with
# no conversion pass over a dict. Anything unexpected (a lone surrogate, a non-finite or non-float number,
# an unknown type) falls back to the general path with the order's dict: the same bytes or the same refusal.
_encode_string = json.encoder.encode_basestring  # ensure_ascii=False, as _ENCODER: raw UTF-8, \u00xx escapes


def jcs_number(value: Any) -> str:
    kind = type(value)
    if kind is float:
        if value.is_integer() and -_MAX_SAFE <= value <= _MAX_SAFE:
            return str(int(value))
        if 1e-4 <= abs(value) < 1e15:
            return repr(value)
        if value != value or value in (_INF, -_INF):
            raise _Outside
        return ecmascript_number(value)
    if kind is int and -_MAX_SAFE <= value <= _MAX_SAFE:
        return str(value)
    raise _Outside


def ecmascript_number(value: float) -> str:
    """A finite float as JCS spells it (ECMAScript's Number::toString), from Python's shortest round-trip
    digits, as the reference encoder does. Used for what ``repr`` spells differently: the exponent range
    (a fee of 5e-7 is ``5e-7`` there, ``5e-07`` in Python) and above 1e15. Property-tested against it."""
    if value == 0:
        return "0"
    text = repr(value)
    sign = "-" if text[0] == "-" else ""
    mantissa, _, exponent = text.lstrip("-").partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    point = len(whole) + (int(exponent) if exponent else 0)  # ECMAScript's n: digits * 10**(point - k)
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    k = len(digits)
    if k <= point <= 21:
        return sign + digits + "0" * (point - k)
    if 0 < point <= 21:
        return sign + digits[:point] + "." + digits[point:]
    if -6 < point <= 0:
        return sign + "0." + "0" * -point + digits
    power = point - 1
    return f"{sign}{digits[0]}{'.' + digits[1:] if k > 1 else ''}e{'+' if power > 0 else '-'}{abs(power)}"


def jcs_text(value: Any) -> str:
    if type(value) is not str:
        raise _Outside
    return _encode_string(value)


def _optional(value: Any, encode) -> str:
    return "null" if value is None else encode(value)


def _fill_jcs(fill: Any) -> str:
    # keys in JCS order: fee, fill_id, price, qty, seq (only when set), ts, venue, venue_order_id
    num, text = jcs_number, jcs_text
    seq = f',"seq":{num(fill.seq)}' if fill.seq else ""
    return (
        f'{{"fee":{num(fill.fee)},"fill_id":{text(fill.fill_id)},"price":{num(fill.price)},'
        f'"qty":{num(fill.qty)}{seq},"ts":{num(fill.ts)},"venue":{text(fill.venue)},'
        f'"venue_order_id":{text(fill.venue_order_id)}}}'
    )


def order_jcs(order: Any) -> bytes:
    """``canonical_bytes(order.to_dict())`` for an ``orders.Order``: same bytes, same errors."""
    num, text = jcs_number, jcs_text
    try:
        fills = ",".join([_fill_jcs(fill) for fill in order.fills])
        out = (
            f'{{"client_order_id":{text(order.client_order_id)},"created_ts":{num(order.created_ts)},'
            f'"fees":{num(order.fees)},"filled_qty":{num(order.filled_qty)},"fills":[{fills}],'
            f'"limit_price":{_optional(order.limit_price, num)},"owner":{text(order.owner)},'
            f'"qty":{num(order.qty)},"reason":{text(order.reason)},"side":{text(str(order.side))},'
            f'"stage":{text(str(order.stage))},"status":{text(str(order.status))},'
            f'"symbol":{text(order.symbol)},"type":{text(str(order.type))},'
            f'"updated_ts":{num(order.updated_ts)},"venue":{_optional(order.venue, text)},'
            f'"venue_order_id":{_optional(order.venue_order_id, text)}}}'
        )
        return out.encode()
    except (_Outside, UnicodeEncodeError, ValueError, TypeError):
        return fast_jcs(order.to_dict())
