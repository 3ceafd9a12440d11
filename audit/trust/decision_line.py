"""A decision-log line as the writer writes it, read with one parse and its signed body cut from its bytes.

Every line the product writes is the canonical JSON of its entry (decision_rules), so the verifier's strict
path (strict_loads, shape_error, then re-encoding the entry without its signatures) repeats work the bytes
already prove. read_written_line() takes a line only when it is exactly the canonical encoding
(canonical.fast_canonical_bytes) of a v2-shaped value; else it returns None and the strict path decides,
with its own wording. The proof costs no re-encoding:
- the line holds no backslash, so no string in it is escaped, and the strict scanner refuses a raw control
  character in a string; the text matches _LINE, canonical JSON of entries decision_log_shape.shape_error
  accepts (a subset: strings needing an escape, a `seq` of 16 digits and the like are left to the strict
  path), with every SHA-384 of 96 characters checked to be lowercase hex on the parsed values. Under _LINE
  a string holds no escape and no quote, so it encodes as itself, and so do the integer and the literals;
  there is no whitespace, and every object but `artefacts` and `signatures` has its keys fixed, in order;
- those two hold no key twice (each member's text is as long as the encoding of the member the parse kept,
  so a repeated member makes the object's text longer than the encoding of what the parse kept) and list
  their keys in sorted order.
The re-encoding of the parsed value is then the line itself (tests/audit/test_decision_line.py checks it
against the encoder), so nothing is left for strict_loads to refuse and the value is the one it returns:
duplicate keys, whitespace, another key order, a byte order mark, trailing data, escapes, NaN, floats, big
numbers and nesting do not pass _LINE or the lengths; encoded surrogates fail the strict UTF-8 decode. The
body without `signatures` is the line without its `,"signatures":{...}` member, byte for byte what the
strict path's re-encoding gives.
"""

from __future__ import annotations

import json
import re
from typing import Any

# One character of a string. A string is the run of characters up to its closing quote: with no backslash in
# the line (read_written_line checks that first) nothing in it is escaped, and the strict scanner refuses a
# raw control character in it, so the run is exactly what the strict path reads. One negated literal is a
# tight loop in the regular-expression engine; a character class costs several times more per character.
_CHAR = r'[^"]'
# A SHA-384 in hex: 96 characters here, the hex digits checked on the parsed values (_hex_only), in one call.
_HEX96 = _CHAR + r"{96}"
_ARTEFACT = (
    r'"[a-z][a-z0-9_]{0,63}":(?:null|"' + _CHAR + r'{0,4096}"|\{"path":"' + _CHAR + r'{1,4096}",'
    r'"sha384":"' + _HEX96 + r'"\})'
)
_SIGNATURE = (
    r'"(?:compliance|engineer|owner)":'
    r'"(?:ed25519|hmac-sha384):[A-Za-z0-9][A-Za-z0-9._-]{0,127}:[A-Za-z0-9+/]+={0,2}"'
)
# The members in canonical (sorted) order; a `seq` of at most 15 digits stays below 2**53.
_LINE = re.compile(
    r'\{"artefacts":(?P<artefacts>\{(?:' + _ARTEFACT + r"(?:," + _ARTEFACT + r"){0,63})?\})"
    r'(?:,"note":"' + _CHAR + r'{0,2000}")?'
    r',"prev_hash":"sha384:' + _HEX96 + r'"'
    r',"runtime_flags":\{"StrategyContext\.require_demo_mode":(?:true|false),'
    r'"runtime\.compliance_confirmed":(?:true|false)\}'
    r',"seq":[1-9][0-9]{0,14}'
    r'(?P<signatures>,"signatures":\{' + _SIGNATURE + r"(?:," + _SIGNATURE + r"){0,2}\})"
    r',"stage":"(?:demo|paper|live)"'
    r',"status":"(?:demo_ready|paper_ready|live_ready|revoked)"'
    r',"timestamp":"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?Z"\}'
)
# Characters of an artefact member under _LINE beside its name and its strings: `"name":null`, `"name":"v"`,
# `"name":{"path":"p","sha384":"<96>"}`.
_NULL_MEMBER, _STRING_MEMBER, _FILE_MEMBER = 7, 5, 3 + 23 + 96
_SIGNATURES_FRAME = 15  # `,"signatures":{` and `}` (16), less the comma the first member goes without
_HEX_DIGITS = b"0123456789abcdef"

_SCAN = json.JSONDecoder().scan_once  # what json.loads runs, without the wrapping for errors and whitespace


def read_written_line(line: bytes) -> tuple[dict[str, Any], bytes] | None:
    """(entry, canonical bytes of the entry without `signatures`) for a canonical line of the v2 shape,
    else None (see the module docstring)."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if "\\" in text:
        return None  # an escape: left to the strict path, which knows every spelling of a string
    match = _LINE.fullmatch(text)
    if match is None:
        return None
    try:
        entry, _ = _SCAN(text, 0)  # JSON by _LINE's grammar; refusing costs nothing
    except (StopIteration, ValueError):
        return None  # a raw control character in a string
    artefacts, signatures = entry["artefacts"], entry["signatures"]
    size = max(len(artefacts) + 1, 2)  # the braces and the commas between the members
    digests = [entry["prev_hash"][7:]]
    for name, value in artefacts.items():
        kind = type(value)
        if kind is dict:
            size += len(name) + len(value["path"]) + _FILE_MEMBER
            digests.append(value["sha384"])
        elif kind is str:
            size += len(name) + len(value) + _STRING_MEMBER
        else:
            size += len(name) + _NULL_MEMBER
    frame = _SIGNATURES_FRAME + len(signatures)  # a comma before each member
    for role, signature in signatures.items():
        frame += len(role) + len(signature) + _STRING_MEMBER
    start, end = match.span(2)
    if (
        match.end(1) - match.start(1) != size
        or end - start != frame
        or list(artefacts) != sorted(artefacts)  # code points; these keys are ASCII
        or list(signatures) != sorted(signatures)
        or not _hex_only(digests)
    ):
        return None
    # Everything from the signatures member on is ASCII (_LINE), so its offsets from the end are byte offsets.
    end_byte = len(line) - (len(text) - end)
    return entry, line[: end_byte - (end - start)] + line[end_byte:]


def _hex_only(digests: list[str]) -> bool:
    """Every digest (96 characters each, by _LINE) is lowercase hex: deleting the hex digits from their
    UTF-8 leaves nothing, and any other character leaves a byte."""
    return not "".join(digests).encode("utf-8").translate(None, _HEX_DIGITS)
