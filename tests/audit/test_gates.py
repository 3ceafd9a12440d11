"""Gates are decided only from a verified report; runtime flags only from verified entries."""

from __future__ import annotations

from audit.trust.decision_log import artefact_file
from audit.trust.gates import GATES, evaluate_gate, runtime_state
from tests.audit.helpers import append, read_lines, verify, write_lines


def _file_artefact(data_dir, name):
    path = data_dir / "evidence" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"evidence {name}\n")
    return artefact_file(path, data_dir)


def _full_artefacts(data_dir, gate_name):
    gate = GATES[gate_name]
    artefacts = {}
    for artefact in gate.artefacts:
        artefacts[artefact.name] = (
            _file_artefact(data_dir, artefact.name) if artefact.file else "sha384:" + "c" * 96
        )
    for checklist in gate.checklists:
        artefacts[f"checklist_{checklist}"] = _file_artefact(data_dir, checklist)
    return artefacts


def _promote_to_live(keyring, data_dir):
    append(keyring, data_dir, "demo", "demo_ready", artefacts=_full_artefacts(data_dir, "demo_exit"))
    append(keyring, data_dir, "paper", "paper_ready", artefacts=_full_artefacts(data_dir, "paper_exit"))
    append(keyring, data_dir, "live_execution", "live_ready", artefacts=_full_artefacts(data_dir, "live_go"))


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
    append(keyring, data_dir, "demo", "demo_ready", artefacts={"config_hash": "sha384:" + "a" * 96})
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
    assert evaluate_gate("live_go", report, {"config_sha384": "c" * 96}).passed
    assert not evaluate_gate("live_go", report, {"config_sha384": "d" * 96}).passed


def test_unknown_gate_fails():
    from audit.trust.verifier import VerificationReport

    assert not evaluate_gate("yolo", VerificationReport(True, (), ())).passed
