"""Runbooks as data: strict loading, gate coverage, Markdown drift, versions, the signed checklist PDF."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest

from audit.runbooks.cli import render_runbooks_main
from audit.runbooks.model import (
    DATA_DIR,
    ROLES,
    RunbookError,
    checklist,
    decision_command,
    gate_artefacts_produced,
    load_runbooks,
    version,
)
from audit.runbooks.pdf import document_sha384, render_checklist_pdf
from audit.runbooks.render import DEFAULT_OUT, check, render_all
from audit.trust.gates import DECISION_ARTEFACTS, GATES

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "docs" / "schemas" / "signed_checklist_v1.json"

EXPECTED_CHECKLISTS = {
    "DEMO_PAPER_LIVE_CHECKLIST": ["demo_stage1", "paper_stage2", "live_stage3"],
    "paper_trading": ["paper_trading"],
    "LIVE_EXECUTION_CHECKLIST": ["live_execution"],
    "OEM_INSTALLER_ACCEPTANCE": ["installer_acceptance"],
    "license_provisioning": ["license_provisioning"],
    "offline_reinstall": ["offline_reinstall"],
    "STAGE4_MULTI_STRATEGY_SMOKE": ["stage4_multi_strategy_smoke"],
}


@pytest.fixture(scope="module")
def runbooks():
    return load_runbooks()


# ---- data ----------------------------------------------------------------------------------------------
def test_all_runbooks_load_with_their_checklists(runbooks):
    assert {rb: [c.id for c in r.checklists] for rb, r in runbooks.items()} == EXPECTED_CHECKLISTS
    for runbook in runbooks.values():
        for item in runbook.checklists:
            assert checklist(item.id) == item
            for step in item.steps:
                assert step.responsible in ROLES
                assert step.step and step.acceptance


def test_gate_checklists_exist_with_their_gate(runbooks):
    for name, gate in GATES.items():
        for checklist_id in gate.checklists:
            assert checklist(checklist_id, runbooks).gate == name


def test_every_gate_artefact_is_produced_by_a_step_of_that_gate(runbooks):
    for name, gate in GATES.items():
        produced = gate_artefacts_produced(runbooks, name)
        missing = [
            a.name for a in gate.artefacts if a.name not in produced and a.name not in DECISION_ARTEFACTS
        ]
        assert not missing, f"{name}: no step produces {missing}"


def test_gate_file_artefacts_are_hashed_in_every_producing_step(runbooks):
    for name, gate in GATES.items():
        file_artefacts = {a.name: a.file for a in gate.artefacts}
        for runbook in runbooks.values():
            for item in runbook.checklists:
                if item.gate != name:
                    continue
                for step in item.steps:
                    for artefact in step.artefacts:
                        if artefact.name in file_artefacts and step.gate_artefact:
                            assert artefact.hash == file_artefacts[artefact.name], (item.id, step.id)


def test_demo_stage1_has_the_required_steps():
    item = checklist("demo_stage1")
    steps = {s.id: s for s in item.steps}
    assert steps["validate_config"].responsible == "engineer"
    assert steps["validate_config"].command == "python scripts/validate_config.py --profile demo"
    assert {a.name for a in steps["validate_config"].artefacts} >= {"config_hash", "config_signature"}
    assert steps["smoke_demo"].responsible == "engineer"
    assert steps["smoke_demo"].command == "python scripts/smoke_demo_strategies.py --cycles 1"
    assert steps["metrics_service"].responsible == "engineer"
    assert "run_metrics_service.py --shutdown-after 0" in steps["metrics_service"].command
    assert "OEM_INSTALLER_ACCEPTANCE" in steps["installer_acceptance"].step
    assert steps["product_owner_approval"].responsible == "product_owner"


def test_every_plan_sprint_has_steps(runbooks):
    sprints = {s.sprint for r in runbooks.values() for c in r.checklists for s in c.steps}
    assert {1, 2, 3, 4} <= sprints


def test_decision_command_follows_the_gate():
    command = decision_command(checklist("paper_trading"))
    gate = GATES["paper_exit"]
    for artefact in gate.artefacts:
        if artefact.name in DECISION_ARTEFACTS:  # update archives the evidence and records the index itself
            assert f"--artefact {artefact.name}=" not in command
            continue
        assert f"--artefact {artefact.name}=" in command
    assert "--artefact checklist_paper_trading=@" in command
    for role in gate.signer_roles:
        assert f"--signer {role}=" in command
    assert decision_command(checklist("paper_stage2")) is None
    assert decision_command(checklist("offline_reinstall")) is None


def test_unknown_checklist():
    with pytest.raises(RunbookError, match="unknown checklist 'nope'"):
        checklist("nope")


# ---- strict validation ---------------------------------------------------------------------------------
GOOD = """\
id: sample
title: Sample
purpose: A sample runbook.
gate: null
references: []
checklists:
  - id: sample_list
    title: Sample list
    steps:
      - id: first
        step: Do the first thing.
        responsible: engineer
        artefacts:
          - {name: report, description: a report, hash: true}
        acceptance: It worked.
        command: python scripts/first.py
      - id: second
        step: Do the second thing.
        responsible: compliance
        artefacts: []
        acceptance: It also worked.
        command: null
"""


def _load(tmp_path: Path, text: str, name: str = "sample.yaml"):
    directory = tmp_path / "data"
    directory.mkdir(exist_ok=True)
    (directory / name).write_text(text, encoding="utf-8")
    return load_runbooks(directory)


def _error(tmp_path: Path, text: str, name: str = "sample.yaml") -> str:
    with pytest.raises(RunbookError) as info:
        _load(tmp_path, text, name)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(name)
    return message


def test_good_sample_loads(tmp_path):
    assert [s.id for s in _load(tmp_path, GOOD)["sample"].checklists[0].steps] == ["first", "second"]


def test_duplicate_key_names_file_and_step(tmp_path):
    bad = GOOD.replace(
        "        responsible: compliance\n", "        responsible: compliance\n        step: Again.\n"
    )
    message = _error(tmp_path, bad)
    assert "step second" in message and "duplicate key 'step'" in message


def test_unknown_role_names_file_and_step(tmp_path):
    message = _error(tmp_path, GOOD.replace("responsible: compliance", "responsible: janitor"))
    assert "checklist sample_list: step second: unknown responsible 'janitor'" in message


def test_duplicate_step_id_names_file_and_step(tmp_path):
    message = _error(tmp_path, GOOD.replace("id: second", "id: first"))
    assert "step first: duplicate step id" in message


def test_missing_field_names_file_and_step(tmp_path):
    message = _error(tmp_path, GOOD.replace("        acceptance: It also worked.\n", ""))
    assert "step second: missing field(s) in step: acceptance" in message


def test_unknown_key_is_rejected(tmp_path):
    message = _error(tmp_path, GOOD.replace("command: null", "command: null\n        owner: bob"))
    assert "step second: unknown key(s) in step: owner" in message


def test_bad_artefact_and_gate(tmp_path):
    assert "artefact report: hash must be true or false" in _error(
        tmp_path, GOOD.replace("hash: true", "hash: 1")
    )
    assert "unknown gate 'go_live'" in _error(tmp_path, GOOD.replace("gate: null", "gate: go_live"))


def test_runbook_id_must_match_file_name(tmp_path):
    assert "must match the file name" in _error(tmp_path, GOOD, "other.yaml")


def test_duplicate_checklist_id_across_files(tmp_path):
    _load(tmp_path, GOOD)
    message = _error(tmp_path, GOOD.replace("id: sample\n", "id: sample2\n"), "sample2.yaml")
    assert "checklist sample_list: duplicate checklist id (also in sample.yaml)" in message


# ---- versions ------------------------------------------------------------------------------------------
def test_version_changes_when_a_step_changes(tmp_path):
    first = _load(tmp_path, GOOD)["sample"].checklists[0]
    assert version(first) == version(_load(tmp_path, GOOD)["sample"].checklists[0])
    assert version(first).startswith("sha384:") and len(version(first)) == 7 + 96
    changed = _load(tmp_path, GOOD.replace("Do the second thing.", "Do the second thing twice."))
    assert version(changed["sample"].checklists[0]) != version(first)
    reworded = _load(tmp_path, GOOD.replace("It worked.", "It worked well."))
    assert version(reworded["sample"].checklists[0]) != version(first)


# ---- Markdown: render + drift --------------------------------------------------------------------------
def test_committed_runbooks_match_the_data():
    """The drift test: docs/runbooks must be re-rendered (scripts/render_runbooks.py) after a data change."""
    assert check(DEFAULT_OUT) == []


def test_render_is_deterministic_and_check_reports_drift(tmp_path, capsys):
    out = tmp_path / "runbooks"
    paths = render_all(out)
    assert sorted(p.name for p in paths) == sorted(f"{rb}.md" for rb in EXPECTED_CHECKLISTS)
    first = {p.name: p.read_bytes() for p in paths}
    render_all(out)
    assert {p.name: p.read_bytes() for p in out.glob("*.md")} == first
    for path in paths:
        assert path.read_bytes() == (DEFAULT_OUT / path.name).read_bytes()
    text = (out / "DEMO_PAPER_LIVE_CHECKLIST.md").read_text()
    assert "| Step | Responsible | Artefacts | Acceptance | Command |" in text
    assert f"version `{version(checklist('demo_stage1'))}`" in text
    assert '<a id="etap-1"></a>' in text

    (out / "paper_trading.md").write_text("edited\n")
    (out / "offline_reinstall.md").unlink()
    shutil.copy(out / "license_provisioning.md", out / "OLD_RUNBOOK.md")
    (out / "NOTES.md").write_text("hand-written, not generated\n")
    assert check(out) == [
        f"{out / 'offline_reinstall.md'}: missing",
        f"{out / 'paper_trading.md'}: drifted",
        f"{out / 'OLD_RUNBOOK.md'}: extra (generated, but no runbook OLD_RUNBOOK in the data)",
    ]
    assert render_runbooks_main(["--check", "--out", str(out)]) == 1
    assert len(capsys.readouterr().err.strip().splitlines()) == 3
    assert render_runbooks_main(["--out", str(out)]) == 0
    assert render_runbooks_main(["--check", "--out", str(out)]) == 0
    assert (out / "NOTES.md").exists() and not (out / "OLD_RUNBOOK.md").exists()


def test_cli_reports_bad_data_in_one_line(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    (data / "sample.yaml").write_text(GOOD.replace("responsible: engineer", "responsible: nobody"))
    assert render_runbooks_main(["--data", str(data), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "sample.yaml" in err and "step first" in err
    assert render_runbooks_main(["--bogus"]) == 2


def test_data_dir_is_the_package_data():
    assert DATA_DIR == REPO / "audit" / "runbooks" / "data"


# ---- PDF -----------------------------------------------------------------------------------------------
def _document(checklist_id: str = "demo_stage1") -> dict:
    item = checklist(checklist_id)
    steps = []
    for index, step in enumerate(item.steps):
        signatures = [
            {
                "username": "bob",
                "printed_name": "Bob Builder",
                "role": step.responsible,
                "meaning": "performed",
                "reason": f"completed {step.id}",
                "signed_at": "2025-08-18T14:00:00Z",
                "kid": "ed25519-bob-1",
                "signature": "ed25519:ed25519-bob-1:" + "Q" * 86 + "==",
                "void": None,
            }
        ]
        if index == 1:
            signatures[0]["void"] = {"at": "2025-08-18T15:00:00Z", "reason": "wrong report attached"}
            signatures.append(
                {
                    **signatures[0],
                    "username": "erin",
                    "printed_name": "Erin Approver",
                    "meaning": "approved",
                    "void": None,
                }
            )
        steps.append(
            {
                "id": step.id,
                "step": step.step,
                "responsible": step.responsible,
                "acceptance": step.acceptance,
                "artefacts": [
                    {"name": a.name, "path": f"var/{a.name}.jsonl", "sha384": "ab" * 48}
                    if a.hash
                    else {"name": a.name, "path": None, "sha384": None, "value": "sha384:" + "cd" * 48}
                    for a in step.artefacts
                ],
                "signatures": signatures,
            }
        )
    return {
        "schema": "oem/signed-checklist/v1",
        "installation_id": "inst-" + "0" * 32,
        "deployment_id": "dep-" + "1" * 16 + "/deployments/7",
        "deployment": "acme-demo",
        "deployment_pk": 7,
        "gate": item.gate,
        "runbook": item.runbook,
        "checklist": item.id,
        "title": item.title,
        "version": version(item),
        "steps": steps,
        "exported_at": "2025-08-18T16:00:00Z",
    }


def test_sample_document_matches_the_schema():
    schema = json.loads(SCHEMA.read_text())
    jsonschema.validators.validator_for(schema).check_schema(schema)
    jsonschema.validate(_document(), schema)
    broken = _document()
    broken["steps"][0]["signatures"][0]["meaning"] = "witnessed"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_pdf_is_deterministic():
    doc = _document()
    first = render_checklist_pdf(doc)
    assert first.startswith(b"%PDF-")
    assert render_checklist_pdf(json.loads(json.dumps(doc))) == first
    other = _document()
    other["steps"][0]["signatures"][0]["reason"] = "something else"
    assert render_checklist_pdf(other) != first


def test_pdf_shows_names_void_marks_and_document_hash():
    doc = _document()
    pdf = render_checklist_pdf(doc, compress=False)
    for text in (b"Bob Builder", b"Erin Approver", b"acme-demo", b"demo_exit", b"wrong report attached"):
        assert text in pdf, text
    assert b"VOID" in pdf
    assert document_sha384(doc).encode() in pdf
    assert version(checklist("demo_stage1")).encode() in pdf
    unvoided = _document()
    unvoided["steps"][1]["signatures"][0]["void"] = None
    assert b"VOID" not in render_checklist_pdf(unvoided, compress=False)


def test_pdf_rejects_a_malformed_document():
    doc = _document()
    del doc["steps"][0]["signatures"][0]["printed_name"]
    with pytest.raises(ValueError, match="signature lacks printed_name"):
        render_checklist_pdf(doc)
    with pytest.raises(ValueError, match="schema must be"):
        render_checklist_pdf({**_document(), "schema": "other"})
