"""Request body parsers for the API, bounded before anything is built from the bytes.

The body size is bounded by Django (`DATA_UPLOAD_MAX_MEMORY_SIZE`, read through `request.body` before a parser
runs: an oversize body is a 413). The nesting depth is counted here without recursion, so a body of a hundred
thousand brackets is a 400 and never reaches the recursive decoder.
"""

import codecs
import json
import re

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.utils.json import strict_constant

DEFAULT_MAX_JSON_DEPTH = 32

# A JSON string, escapes included, written so the regex engine never backtracks into it.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_BRACKET = re.compile(r"[\[\]{}]")


def json_depth_exceeds(text: str, limit: int) -> bool:
    """True when brackets outside strings nest deeper than `limit`. Linear, no recursion."""
    if text.count("[") + text.count("{") <= limit:
        return False  # too few brackets to nest that deep, wherever they are: the common case, in C
    depth = 0
    for match in _BRACKET.finditer(_STRING.sub('""', text)):
        if match.group() in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


class BoundedJSONParser(JSONParser):
    """DRF's strict JSON parser with a nesting limit checked before decoding."""

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.decode(stream.read(), encoding)
        except (UnicodeDecodeError, LookupError):
            raise ParseError(f"JSON parse error - the body is not valid {encoding}") from None
        limit = getattr(settings, "OEM_API_MAX_JSON_DEPTH", DEFAULT_MAX_JSON_DEPTH)
        if json_depth_exceeds(text, limit):
            raise ParseError(f"JSON parse error - nesting deeper than {limit} levels")
        try:
            return json.loads(text, parse_constant=strict_constant if self.strict else None)
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
