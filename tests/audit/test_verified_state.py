"""The verified state: a view after an append re-verifies only the appended entry, and nothing that changed
before the head, in the key ring or in the state itself is ever taken from it."""

from __future__ import annotations

import json
import os

import pytest

from audit.trust import verifier
from audit.trust.cli import verify_decision_log_main
from audit.trust.gates import evaluate_all
from audit.trust.verified_state import state_path
from tests.audit.conftest import password
from tests.audit.helpers import append, read_lines, reasons, verify, write_long_log
from tests.trust_setup import ADMIN_PASSWORD


@pytest.fixture
def checks(monkeypatch):
    """Counts Ed25519/HMAC signature verifications made by the decision-log verifier."""
    counted = {"n": 0}
    real = verifier.verify_parsed

    def counting(*args, **kwargs):
        counted["n"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(verifier, "verify_parsed", counting)
    # Counted inline: a large log's checks would otherwise run in worker processes (parallel_verify).
    monkeypatch.setenv("OEM_VERIFY_WORKERS", "1")
    return counted


@pytest.fixture
def three_entries(keyring, data_dir, logs_dir):
    for n in range(3):
        append(
            keyring, data_dir, "demo", "demo_ready", artefacts={"run_hash": f"sha384:{n:096x}"}, note=f"n{n}"
        )
    report = verify(keyring, data_dir)
    assert report.ok, reasons(report)
    return logs_dir / "demo.jsonl"


def view(keyring, data_dir):
    """What the gate page computes: the strict verification and every gate's evaluation."""
    report = verify(keyring, data_dir)
    return report, evaluate_all(report)


def test_appending_one_entry_to_a_10000_entry_log_then_viewing_the_gate_verifies_only_that_entry(
    keyring, data_dir, checks
):
    write_long_log(keyring, data_dir, 10_000)
    report, _ = view(keyring, data_dir)
    assert report.ok, reasons(report)
    assert checks["n"] >= 20_000  # the first view verifies every signature once

    append(keyring, data_dir, "demo", "demo_ready", note="one more")
    checks["n"] = 0
    report, gates = view(keyring, data_dir)

    assert report.ok, reasons(report)
    assert len(report.entries) == 10_001
    assert report.entries[-1].entry["note"] == "one more"
    assert gates["demo_exit"].entry is not None and gates["demo_exit"].entry.line == 10_001
    # the new entry's two signatures and the checkpoint's two co-signatures, nothing older
    assert checks["n"] == 4


def test_a_view_with_nothing_appended_checks_only_the_checkpoint(keyring, data_dir, three_entries, checks):
    report, _ = view(keyring, data_dir)
    assert report.ok and len(report.entries) == 3
    assert checks["n"] == 2


def test_a_replaced_older_entry_after_a_cached_verification_is_still_caught(keyring, data_dir, three_entries):
    lines = read_lines(three_entries)
    before = os.stat(three_entries)
    edited = lines[1].replace(b'"note":"n1"', b'"note":"n7"')
    assert len(edited) == len(lines[1])
    three_entries.write_bytes(b"".join(line + b"\n" for line in [lines[0], edited, lines[2]]))
    os.utime(three_entries, ns=(before.st_atime_ns, before.st_mtime_ns))  # same size, same mtime

    report = verify(keyring, data_dir)

    assert not report.ok
    assert f"{three_entries}:2:" in reasons(report)


def test_a_log_replaced_by_another_file_is_verified_in_full(keyring, data_dir, three_entries, checks):
    copy = three_entries.with_name("copy.tmp")
    copy.write_bytes(three_entries.read_bytes())
    os.replace(copy, three_entries)  # new inode, same bytes: the prefix is re-hashed and still matches
    report = verify(keyring, data_dir)
    assert report.ok
    assert checks["n"] == 2


def test_a_changed_state_file_is_refused_and_the_log_verified_in_full(
    keyring, data_dir, three_entries, checks
):
    path = state_path(keyring, three_entries)
    doc = json.loads(path.read_bytes())
    doc["body"]["count"] = 2
    path.write_text(json.dumps(doc))

    report = verify(keyring, data_dir)

    assert report.ok and len(report.entries) == 3
    assert checks["n"] == 3 * 2 + 2  # every entry and the checkpoint


def test_a_new_key_ring_means_a_full_verification(keyring, data_dir, three_entries, checks):
    keyring.create_signer_key("erin", ["engineer"], password("erin"), admin_password=ADMIN_PASSWORD)
    report = verify(keyring, data_dir)
    assert report.ok
    assert checks["n"] == 3 * 2 + 2


def test_verify_decision_log_full_flag_re_verifies_every_line(
    keyring, data_dir, three_entries, checks, capsys
):
    assert verify_decision_log_main(["--strict", "--full"]) == 0
    assert "3 entries verified in 3 logs in full" in capsys.readouterr().out
    assert checks["n"] == 3 * 2 + 2
    checks["n"] = 0
    assert verify_decision_log_main(["--strict"]) == 0
    assert checks["n"] == 2


def test_an_earlier_stage_log_that_changes_re_verifies_the_later_log(
    keyring, data_dir, three_entries, checks
):
    append(keyring, data_dir, "paper", "paper_ready")
    assert verify(keyring, data_dir).ok
    append(keyring, data_dir, "demo", "demo_ready", note="later demo decision")
    checks["n"] = 0
    report = verify(keyring, data_dir)
    assert report.ok, reasons(report)
    # the demo log resumes (new entry + checkpoint); the paper log's prerequisite changed: in full
    assert checks["n"] == (2 + 2) + (2 + 2)


def test_a_refused_line_between_accepted_ones_does_not_shift_what_later_logs_look_up(
    keyring, data_dir, logs_dir
):
    from tests.audit.helpers import STATUS_SIGNERS, forge_append, signers

    honest = signers(keyring, STATUS_SIGNERS["demo_ready"])
    carol = signers(keyring, {"compliance": "carol"})["compliance"]
    bob = keyring.signer_for("bob", password("bob"))  # an engineer, signing as owner: line 2 is refused
    demo = logs_dir / "demo.jsonl"
    forge_append(demo, keyring, "demo_ready", honest)
    forge_append(demo, keyring, "demo_ready", {"owner": bob, "compliance": carol})
    forge_append(demo, keyring, "demo_ready", honest)  # intact bytes after the refused line: accepted
    forge_append(
        logs_dir / "paper.jsonl", keyring, "paper_ready", signers(keyring, STATUS_SIGNERS["paper_ready"])
    )

    for full in (False, True):
        report = verifier.verify_decision_logs(None, keyring, data_dir=data_dir, full=full)
        assert not report.ok
        assert [p.line for p in report.problems if p.file.endswith("demo.jsonl")] == [2]
        assert [e.line for e in report.logs["demo"]] == [1, 3]
        assert [e.line for e in report.logs["paper"]] == [1]
