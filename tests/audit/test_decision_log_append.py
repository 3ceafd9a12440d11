"""Decisions signed by several people at different times: prepare once, collect signatures, append."""

import pytest

from audit.trust.decision_log import append_signed_entry, prepare_entry
from audit.trust.decision_rules import DecisionLogError, entry_signing_input, sign_checkpoint, signing_context
from tests.audit.helpers import STATUS_FLAGS, append, signers, verify


def collect(keyring, entry, log, who):
    found = signers(keyring, who)
    context = signing_context(keyring, keyring.data_dir)
    return {
        **entry,
        "signatures": {
            role: s.sign_bytes(entry_signing_input(entry, log, role, context=context))
            for role, s in found.items()
        },
    }


def cosign(keyring, entry, log, who):
    """Each signer's checkpoint co-signature, made in the same ceremony as the entry signature."""
    context = signing_context(keyring, keyring.data_dir)
    return sign_checkpoint(entry, log, signers(keyring, who), context=context)


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
    cosigned = {
        **cosign(keyring, entry, "demo", {"owner": "alice"}),
        **cosign(keyring, entry, "demo", {"compliance": "carol"}),
    }
    append_signed_entry(
        logs_dir / "demo.jsonl", both, keyring=keyring, data_dir=data_dir, checkpoint_signatures=cosigned
    )
    assert verify(keyring, data_dir, ["demo"]).ok


def test_an_entry_without_checkpoint_co_signatures_is_refused_and_nothing_written(
    keyring, data_dir, logs_dir
):
    """Fails if append_signed_entry stops checking the checkpoint co-signatures before writing."""
    log = logs_dir / "demo.jsonl"
    entry = prepare_entry(
        log,
        status="demo_ready",
        artefacts={},
        runtime_flags=STATUS_FLAGS["demo_ready"],
        keyring=keyring,
        data_dir=data_dir,
    )
    signed = collect(keyring, entry, "demo", {"owner": "alice", "compliance": "carol"})
    with pytest.raises(DecisionLogError, match="checkpoint is signed by"):
        append_signed_entry(log, signed, keyring=keyring, data_dir=data_dir)
    assert not log.exists() or log.read_bytes() == b""


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
