"""A precompiled check of the decision-log entry shape, equivalent to docs/schemas/decision_log_v2.json.

jsonschema costs ~90 us per entry, more than an Ed25519 verification, so the verifier uses this hand-written
mirror when the schema file is the one it was written for (SCHEMA_SHA384) and falls back to jsonschema for
any other schema. tests/audit/test_decision_log_shape.py checks both agree on valid and mutated entries and
that SCHEMA_SHA384 still matches the shipped file, so the two cannot drift silently.

One deliberate difference: `seq` must be a JSON integer literal here (jsonschema also accepts `1.0`).
Entries that pass this check contain only ASCII keys, strings, booleans, null and safe integers, which is
what lets the verifier canonicalise them with json.dumps (see canonical.fast_canonical_bytes).
"""

from __future__ import annotations

import re
from typing import Any

# SHA-384 of docs/schemas/decision_log_v2.json, the schema this module mirrors.
SCHEMA_SHA384 = (
    "0c411cf31b53214554522f7f4b2fae7c582d0edf8d0f71c1e2612b50cd921c9c7b8d4d747ee2d8d59a245985d4dc6174"
)

_REQUIRED = ("seq", "prev_hash", "timestamp", "stage", "status", "artefacts", "runtime_flags", "signatures")
_ALLOWED = frozenset((*_REQUIRED, "note"))
_STAGES = frozenset({"demo", "paper", "live"})
_STATUSES = frozenset({"demo_ready", "paper_ready", "live_ready", "revoked"})
_FLAGS = frozenset({"StrategyContext.require_demo_mode", "runtime.compliance_confirmed"})
_ROLES = frozenset({"owner", "compliance", "engineer"})
_MAX_SAFE_INT = 9007199254740991

# re.search, like jsonschema's "pattern" keyword, so both accept exactly the same strings.
_PREV_HASH = re.compile(r"^sha384:[0-9a-f]{96}\Z")
_TIMESTAMP = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?Z\Z")
_ARTEFACT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}\Z")
_HEX384 = re.compile(r"^[0-9a-f]{96}\Z")
_SIGNATURE = re.compile(r"^(ed25519|hmac-sha384):[A-Za-z0-9][A-Za-z0-9._-]{0,127}:[A-Za-z0-9+/]+={0,2}\Z")


def shape_error(entry: Any) -> str | None:
    """None when `entry` has the v2 shape, else a one-line reason."""
    if type(entry) is not dict:
        return "entry is not a JSON object"
    keys = entry.keys()
    for name in _REQUIRED:
        if name not in entry:
            return f"missing field {name!r}"
    if len(keys) > len(_REQUIRED):
        extra = sorted(set(keys) - _ALLOWED)
        if extra:
            return f"unexpected field {extra[0]!r}"
    seq = entry["seq"]
    if type(seq) is not int or not 1 <= seq <= _MAX_SAFE_INT:
        return "seq must be an integer >= 1"
    value = entry["prev_hash"]
    if type(value) is not str or not _PREV_HASH.search(value):
        return "prev_hash must be sha384:<96 hex>"
    value = entry["timestamp"]
    if type(value) is not str or not _TIMESTAMP.search(value):
        return "timestamp must be UTC ISO 8601 ending in Z"
    if type(entry["stage"]) is not str or entry["stage"] not in _STAGES:
        return "stage must be demo, paper or live"
    if type(entry["status"]) is not str or entry["status"] not in _STATUSES:
        return "unknown status"
    if "note" in entry and (type(entry["note"]) is not str or len(entry["note"]) > 2000):
        return "note must be a string of at most 2000 characters"
    error = _artefacts_error(entry["artefacts"])
    if error:
        return error
    flags = entry["runtime_flags"]
    if type(flags) is not dict or flags.keys() != _FLAGS:
        return "runtime_flags must hold exactly the two runtime flags"
    for name, flag in flags.items():
        if type(flag) is not bool:
            return f"runtime flag {name} must be true or false"
    signatures = entry["signatures"]
    if type(signatures) is not dict or not signatures:
        return "signatures must be a non-empty object"
    for role, text in signatures.items():
        if role not in _ROLES:
            return f"unknown signer role {role!r}"
        if type(text) is not str or not _SIGNATURE.search(text):
            return f"malformed signature for {role}"
    return None


def _artefacts_error(artefacts: Any) -> str | None:
    if type(artefacts) is not dict:
        return "artefacts must be an object"
    if len(artefacts) > 64:
        return "too many artefacts"
    for name, value in artefacts.items():
        if not _ARTEFACT_NAME.search(name):
            return f"invalid artefact name {name[:40]!r}"
        if value is None:
            continue
        kind = type(value)
        if kind is str:
            if len(value) > 4096:
                return f"artefact {name} is too long"
        elif kind is dict:
            if value.keys() != {"path", "sha384"}:
                return f"artefact {name} must be {{path, sha384}}"
            path, digest = value["path"], value["sha384"]
            if type(path) is not str or not 1 <= len(path) <= 4096:
                return f"artefact {name} has an invalid path"
            if type(digest) is not str or not _HEX384.search(digest):
                return f"artefact {name} sha384 must be 96 hex characters"
        else:
            return f"artefact {name} must be a string, null or {{path, sha384}}"
    return None
