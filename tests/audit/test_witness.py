"""Monotonic state witnessed twice: an older, validly signed log is refused, and so is a lost witness."""

from __future__ import annotations

import shutil

import pytest

from audit.trust import paths
from audit.trust.decision_rules import line_hash, signing_context, witness_key
from audit.trust.gates import evaluate_all
from audit.trust.witness import Mark, SealedFileStore, Witness, WitnessError, witness_for
from tests.audit.helpers import append, read_lines, reasons, verify, write_lines


def _snapshot(log):
    checkpoint = paths.checkpoint_path(log)
    return log.read_bytes(), checkpoint.read_bytes()


def _restore(log, snapshot):
    log.write_bytes(snapshot[0])
    paths.checkpoint_path(log).write_bytes(snapshot[1])


def test_a_decision_log_and_checkpoint_rolled_back_after_a_newer_state_was_seen_are_refused(
    keyring, data_dir
):
    """Rollback: the older log + its own co-signed checkpoint are entirely valid; fails if the verifier's
    witness check (_check_witness) is removed."""
    append(keyring, data_dir, "demo", "demo_ready")
    log = paths.decision_log_path("demo", data_dir)
    before_revocation = _snapshot(log)
    append(keyring, data_dir, "demo", "revoked")
    assert not evaluate_all(verify(keyring, data_dir))["demo_exit"].passed
    _restore(log, before_revocation)
    report = verify(keyring, data_dir)
    assert not report.ok
    problem = reasons(report)
    assert f"{log}:0: {log}: rolled back: file at 1 " in problem and "witness at 2 " in problem
    assert not evaluate_all(report)["demo_exit"].passed


def test_a_truncated_log_resealed_with_box_readable_secrets_is_refused(keyring, data_dir):
    """Re-forge: the tail is cut, the checkpoint re-sealed with the audit HMAC key and both witness places
    rewound; fails if the verifier accepts a checkpoint the signers did not co-sign (checkpoint_problem)."""
    append(keyring, data_dir, "demo", "demo_ready")
    append(keyring, data_dir, "demo", "revoked")
    log = paths.decision_log_path("demo", data_dir)
    lines = read_lines(log)
    write_lines(log, lines[:1], keyring)  # truncated, checkpoint re-sealed with the box-readable HMAC key
    witness_for(data_dir).reset(
        witness_key("demo", signing_context(keyring, data_dir)),
        Mark(1, line_hash(lines[0])),
        reason="attacker rewinds both places",
        actor="mallory",
    )
    report = verify(keyring, data_dir)
    assert not report.ok
    assert "not co-signed by the signers" in reasons(report)
    assert not evaluate_all(report)["demo_exit"].passed


def test_a_deleted_state_file_is_detected_by_the_other_place(keyring, data_dir):
    """Fails if a mark missing in one required place is no longer an error (Witness.check's lost places)."""
    append(keyring, data_dir, "demo", "demo_ready")
    paths.witness_state_path(data_dir).unlink()
    assert "witness lost in state file" in reasons(verify(keyring, data_dir))


def test_a_log_in_use_with_no_witness_anywhere_is_an_error_never_no_mark(keyring, data_dir):
    """Fails if Witness.check treats a file in use without any mark as fresh."""
    append(keyring, data_dir, "demo", "demo_ready")
    paths.witness_state_path(data_dir).unlink()
    shutil.rmtree(paths.witness_dir(data_dir))
    (paths.witness_dir(data_dir)).mkdir()
    problem = reasons(verify(keyring, data_dir))
    assert "in use (at 1 " in problem and "no witness holds a mark" in problem


def test_an_edited_witness_is_refused(keyring, data_dir):
    """Fails if the seal of a sealed place is not checked."""
    append(keyring, data_dir, "demo", "demo_ready")
    state = paths.witness_state_path(data_dir)
    state.write_bytes(state.read_bytes().replace(b'"seq":1', b'"seq":0'))
    assert "seal does not verify" in reasons(verify(keyring, data_dir))


def test_the_witness_advances_only_forward_and_names_both_positions(tmp_path):
    witness = Witness(
        [
            SealedFileStore(tmp_path / "a" / "w.json", "place a"),
            SealedFileStore(tmp_path / "b" / "w.json", "place b"),
        ]
    )
    witness.begin("registry", Mark(0, "sha384:genesis"), label="registry.jsonl")
    witness.advance("registry", Mark(3, "sha384:three"), label="registry.jsonl")
    with pytest.raises(
        WitnessError, match=r"registry.jsonl: rolled back: file at 2 sha384:two\.\.\., witness at 3"
    ):
        witness.check("registry", Mark(2, "sha384:two"), label="registry.jsonl")
    with pytest.raises(WitnessError, match="replaced"):
        witness.check("registry", Mark(3, "sha384:other"), label="registry.jsonl")
    with pytest.raises(WitnessError, match="does not extend"):
        witness.check(
            "registry", Mark(4, "sha384:four"), label="registry.jsonl", head_at=lambda seq: "sha384:x"
        )
    witness.advance(
        "registry", Mark(4, "sha384:four"), label="registry.jsonl", head_at=lambda seq: "sha384:three"
    )
    assert {m.seq for m in witness.marks("registry").values()} == {4}


def test_a_reset_is_journaled_in_every_place_and_reported_to_hooks(tmp_path):
    """restore_installation's way back: fails if reset stops journaling or telling the hooks."""
    from audit.trust import witness as witness_module

    seen = []
    witness_module.register_reset_hook("test", seen.append)
    try:
        witness = Witness([SealedFileStore(tmp_path / p / "w.json", p) for p in ("a", "b")])
        witness.begin("crl_number", Mark(0, "crl:0"), label="crl.json")
        witness.advance("crl_number", Mark(5, "crl:5"), label="crl.json")
        record = witness.reset(
            "crl_number", Mark(2, "crl:2"), reason="restored backup 2026-11-28", actor="admin"
        )
    finally:
        witness_module._reset_hooks.pop("test", None)
    assert seen == [record] and record["before"] == {"a": "5 crl:5...", "b": "5 crl:5..."}
    for place in ("a", "b"):
        assert b"restored backup" in (tmp_path / place / "witness_resets.jsonl").read_bytes()
    witness.check("crl_number", Mark(2, "crl:2"), label="crl.json")
    with pytest.raises(WitnessError, match="needs a reason"):
        witness.reset("crl_number", None, reason="", actor="admin")


def test_a_stale_writer_never_lowers_a_mark(tmp_path):
    """Two processes advancing at once: fails if a sealed place lets an older mark overwrite a later one."""
    store = SealedFileStore(tmp_path / "w.json", "place")
    store.put("audit_trail", Mark(3, "sha384:three"))
    store.put("audit_trail", Mark(2, "sha384:two"))  # a writer that read the state before the advance to 3
    assert store.get("audit_trail") == Mark(3, "sha384:three")
    store.put("audit_trail", Mark(2, "sha384:two"), force=True)  # only a reset goes back
    assert store.get("audit_trail") == Mark(2, "sha384:two")
