"""Decisions signed by several people at different times: prepare once, collect signatures, append."""

import pytest

from audit.trust.decision_log import (
    DecisionLogError,
    append_signed_entry,
    entry_signing_input,
    prepare_entry,
)
from tests.audit.helpers import STATUS_FLAGS, append, signers, verify


def collect(keyring, entry, log, who):
    found = signers(keyring, who)
    return {
        **entry,
        "signatures": {
            role: s.sign_bytes(entry_signing_input(entry, log, role)) for role, s in found.items()
        },
    }


def test_signatures_collected_separately_append_one_verified_entry(keyring, data_dir, logs_dir):
    entry = prepare_entry(
        logs_dir / "demo.jsonl",
        status="demo_ready",
        artefacts={},
        runtime_flags=STATUS_FLAGS["demo_ready"],
        keyring=keyring,
        data_dir=data_dir,
    )
    owner_half = collect(keyring, entry, "demo", {"owner": "alice"})
    both = {
        **owner_half,
        "signatures": {
            **owner_half["signatures"],
            **collect(keyring, entry, "demo", {"compliance": "carol"})["signatures"],
        },
    }
    append_signed_entry(logs_dir / "demo.jsonl", both, keyring=keyring, data_dir=data_dir)
    assert verify(keyring, data_dir, ["demo"]).ok


def test_an_entry_prepared_before_another_append_is_refused_and_nothing_written(keyring, data_dir, logs_dir):
    log = logs_dir / "demo.jsonl"
    entry = prepare_entry(
        log,
        status="demo_ready",
        artefacts={},
        runtime_flags=STATUS_FLAGS["demo_ready"],
        keyring=keyring,
        data_dir=data_dir,
    )
    append(keyring, data_dir, "demo", "demo_ready")
    before = log.read_bytes()
    signed = collect(keyring, entry, "demo", {"owner": "alice", "compliance": "carol"})
    with pytest.raises(DecisionLogError, match="changed since this entry was prepared"):
        append_signed_entry(log, signed, keyring=keyring, data_dir=data_dir)
    assert log.read_bytes() == before


def test_a_collected_entry_missing_a_role_is_refused(keyring, data_dir, logs_dir):
    log = logs_dir / "demo.jsonl"
    entry = prepare_entry(
        log,
        status="demo_ready",
        artefacts={},
        runtime_flags=STATUS_FLAGS["demo_ready"],
        keyring=keyring,
        data_dir=data_dir,
    )
    with pytest.raises(DecisionLogError, match="refusing to append"):
        append_signed_entry(
            log, collect(keyring, entry, "demo", {"owner": "alice"}), keyring=keyring, data_dir=data_dir
        )
    assert not log.exists() or log.read_bytes() == b""
