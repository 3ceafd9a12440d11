"""Gates are decided only from a verified report; runtime flags only from verified entries."""

from __future__ import annotations

import pytest

from audit.trust import paths as trust_paths
from audit.trust.gates import GATES, evaluate_gate, runtime_state
from audit.trust.hashing import sha384_file
from tests.audit.helpers import STATUS_SIGNERS, append, read_lines, signers, verify, write_lines
from tests.evidence_factory import append_genuine, stand_in_verifiers


@pytest.fixture(autouse=True)
def _development_licenses(monkeypatch):
    """The genuine license registry of the live gate is signed with the development vendor key."""
    monkeypatch.setenv("OEM_ALLOW_DEVELOPMENT_LICENSES", "true")


@pytest.fixture(autouse=True)
def _stand_ins():
    with stand_in_verifiers():
        yield


def _promote_to_live(keyring, data_dir):
    for gate, status in (
        ("demo_exit", "demo_ready"),
        ("paper_exit", "paper_ready"),
        ("live_go", "live_ready"),
    ):
        append_genuine(
            gate, data_dir=data_dir, keyring=keyring, signers=signers(keyring, STATUS_SIGNERS[status])
        )


def test_empty_logs_fail_every_gate_and_keep_safe_defaults(keyring, data_dir):
    report = verify(keyring, data_dir)
    assert report.ok
    for name in GATES:
        assert not evaluate_gate(name, report).passed
    state = runtime_state(report)
    assert state.require_demo_mode is True and state.compliance_confirmed is False


def test_full_promotion_passes_all_gates_and_unlocks_live(keyring, data_dir):
    _promote_to_live(keyring, data_dir)
    report = verify(keyring, data_dir)
    for name in GATES:
        evaluation = evaluate_gate(name, report)
        assert evaluation.passed, evaluation.missing
    state = runtime_state(report)
    assert state.require_demo_mode is False and state.compliance_confirmed is True


def test_gate_lists_missing_artefacts_and_checklists(keyring, data_dir):
    append(keyring, data_dir, "demo", "demo_ready", artefacts={})
    evaluation = evaluate_gate("demo_exit", verify(keyring, data_dir))
    assert not evaluation.passed
    assert any(m.startswith("artefact smoke_demo_report") for m in evaluation.missing)
    assert any("signed checklist demo_stage1" in m for m in evaluation.missing)


def test_report_with_problems_fails_gate_and_runtime_stays_locked(keyring, data_dir):
    _promote_to_live(keyring, data_dir)
    log = data_dir / "audit" / "decision_logs" / "live_execution.jsonl"
    write_lines(log, read_lines(log) + [b"{}"])
    report = verify(keyring, data_dir)
    evaluation = evaluate_gate("live_go", report)
    assert not evaluation.passed
    assert evaluation.missing[0].startswith("decision logs do not verify:")
    assert runtime_state(report).require_demo_mode is True


def test_revocation_relocks_runtime_and_fails_live_gate(keyring, data_dir):
    _promote_to_live(keyring, data_dir)
    append(keyring, data_dir, "live_execution", "revoked")
    report = verify(keyring, data_dir)
    assert not evaluate_gate("live_go", report).passed
    assert runtime_state(report).require_demo_mode is True


def test_config_hash_must_match_current_config(keyring, data_dir):
    _promote_to_live(keyring, data_dir)
    report = verify(keyring, data_dir)
    assert evaluate_gate(
        "live_go", report, {"config_sha384": sha384_file(trust_paths.DEFAULT_CONFIG_PATH)}
    ).passed
    assert not evaluate_gate("live_go", report, {"config_sha384": "d" * 96}).passed


def test_unknown_gate_fails():
    from audit.trust.verifier import VerificationReport

    assert not evaluate_gate("yolo", VerificationReport(True, (), ())).passed
