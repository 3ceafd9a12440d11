"""Where the evidence checks run: the strict verifier, `verify_decision_log update`, stage order of the
config between gates; and the fail-closed command-line fixes."""

from __future__ import annotations

import hashlib

import pytest

from audit.trust import evidence
from audit.trust import paths as trust_paths
from audit.trust.cli import validate_config_main, verify_decision_log_main
from audit.trust.core_config import ConfigError, check_profile, load_config
from audit.trust.decision_rules import artefact_file
from audit.trust.gates import evaluate_gate
from tests.audit.conftest import password
from tests.audit.helpers import STATUS_FLAGS, STATUS_SIGNERS, forge_append, reasons, signers, verify
from tests.evidence_factory import (
    GATE_LOG,
    GATE_STATUS,
    append_genuine,
    genuine_artefacts,
    stand_in_verifiers,
)


@pytest.fixture(autouse=True)
def _development_licenses(monkeypatch):
    """The genuine license registry of the live gate is signed with the development vendor key."""
    monkeypatch.setenv("OEM_ALLOW_DEVELOPMENT_LICENSES", "true")


@pytest.fixture(autouse=True)
def _stand_ins():
    evidence.clear_cache()
    with stand_in_verifiers():
        yield


def _tree(root) -> dict[str, str]:
    """Every file and its hash; a log's empty lock file is not content."""
    return {
        str(p.relative_to(root)): hashlib.sha384(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file() and not p.name.endswith(".lock")
    }


def _promote(keyring, data_dir, *gates):
    for gate in gates:
        append_genuine(
            gate,
            data_dir=data_dir,
            keyring=keyring,
            signers=signers(keyring, STATUS_SIGNERS[GATE_STATUS[gate]]),
        )


def test_the_four_forged_inputs_are_refused_each_with_its_reason(keyring, data_dir, logs_dir):
    genuine = genuine_artefacts("demo_exit", data_dir=data_dir, keyring=keyring, archive=False)
    smoke = data_dir / "forged" / "smoke.jsonl"
    checklist = data_dir / "forged" / "checklist.json"
    smoke.parent.mkdir()
    smoke.write_text('{"x":1}\n')
    checklist.write_text('{"not":"a signed checklist"}\n')
    forged = {
        **genuine,
        "config_signature": "whatever",
        "ci_run": "fake",
        "smoke_demo_report": artefact_file(smoke, data_dir),
        "checklist_demo_stage1": artefact_file(checklist, data_dir),
    }
    log = data_dir / "audit" / "decision_logs" / "demo.jsonl"
    forge_append(log, keyring, "demo_ready", signers(keyring, STATUS_SIGNERS["demo_ready"]), artefacts=forged)
    report = verify(keyring, data_dir)
    text = reasons(report)
    assert not report.ok and not evaluate_gate("demo_exit", report).passed
    assert "demo.jsonl:1: artefact config_signature (config_signature): must be a file reference" in text
    assert "demo.jsonl:1: artefact ci_run (ci_run): must be a file reference" in text
    assert "artefact smoke_demo_report (smoke_report): smoke report has no summary line" in text
    assert "artefact checklist_demo_stage1 (signed_checklist): not a signed checklist export" in text


def test_genuine_evidence_closes_every_gate_and_the_strict_command_re_proves_it(keyring, data_dir, capsys):
    _promote(keyring, data_dir, "demo_exit", "paper_exit", "live_go")
    report = verify(keyring, data_dir)
    assert report.ok, reasons(report)
    assert all(evaluate_gate(g, report).passed for g in ("demo_exit", "paper_exit", "live_go"))
    assert verify_decision_log_main(["--strict"]) == 0
    assert "OK: 3 entries verified" in capsys.readouterr().out


def test_strict_verification_names_the_file_and_line_of_an_artefact_that_no_longer_proves_itself(
    keyring, data_dir, capsys
):
    _promote(keyring, data_dir, "demo_exit")
    report = verify(keyring, data_dir)
    entry = report.logs["demo"][0].entry
    sig = data_dir / entry["artefacts"]["config_signature"]["path"]
    sig.unlink()
    assert verify_decision_log_main(["--strict"]) == 1
    err = capsys.readouterr().err
    assert "demo.jsonl:1: artefact config_signature: file" in err and "not found" in err


def _update_argv(log_name, status, artefacts, password_file):
    argv = ["update", "--log", str(trust_paths.decision_log_path(log_name)), "--stage"]
    argv.append({"demo": "demo", "paper": "paper", "live_execution": "live"}[log_name])
    argv += ["--status", status]
    for name, value in artefacts.items():
        text = f"@{trust_paths.data_dir() / value['path']}" if isinstance(value, dict) else value
        argv += ["--artefact", f"{name}={text}"]
    for flag, value in STATUS_FLAGS[status].items():
        argv += ["--flag", f"{flag}={str(value).lower()}"]
    argv += ["--signer", "owner=alice", "--signer", "compliance=carol", "--password-file", str(password_file)]
    return argv


@pytest.fixture
def password_file(tmp_path):
    path = tmp_path / "passwords.txt"
    path.write_text(f"{password('alice')}\n{password('carol')}\n")
    return path


def test_update_with_genuine_evidence_archives_it_and_appends(keyring, data_dir, password_file, capsys):
    artefacts = genuine_artefacts("demo_exit", data_dir=data_dir, keyring=keyring, archive=False)
    assert verify_decision_log_main(_update_argv("demo", "demo_ready", artefacts, password_file)) == 0, (
        capsys.readouterr().err
    )
    entry = verify(keyring, data_dir).logs["demo"][0].entry
    assert entry["artefacts"]["artefact_index"]["path"].startswith("audit/artefacts/")
    assert entry["artefacts"]["smoke_demo_report"]["path"].startswith("audit/artefacts/")


HOLLOW = {
    "config_signature": ("demo_exit", b'{"not":"a config signature"}\n'),
    "smoke_demo_report": ("demo_exit", b'{"x":1}\n'),
    "ci_run": ("demo_exit", b"fake\n"),
    "checklist_demo_stage1": ("demo_exit", b'{"not":"a signed checklist"}\n'),
    "paper_labs_report_json": ("paper_exit", b'{"x":1}\n'),
    "paper_labs_report_pdf": ("paper_exit", b"%PDF-1.4\n"),
    "paper_smoke_report": ("paper_exit", b'{"x":1}\n'),
    "bundle": ("paper_exit", b'{"x":1}\n'),
    "live_dry_run_report": ("live_go", b'{"x":1}\n'),
    "mtls_bundle": ("live_go", b"not a tarball"),
    "license_registry": ("live_go", b'{"x":1}\n'),
    "ui_telemetry_log": ("live_go", b'{"x":1}\n'),
    "config_hash": ("demo_exit", "sha384:" + "d" * 96),
    "bundle_commit": ("demo_exit", "fake"),
    "bundle_fingerprint": ("paper_exit", "sha384:" + "0" * 96),
    "mtls_fingerprint": ("live_go", "whatever"),
}
BEFORE = {"demo_exit": (), "paper_exit": ("demo_exit",), "live_go": ("demo_exit", "paper_exit")}


@pytest.mark.parametrize("name", sorted(HOLLOW))
def test_update_with_a_hollow_artefact_writes_nothing(keyring, data_dir, password_file, name, capsys):
    gate, hollow = HOLLOW[name]
    _promote(keyring, data_dir, *BEFORE[gate])
    artefacts = genuine_artefacts(gate, data_dir=data_dir, keyring=keyring, archive=False)
    if isinstance(hollow, bytes):
        path = data_dir / "hollow" / name / "artefact"
        path.parent.mkdir(parents=True)
        path.write_bytes(hollow)
        artefacts[name] = artefact_file(path, data_dir)
    else:
        artefacts[name] = hollow
    # Verifying records each log's position in the witness (state/witness.json), empty logs included; after
    # that, a refused update must leave every file as it was, the witness too.
    assert verify(keyring, data_dir).ok
    before = _tree(data_dir)
    assert (
        verify_decision_log_main(_update_argv(GATE_LOG[gate], GATE_STATUS[gate], artefacts, password_file))
        == 1
    )
    err = capsys.readouterr().err
    assert "refusing to append" in err and name in err and len(err.strip().splitlines()) == 1, err
    assert _tree(data_dir) == before


def test_a_live_entry_on_another_config_than_the_paper_entry_names_the_difference(
    keyring, data_dir, tmp_path
):
    _promote(keyring, data_dir, "demo_exit", "paper_exit")
    changed = tmp_path / "core.yaml"
    changed.write_text(
        trust_paths.DEFAULT_CONFIG_PATH.read_text().replace(
            "max_order_rate_per_min: 10", "max_order_rate_per_min: 99"
        )
    )
    artefacts = genuine_artefacts("live_go", data_dir=data_dir, keyring=keyring, config_path=changed)
    log = data_dir / "audit" / "decision_logs" / "live_execution.jsonl"
    forge_append(
        log, keyring, "live_ready", signers(keyring, STATUS_SIGNERS["live_ready"]), artefacts=artefacts
    )
    text = reasons(verify(keyring, data_dir))
    assert "artefact config_hash (config_hash): differs from the paper_ready entry's config_hash" in text
    assert "risk_profiles.conservative.max_order_rate_per_min" in text


# ---- fail-closed command-line fixes --------------------------------------------------------------------
def test_strict_with_a_log_path_that_does_not_exist_exits_non_zero(data_dir, capsys):
    missing = data_dir / "audit" / "decision_logs" / "nope" / "demo.jsonl"
    assert verify_decision_log_main(["--strict", "--log", str(missing)]) == 1
    captured = capsys.readouterr()
    assert "does not exist" in captured.err and "OK" not in captured.out


def test_a_live_profile_routing_to_the_paper_simulator_is_refused(tmp_path, keyring, data_dir, capsys):
    config = load_config(trust_paths.DEFAULT_CONFIG_PATH)
    check_profile(config, "live")
    config["profiles"]["live"]["venues"] = ["binance", "paper"]
    with pytest.raises(ConfigError, match="simulated venue 'paper'"):
        check_profile(config, "live")
    import yaml

    from audit.trust.core_config import sign_file

    path = tmp_path / "core.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    sign_file(path, keyring)
    assert validate_config_main(["--profile", "live", "--config", str(path)]) == 1
    assert "profile live routes to the simulated venue 'paper'" in capsys.readouterr().err
    assert validate_config_main(["--profile", "paper", "--config", str(path)]) == 0


def test_live_routing_never_falls_back_to_a_simulated_venue():
    from execution.live_router import RoutingTable

    config = load_config(trust_paths.DEFAULT_CONFIG_PATH)
    config["routing"]["symbols"]["ETH/BTC"] = ["binance", "paper"]
    config["profiles"]["live"]["venues"] = ["binance", "paper"]
    table = RoutingTable.from_config(config, profile="live")
    assert table.venues_for("ETH/BTC") == ["binance"] and "paper" not in table.default
