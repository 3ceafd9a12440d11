"""Identifier and digest patterns take the whole text: a trailing newline is not part of a valid value.

`$` in a Python pattern also matches just before a final newline, so `re.match(r"^...$", "x\\n")` accepts
it; every such pattern is anchored with `\\Z` instead. The values below are each valid as they stand and
refused with one more character at the end.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from audit.trust.decision_log_shape import shape_error
from audit.trust.signatures import KID_PATTERN, SignatureError, parse_signature

ROOT = Path(__file__).resolve().parents[2]
SIGNATURE = "ed25519:alice-1:" + "A" * 86 + "=="


def _entry(**changes):
    entry = {
        "artefacts": {},
        "prev_hash": "sha384:" + "0" * 96,
        "runtime_flags": {"StrategyContext.require_demo_mode": True, "runtime.compliance_confirmed": True},
        "seq": 1,
        "signatures": {"owner": SIGNATURE},
        "stage": "demo",
        "status": "demo_ready",
        "timestamp": "2026-11-29T12:00:00Z",
    }
    entry.update(changes)
    return entry


def test_a_valid_entry_has_the_shape():
    assert shape_error(_entry()) is None


@pytest.mark.parametrize(
    "field, value",
    [
        ("prev_hash", "sha384:" + "0" * 96 + "\n"),
        ("timestamp", "2026-11-29T12:00:00Z\n"),
        ("signatures", {"owner": SIGNATURE + "\n"}),
    ],
)
def test_a_decision_entry_field_with_a_trailing_newline_is_refused(field, value):
    assert shape_error(_entry(**{field: value})) is not None


def test_a_key_id_with_a_trailing_newline_is_refused():
    assert KID_PATTERN.match("alice-1")
    assert KID_PATTERN.match("alice-1\n") is None
    with pytest.raises(SignatureError):
        parse_signature("ed25519:alice-1\n:" + "A" * 86 + "==")


def test_no_anchored_pattern_in_the_product_ends_with_a_dollar():
    """A new `re.compile(r"^...$")` would bring the trailing-newline gap back."""
    dollar = re.compile(r"""re\.compile\(r?["']\^[^"']*\$["']""")
    assert dollar.search('X = re.compile(r"^[a-z]+$")') and not dollar.search('X = re.compile(r"^[a-z]+\\Z")')
    folders = [d for d in ROOT.iterdir() if d.is_dir() and not d.name.startswith(".") and d.name != "tests"]
    sources = [*ROOT.glob("*.py"), *(path for folder in folders for path in folder.rglob("*.py"))]
    assert ROOT / "execution" / "core" / "orders.py" in sources and len(sources) > 200  # the product's code
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sources
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if dollar.search(line)
    ]
    assert offenders == []
