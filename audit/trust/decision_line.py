"""A decision-log line as the writer writes it, read with one parse and its signed body cut from its bytes.

Every line the product writes is the canonical JSON of its entry (decision_rules), so the verifier's strict
path (strict_loads, shape_error, then re-encoding the entry without its signatures) repeats work the bytes
already prove. read_written_line() takes a line only when it is exactly the canonical encoding
(canonical.fast_canonical_bytes) of a v2-shaped value; else it returns None and the strict path decides,
with its own wording. The proof costs no re-encoding:
- the text matches _LINE, canonical JSON of entries decision_log_shape.shape_error accepts (a subset:
  strings needing an escape, a `seq` of 16 digits and the like are left to the strict path). Under _LINE a
  string holds no escape and no quote, so it encodes as itself, and so do the integer and the literals;
  there is no whitespace, and every object but `artefacts` and `signatures` has its keys fixed, in order;
- those two hold no key twice (each member adds a known number of quotes, so the line's quotes count the
  members the parse kept) and list their keys in sorted order.
The re-encoding of the parsed value is then the line itself (tests/audit/test_decision_line.py checks it
against the encoder), so nothing is left for strict_loads to refuse and the value is the one it returns:
duplicate keys, whitespace, another key order, a byte order mark, trailing data, escapes, NaN, floats, big
numbers and nesting do not pass _LINE or the count; encoded surrogates fail the strict UTF-8 decode. The body
without `signatures` is the line without its `,"signatures":{...}` member, byte for byte what the strict
path's re-encoding gives.
"""

from __future__ import annotations

import json
import re
from typing import Any

# One character a string holds unescaped: strings needing an escape are left to the strict path.
_CHAR = r'[^"\\\x00-\x1f]'
_ARTEFACT = (
    r'"[a-z][a-z0-9_]{0,63}":(?:null|"' + _CHAR + r'{0,4096}"|\{"path":"' + _CHAR + r'{1,4096}",'
    r'"sha384":"[0-9a-f]{96}"\})'
)
_SIGNATURE = (
    r'"(?:compliance|engineer|owner)":'
    r'"(?:ed25519|hmac-sha384):[A-Za-z0-9][A-Za-z0-9._-]{0,127}:[A-Za-z0-9+/]+={0,2}"'
)
# The members in canonical (sorted) order; a `seq` of at most 15 digits stays below 2**53.
_LINE = re.compile(
    r'\{"artefacts":(?P<artefacts>\{(?:' + _ARTEFACT + r"(?:," + _ARTEFACT + r"){0,63})?\})"
    r'(?:,"note":"' + _CHAR + r'{0,2000}")?'
    r',"prev_hash":"sha384:[0-9a-f]{96}"'
    r',"runtime_flags":\{"StrategyContext\.require_demo_mode":(?:true|false),'
    r'"runtime\.compliance_confirmed":(?:true|false)\}'
    r',"seq":[1-9][0-9]{0,14}'
    r'(?P<signatures>,"signatures":\{' + _SIGNATURE + r"(?:," + _SIGNATURE + r"){0,2}\})"
    r',"stage":"(?:demo|paper|live)"'
    r',"status":"(?:demo_ready|paper_ready|live_ready|revoked)"'
    r',"timestamp":"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?Z"\}'
)
# Quotes an artefact member adds under _LINE, by its value: the name, and the strings of the value.
_ARTEFACT_QUOTES = {type(None): 2, str: 4, dict: 10}
_SIGNATURE_QUOTES = 4  # the role and the signature text (the member's own key adds 2)

_SCAN = json.JSONDecoder().scan_once  # what json.loads runs, without the wrapping for errors and whitespace


def read_written_line(line: bytes) -> tuple[dict[str, Any], bytes] | None:
    """(entry, canonical bytes of the entry without `signatures`) for a canonical line of the v2 shape,
    else None (see the module docstring)."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return None
    match = _LINE.fullmatch(text)
    if match is None:
        return None
    try:
        entry, _ = _SCAN(text, 0)  # JSON by _LINE's grammar; refusing costs nothing
    except (StopIteration, ValueError):
        return None
    artefacts, signatures = entry["artefacts"], entry["signatures"]
    quotes = 0
    for value in artefacts.values():
        quotes += _ARTEFACT_QUOTES[type(value)]
    if (
        text.count('"', *match.span("artefacts")) != quotes
        or text.count('"', *match.span("signatures")) != 2 + _SIGNATURE_QUOTES * len(signatures)
        or not _sorted(list(artefacts))
        or not _sorted(list(signatures))
    ):
        return None
    # Everything from the signatures member on is ASCII (_LINE), so its offsets from the end are byte offsets.
    end = len(line) - (len(text) - match.end("signatures"))
    start = end - (match.end("signatures") - match.start("signatures"))
    return entry, line[:start] + line[end:]


def _sorted(keys: list[str]) -> bool:
    """In the canonical encoding's order (code points; these keys are ASCII). Each key is there once."""
    return keys == sorted(keys)
