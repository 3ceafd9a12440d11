"""Every way of tampering with a decision log must be caught, each by the check that guards it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from audit.trust.canonical import canonical_bytes
from audit.trust.decision_rules import (
    DecisionLogError,
    artefact_file,
    entry_signing_input,
    line_hash,
    signing_context,
)
from audit.trust.keyring import KeyRingError, decrypt_private_key, utc_now
from audit.trust.signatures import Ed25519Signer
from tests.audit.conftest import password
from tests.audit.helpers import (
    append,
    forge_append,
    read_lines,
    reasons,
    rechain,
    signers,
    verify,
    write_checkpoint,
    write_lines,
)
from tests.trust_setup import ADMIN_PASSWORD


@pytest.fixture
def demo_log(keyring, data_dir, logs_dir):
    """Three honest demo_ready entries."""
    for n in range(3):
        append(
            keyring,
            data_dir,
            "demo",
            "demo_ready",
            artefacts={"run_hash": f"sha384:{n:096x}"},  # a note: no gate declares it
            note=f"n{n}",
        )
    return logs_dir / "demo.jsonl"


def test_honest_logs_verify(keyring, data_dir, demo_log):
    append(keyring, data_dir, "paper", "paper_ready")
    append(keyring, data_dir, "live_execution", "live_ready")
    report = verify(keyring, data_dir)
    assert report.ok, reasons(report)
    assert [e.status for e in report.entries] == ["demo_ready"] * 3 + ["paper_ready", "live_ready"]


def test_edited_byte_breaks_verification(keyring, data_dir, demo_log):
    data = bytearray(demo_log.read_bytes())
    position = data.index(b'"note":"n1"') + len('"note":"n')
    data[position] = ord("9")
    demo_log.write_bytes(bytes(data))
    report = verify(keyring, data_dir, ["demo"])
    assert not report.ok
    assert f"{demo_log}:2:" in reasons(report)


def test_edited_field_with_recomputed_hash_but_old_signature_fails(keyring, data_dir, demo_log):
    entries = [json.loads(line) for line in read_lines(demo_log)]
    entries[1]["note"] = "edited after signing"
    rechain(demo_log, entries, keyring)  # chain and checkpoint are consistent again
    report = verify(keyring, data_dir, ["demo"])
    assert not report.ok
    # line 2's content and line 3's recomputed prev_hash no longer match what was signed
    assert [p.line for p in report.problems if p.line] == [2, 3]
    assert all("bad ed25519 signature" in p.reason for p in report.problems if p.line)


def test_reordered_lines_break_chain(keyring, data_dir, demo_log):
    lines = read_lines(demo_log)
    write_lines(demo_log, [lines[0], lines[2], lines[1]], keyring)
    report = verify(keyring, data_dir, ["demo"])
    assert not report.ok
    assert "seq" in reasons(report)


def test_deleted_middle_line_breaks_chain(keyring, data_dir, demo_log):
    lines = read_lines(demo_log)
    write_lines(demo_log, [lines[0], lines[2]], keyring)
    report = verify(keyring, data_dir, ["demo"])
    assert not report.ok
    assert f"{demo_log}:2:" in reasons(report)


def test_truncated_tail_is_caught_by_checkpoint(keyring, data_dir, demo_log):
    lines = read_lines(demo_log)
    write_lines(demo_log, lines[:2])  # a valid shorter chain; only the checkpoint knows
    report = verify(keyring, data_dir, ["demo"])
    assert not report.ok
    assert "checkpoint records 3 entries but the log has 2" in reasons(report)


def test_missing_checkpoint_fails(keyring, data_dir, demo_log):
    demo_log.with_name("demo.checkpoint.json").unlink()
    assert "checkpoint missing" in reasons(verify(keyring, data_dir, ["demo"]))


def test_log_rechained_without_signer_keys_fails(keyring, data_dir, demo_log):
    """The attacker holds the root and audit secrets, not the people's Ed25519 private keys."""
    entries = [json.loads(line) for line in read_lines(demo_log)]
    for entry in entries:
        entry["artefacts"]["run_hash"] = "sha384:" + "e" * 96
        for role, text in entry["signatures"].items():
            _, kid, _ = text.split(":")
            forged = Ed25519Signer(kid, Ed25519PrivateKey.generate())  # right kid, wrong key
            entry["signatures"][role] = forged.sign_bytes(
                entry_signing_input(entry, "demo", role, context=signing_context(keyring, data_dir))
            )
    rechain(demo_log, entries, keyring)
    report = verify(keyring, data_dir, ["demo"])
    assert not report.ok
    assert [p.line for p in report.problems if p.line] == [1, 2, 3]
    assert all("bad ed25519 signature" in p.reason for p in report.problems if p.line)


def _rewrite_last_line(log_path, keyring, transform) -> None:
    lines = read_lines(log_path)
    lines[-1] = transform(lines[-1])
    write_lines(log_path, lines, keyring)


@pytest.mark.parametrize(
    ("name", "transform", "expected"),
    [
        ("duplicate key", lambda line: b'{"seq":3,' + line[1:], "duplicate key"),
        ("trailing data", lambda line: line + b" {}", "trailing data"),
        ("byte order mark", lambda line: b"\xef\xbb\xbf" + line, "byte order mark"),
    ],
)
def test_non_strict_json_line_is_rejected(keyring, data_dir, demo_log, name, transform, expected):
    """Each mutation parses to the same entry with a lenient parser; only strict parsing catches it."""
    _rewrite_last_line(demo_log, keyring, transform)
    report = verify(keyring, data_dir, ["demo"])
    assert not report.ok, name
    assert expected in reasons(report)


def test_signature_moved_from_another_entry_fails(keyring, data_dir, demo_log):
    entries = [json.loads(line) for line in read_lines(demo_log)]
    entries[2]["signatures"]["owner"] = entries[0]["signatures"]["owner"]
    _rewrite_last_line(demo_log, keyring, lambda _: canonical_bytes(entries[2]))
    report = verify(keyring, data_dir, ["demo"])
    assert [p.line for p in report.problems if p.line] == [3]
    assert "owner signature: bad ed25519 signature" in reasons(report)


def test_signature_made_for_another_log_fails(keyring, data_dir, logs_dir):
    append(keyring, data_dir, "demo", "demo_ready")
    paper = logs_dir / "paper.jsonl"
    who = signers(keyring, {"owner": "alice", "compliance": "carol"})
    forge_append(paper, keyring, "paper_ready", who, sign_for_log="demo")  # same entry, signed for "demo"
    report = verify(keyring, data_dir, ["paper"])
    assert not report.ok
    assert f"{paper}:1:" in reasons(report) and "bad ed25519 signature" in reasons(report)
    paper.unlink()
    forge_append(paper, keyring, "paper_ready", who)  # control: signed for the right log
    assert verify(keyring, data_dir, ["paper"]).ok


def test_algorithm_swapped_in_signature_string_fails(keyring, data_dir, demo_log):
    """An HMAC 'signature' keyed with the owner's public key must not pass as the owner's signature."""
    entry = json.loads(read_lines(demo_log)[-1])
    kid = entry["signatures"]["owner"].split(":")[1]
    public_raw = keyring.verifying_key(kid).public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    mac = hmac.new(
        public_raw,
        entry_signing_input(entry, "demo", "owner", context=signing_context(keyring, data_dir)),
        hashlib.sha384,
    ).digest()
    entry["signatures"]["owner"] = f"hmac-sha384:{kid}:{base64.b64encode(mac).decode()}"
    _rewrite_last_line(demo_log, keyring, lambda _: canonical_bytes(entry))
    report = verify(keyring, data_dir, ["demo"])
    assert not report.ok
    assert "claims hmac-sha384 but key" in reasons(report)


def test_old_entry_by_now_retired_key_still_verifies(keyring, data_dir, demo_log):
    alice_kid = keyring.active_key("signer", owner="alice").kid
    keyring.retire_key(alice_kid)
    report = verify(keyring, data_dir, ["demo"])
    assert report.ok, reasons(report)
    with pytest.raises(KeyRingError, match="no active signer key"):
        keyring.signer_for("alice", password("alice"))


def test_signature_by_retired_key_after_retirement_fails(keyring, data_dir, demo_log):
    record = keyring.active_key("signer", owner="alice")
    keyring.retire_key(record.kid)
    stolen = Ed25519Signer(record.kid, decrypt_private_key(record, password("alice")))
    carol = signers(keyring, {"compliance": "carol"})["compliance"]
    forge_append(demo_log, keyring, "demo_ready", {"owner": stolen, "compliance": carol}, timestamp=utc_now())
    report = verify(keyring, data_dir, ["demo"])
    assert [p.line for p in report.problems] == [4]
    assert "was not valid at the entry's timestamp" in reasons(report)


def test_signature_by_unknown_key_fails(keyring, data_dir, logs_dir):
    mallory = Ed25519Signer("signer-mallory-00000000", Ed25519PrivateKey.generate())
    carol = signers(keyring, {"compliance": "carol"})["compliance"]
    forge_append(logs_dir / "demo.jsonl", keyring, "demo_ready", {"owner": mallory, "compliance": carol})
    assert "unknown key id signer-mallory-00000000" in reasons(verify(keyring, data_dir, ["demo"]))


def test_signer_without_the_role_fails(keyring, data_dir, logs_dir):
    carol = signers(keyring, {"compliance": "carol"})["compliance"]
    bob = keyring.signer_for("bob", password("bob"))  # an engineer, signing as owner
    forge_append(logs_dir / "demo.jsonl", keyring, "demo_ready", {"owner": bob, "compliance": carol})
    assert "does not hold the role owner" in reasons(verify(keyring, data_dir, ["demo"]))


def test_one_key_signing_as_owner_and_compliance_fails(keyring, data_dir, logs_dir):
    append(keyring, data_dir, "demo", "demo_ready")
    dave = keyring.signer_for("dave", password("dave"))
    forge_append(logs_dir / "paper.jsonl", keyring, "paper_ready", {"owner": dave, "compliance": dave})
    assert "signs for more than one role" in reasons(verify(keyring, data_dir, ["paper"]))


def test_one_person_with_two_keys_signing_as_owner_and_compliance_fails(keyring, data_dir, logs_dir):
    """Two simultaneously valid keys of one person (an admin mistake) still count as one person."""
    from dataclasses import replace

    append(keyring, data_dir, "demo", "demo_ready")
    dave = keyring.active_key("signer", owner="dave")
    second = replace(dave, kid=dave.kid + "-b", roles=("compliance",))
    second = replace(second, certificate=keyring._certify(second, ADMIN_PASSWORD))  # the admin's mistake
    keyring._modify(lambda records: records.__setitem__(second.kid, second))
    first = keyring.signer_for("dave", password("dave"))
    twin = Ed25519Signer(second.kid, decrypt_private_key(dave, password("dave")))
    # the copied record's ciphertext is bound to the old kid, so decrypt with the original record
    forge_append(logs_dir / "paper.jsonl", keyring, "paper_ready", {"owner": first, "compliance": twin})
    assert "dave signs as more than one role" in reasons(verify(keyring, data_dir, ["paper"]))


def test_live_ready_without_paper_ready_fails(keyring, data_dir, logs_dir):
    append(keyring, data_dir, "demo", "demo_ready")
    with pytest.raises(DecisionLogError, match="live_ready without an earlier verified paper_ready"):
        append(keyring, data_dir, "live_execution", "live_ready")
    assert not (logs_dir / "live_execution.jsonl").exists()
    who = signers(keyring, {"owner": "alice", "compliance": "carol"})
    forge_append(logs_dir / "live_execution.jsonl", keyring, "live_ready", who)
    report = verify(keyring, data_dir, ["live_execution"])  # demo and paper are pulled in as prerequisites
    assert "live_ready without an earlier verified paper_ready" in reasons(report)


def test_paper_ready_needs_both_owner_and_compliance(keyring, data_dir, logs_dir):
    append(keyring, data_dir, "demo", "demo_ready")
    with pytest.raises(DecisionLogError, match="needs a signature by role compliance"):
        append(keyring, data_dir, "paper", "paper_ready", who={"owner": "alice"})


def test_status_runtime_flags_are_enforced(keyring, data_dir, logs_dir):
    append(keyring, data_dir, "demo", "demo_ready")
    append(keyring, data_dir, "paper", "paper_ready")
    wrong = {"StrategyContext.require_demo_mode": False, "runtime.compliance_confirmed": False}
    with pytest.raises(DecisionLogError, match="requires runtime.compliance_confirmed=true"):
        append(keyring, data_dir, "live_execution", "live_ready", flags=wrong)


def test_artefact_file_changed_after_signing_fails(keyring, data_dir, logs_dir):
    report_file = data_dir / "reports" / "smoke.jsonl"
    report_file.parent.mkdir(parents=True)
    report_file.write_text('{"ok": true}\n')
    artefact = artefact_file(report_file, data_dir)
    assert artefact["path"] == "reports/smoke.jsonl"
    append(keyring, data_dir, "demo", "demo_ready", artefacts={"smoke_notes": artefact})
    assert verify(keyring, data_dir, ["demo"]).ok
    report_file.write_text('{"ok": false}\n')
    assert "artefact smoke_notes: file reports/smoke.jsonl changed since it was signed" in reasons(
        verify(keyring, data_dir, ["demo"])
    )
    report_file.unlink()
    assert "not found" in reasons(verify(keyring, data_dir, ["demo"]))


def test_appending_to_broken_log_is_refused_and_file_unchanged(keyring, data_dir, demo_log):
    lines = read_lines(demo_log)
    write_lines(demo_log, [lines[0], lines[2]], keyring)
    before = demo_log.read_bytes()
    checkpoint_before = demo_log.with_name("demo.checkpoint.json").read_bytes()
    with pytest.raises(DecisionLogError, match="refusing to append to a log that does not verify"):
        append(keyring, data_dir, "demo", "demo_ready")
    assert demo_log.read_bytes() == before
    assert demo_log.with_name("demo.checkpoint.json").read_bytes() == checkpoint_before


def test_backdated_entry_is_rejected(keyring, data_dir, demo_log):
    who = signers(keyring, {"owner": "alice", "compliance": "carol"})
    forge_append(demo_log, keyring, "demo_ready", who, timestamp=utc_now() - timedelta(seconds=1))
    assert "timestamp earlier than the previous entry" in reasons(verify(keyring, data_dir, ["demo"]))


def test_checkpoint_signed_by_unknown_key_fails(keyring, data_dir, demo_log):
    from audit.trust.signatures import HmacSigner

    lines = read_lines(demo_log)
    write_checkpoint(demo_log, len(lines), line_hash(lines[-1]), HmacSigner("audit-forged", b"k" * 48))
    assert "not co-signed by the signers" in reasons(verify(keyring, data_dir, ["demo"]))


def test_tampered_keyring_fails_to_load_with_one_line_error(keyring, data_dir):
    from audit.trust.keyring import KeyRing

    path = keyring.path
    path.write_bytes(path.read_bytes().replace(b'"owner"]', b'"owner","compliance"]', 1))
    with pytest.raises(KeyRingError, match="failed its signature check") as caught:
        KeyRing.load(data_dir)
    assert "\n" not in str(caught.value)
    report = verify(None, data_dir)
    assert not report.ok and "failed its signature check" in reasons(report)


def test_partial_line_from_a_crash_is_reported_then_cut_by_the_next_append(keyring, data_dir, demo_log):
    honest = demo_log.read_bytes()
    with open(demo_log, "ab") as handle:
        handle.write(b'{"artefacts":{},"prev')  # the write was cut short; checkpoint not updated
    assert "incomplete last line" in reasons(verify(keyring, data_dir, ["demo"]))
    append(keyring, data_dir, "demo", "demo_ready")
    assert demo_log.read_bytes().startswith(honest)
    report = verify(keyring, data_dir, ["demo"])
    assert report.ok and len(report.entries) == 4


def test_line_written_before_checkpoint_crash_is_resealed(keyring, data_dir, demo_log, monkeypatch):
    import audit.trust.decision_log as decision_log

    def crash(*args, **kwargs):
        raise OSError("power cut")

    monkeypatch.setattr(decision_log, "_install_checkpoint", crash)
    with pytest.raises(OSError):
        append(keyring, data_dir, "demo", "demo_ready")
    monkeypatch.undo()
    assert "checkpoint records 3 entries but the log has 4" in reasons(verify(keyring, data_dir, ["demo"]))
    assert decision_log.recover_interrupted_append(demo_log, keyring, data_dir).startswith("completed")
    assert verify(keyring, data_dir, ["demo"]).ok


def test_recovery_never_reseals_a_forged_extra_line(keyring, data_dir, demo_log):
    import audit.trust.decision_log as decision_log

    mallory = Ed25519Signer("signer-mallory-00000000", Ed25519PrivateKey.generate())
    carol = signers(keyring, {"compliance": "carol"})["compliance"]
    checkpoint = demo_log.with_name("demo.checkpoint.json").read_bytes()
    forge_append(demo_log, keyring, "demo_ready", {"owner": mallory, "compliance": carol})
    demo_log.with_name("demo.checkpoint.json").write_bytes(checkpoint)  # as if the checkpoint write was lost
    assert decision_log.recover_interrupted_append(demo_log, keyring, data_dir) is None
    assert not verify(keyring, data_dir, ["demo"]).ok
