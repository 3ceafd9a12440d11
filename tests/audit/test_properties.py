"""Property tests: canonical round trip, fast paths equal the reference ones, any byte change is caught."""

from __future__ import annotations

import json
import string

import jsonschema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.trust.canonical import (
    DOMAIN_DECISION_LOG,
    canonical_bytes,
    fast_canonical_bytes,
    signing_input,
    strict_loads,
)
from audit.trust.decision_log_shape import SCHEMA_SHA384, shape_error
from audit.trust.decision_rules import entry_signing_input
from audit.trust.hashing import sha384_file
from audit.trust.paths import DECISION_LOG_SCHEMA_PATH
from audit.trust.verifier import verify_decision_logs

_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | _text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_text, children, max_size=4),
    max_leaves=20,
)


@given(_json_values)
@settings(max_examples=200)
def test_canonical_round_trip(value):
    assert strict_loads(canonical_bytes(value)) == value


_hex96 = st.text("0123456789abcdef", min_size=96, max_size=96)
_artefact = st.none() | _text | st.fixed_dictionaries({"path": _text.filter(bool), "sha384": _hex96})
_entries = st.fixed_dictionaries(
    {
        "seq": st.integers(1, 2**53 - 1),
        "prev_hash": _hex96.map(lambda h: "sha384:" + h),
        "timestamp": st.just("2025-08-18T14:25:04.123456Z"),
        "stage": st.sampled_from(["demo", "paper", "live"]),
        "status": st.sampled_from(["demo_ready", "paper_ready", "live_ready", "revoked"]),
        "artefacts": st.dictionaries(
            st.text(string.ascii_lowercase + "_", min_size=1, max_size=10).filter(lambda s: s[0] != "_"),
            _artefact,
            max_size=5,
        ),
        "runtime_flags": st.fixed_dictionaries(
            {
                "StrategyContext.require_demo_mode": st.booleans(),
                "runtime.compliance_confirmed": st.booleans(),
            }
        ),
        "signatures": st.dictionaries(
            st.sampled_from(["owner", "compliance", "engineer"]),
            st.just("ed25519:signer-a:" + "A" * 86 + "=="),
            min_size=1,
        ),
    },
    optional={"note": _text},
)


@given(_entries)
@settings(max_examples=200)
def test_fast_canonical_equals_rfc8785_for_valid_entries(entry):
    assert shape_error(entry) is None
    assert fast_canonical_bytes(entry) == canonical_bytes(entry)


@given(
    _entries, st.sampled_from(["demo", "paper", "live_execution"]), st.sampled_from(["owner", "compliance"])
)
@settings(max_examples=100)
def test_spliced_signing_input_equals_reference(entry, log, role):
    unsigned = {k: v for k, v in entry.items() if k != "signatures"}
    context = {"installation_id": "inst-1", "deployment_id": "dep-1/deployments/2"}
    reference = signing_input(DOMAIN_DECISION_LOG, {"entry": unsigned, "log": log, "role": role, **context})
    assert entry_signing_input(entry, log, role, context=context) == reference
    spliced = (
        DOMAIN_DECISION_LOG.encode()
        + b"\x00"
        + b'{"deployment_id":'
        + canonical_bytes(context["deployment_id"])
        + b',"entry":'
        + fast_canonical_bytes(unsigned)
        + b',"installation_id":'
        + canonical_bytes(context["installation_id"])
        + b',"log":'
        + canonical_bytes(log)
        + b',"role":'
        + canonical_bytes(role)
        + b"}"
    )
    assert spliced == reference


_SCHEMA = jsonschema.Draft202012Validator(json.loads(DECISION_LOG_SCHEMA_PATH.read_text()))
_mutations = st.sampled_from(
    [
        ("seq", 0),
        ("seq", "1"),
        ("seq", True),
        ("prev_hash", "sha384:xyz"),
        ("timestamp", "2025-08-18 14:25:04"),
        ("stage", "prod"),
        ("stage", ["demo"]),
        ("status", "go"),
        ("artefacts", []),
        ("artefacts", {"Bad": "x"}),
        ("artefacts", {"a": 1}),
        ("artefacts", {"a": {"path": "x"}}),
        ("artefacts", {"a": {"path": "x", "sha384": "00"}}),
        ("runtime_flags", {}),
        ("runtime_flags", {"StrategyContext.require_demo_mode": 1, "runtime.compliance_confirmed": False}),
        ("signatures", {}),
        ("signatures", {"boss": "ed25519:k:AA=="}),
        ("signatures", {"owner": "rsa:k:AA=="}),
        ("extra", 1),
        ("note", 5),
    ]
)


@given(_entries, _mutations)
@settings(max_examples=200)
def test_fast_shape_check_agrees_with_jsonschema(entry, mutation):
    assert _SCHEMA.is_valid(entry) and shape_error(entry) is None
    field, value = mutation
    mutated = {**entry, field: value}
    assert (shape_error(mutated) is None) == _SCHEMA.is_valid(mutated)


def test_fast_shape_check_is_for_the_shipped_schema():
    assert sha384_file(DECISION_LOG_SCHEMA_PATH) == SCHEMA_SHA384


@given(st.data())
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_single_byte_change_breaks_verification(signed_demo_log, data):
    log_path, keyring, original = signed_demo_log
    position = data.draw(st.integers(0, len(original) - 1))
    new_byte = data.draw(st.integers(0, 255).filter(lambda b: b != original[position]))
    mutated = bytearray(original)
    mutated[position] = new_byte
    log_path.write_bytes(bytes(mutated))
    try:
        report = verify_decision_logs([log_path], keyring, data_dir=keyring.data_dir)
        assert not report.ok, f"byte {position} -> {new_byte:#x} went unnoticed"
    finally:
        log_path.write_bytes(original)
