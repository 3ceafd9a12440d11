"""The strict verifier checks a large log's signatures on every core and says exactly what the sequential
path says: the same report, problem for problem and word for word, on valid and on tampered logs.

The workers are real processes (`python -m audit.trust.signature_worker`); the tests shrink the threshold
and the frame size so a log of a few dozen entries is spread over several frames and both workers.
"""

from __future__ import annotations

import base64
import json
import sys
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit.trust import parallel_verify
from audit.trust.canonical import canonical_bytes
from audit.trust.keyring import utc_now
from audit.trust.signatures import Ed25519Signer
from audit.trust.verifier import verify_decision_logs
from tests.audit.conftest import password
from tests.audit.helpers import forge_append, read_lines, signers, verify, write_lines

ENTRIES = 24


@pytest.fixture
def started(monkeypatch):
    """Counts the worker processes started (a wrapper around the real start)."""
    count = []
    real = parallel_verify._start_worker

    def counting():
        count.append(1)
        return real()

    monkeypatch.setattr(parallel_verify, "_start_worker", counting)
    return count


@pytest.fixture
def parallel(monkeypatch, started):
    """Every log goes to two workers, in frames of four signatures."""
    monkeypatch.setattr(parallel_verify, "MIN_SIGNATURES", 0)
    monkeypatch.setattr(parallel_verify, "BATCH", 4)
    monkeypatch.setenv(parallel_verify.WORKERS_ENV, "2")
    return started


@pytest.fixture
def redone(monkeypatch):
    """Counts the verifications run again without workers after a deferred check failed."""
    from audit.trust import verifier

    count = []
    real = verifier._verify

    def counting(*args, **kwargs):
        if kwargs.get("parallel", True) is False:
            count.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(verifier, "_verify", counting)
    return count


@pytest.fixture
def long_logs(keyring, logs_dir):
    """ENTRIES demo_ready entries and one paper_ready, each co-signed by owner + compliance."""
    who = signers(keyring, {"owner": "alice", "compliance": "carol"})
    start = utc_now() + timedelta(seconds=1)  # the signer keys were created just before
    for n in range(ENTRIES):
        forge_append(
            logs_dir / "demo.jsonl",
            keyring,
            "demo_ready",
            who,
            artefacts={"run_hash": f"sha384:{n:096x}"},
            timestamp=start + timedelta(seconds=n),
        )
    forge_append(
        logs_dir / "paper.jsonl", keyring, "paper_ready", who, timestamp=start + timedelta(minutes=5)
    )
    return logs_dir / "demo.jsonl"


def _full(keyring, data_dir):
    """A full run (never resumed from a remembered verified state): both paths must do all the work."""
    paths = [data_dir / "audit" / "decision_logs" / "paper.jsonl"]
    return verify_decision_logs(paths, keyring, data_dir=data_dir, full=True)


def _both(keyring, data_dir, monkeypatch):
    """(sequential report, parallel report) of the same files."""
    monkeypatch.setenv(parallel_verify.WORKERS_ENV, "1")
    sequential = _full(keyring, data_dir)
    monkeypatch.setenv(parallel_verify.WORKERS_ENV, "2")
    fast = _full(keyring, data_dir)
    return sequential, fast


def _materialised(report):
    """Everything a report says, with its lazily rebuilt entry lists read out."""
    return (
        report.ok,
        [str(p) for p in report.problems],
        list(report.entries),
        {name: list(entries) for name, entries in report.logs.items()},
        report.files,
        report.indexes,
    )


def _same(sequential, fast) -> None:
    assert [str(p) for p in fast.problems] == [str(p) for p in sequential.problems]
    assert _materialised(fast) == _materialised(sequential)


def _edit_line(log, number, edit) -> None:
    lines = read_lines(log)
    entry = json.loads(lines[number - 1])
    edit(entry)
    lines[number - 1] = canonical_bytes(entry)
    write_lines(log, lines)


def test_a_valid_log_gives_the_sequential_report_and_used_both_workers(
    keyring, data_dir, long_logs, parallel, redone, monkeypatch
):
    sequential, fast = _both(keyring, data_dir, monkeypatch)
    assert sequential.ok and len(sequential.entries) == ENTRIES + 1, [str(p) for p in sequential.problems]
    _same(sequential, fast)
    assert len(parallel) == 2 and redone == []


def _forged_signature(entry):
    algorithm, kid, text = entry["signatures"]["owner"].split(":")
    raw = bytearray(base64.b64decode(text))
    raw[10] ^= 0x01
    entry["signatures"]["owner"] = f"{algorithm}:{kid}:" + base64.b64encode(bytes(raw)).decode()


def _signature_of_another_entry(log):
    first = json.loads(read_lines(log)[0])

    def edit(entry):
        entry["signatures"]["compliance"] = first["signatures"]["compliance"]

    return edit


def _edited_note(entry):
    entry["artefacts"]["run_hash"] = "sha384:" + "f" * 96


def _random_signature(entry):
    kid = entry["signatures"]["owner"].split(":")[1]
    entry["signatures"]["owner"] = f"ed25519:{kid}:" + base64.b64encode(b"\x01" * 64).decode()


def _short_signature(entry):
    kid = entry["signatures"]["owner"].split(":")[1]
    entry["signatures"]["owner"] = f"ed25519:{kid}:" + base64.b64encode(b"\x01" * 63).decode()


@pytest.mark.parametrize(
    "tamper",
    [_forged_signature, _edited_note, _random_signature, _short_signature],
    ids=["forged signature", "edited artefact", "random signature bytes", "signature of the wrong length"],
)
def test_a_tampered_entry_gives_the_sequential_report_with_the_same_first_error(
    keyring, data_dir, long_logs, parallel, redone, monkeypatch, tamper
):
    _edit_line(long_logs, 13, tamper)
    sequential, fast = _both(keyring, data_dir, monkeypatch)
    assert not sequential.ok and sequential.problems[0].line == 13
    _same(sequential, fast)
    # A bad signature is found by a worker and the run redone inline; a malformed one fails inline.
    assert len(redone) == (0 if tamper is _short_signature else 1)


def test_a_signature_copied_from_another_entry_and_a_later_backdated_line_report_alike(
    keyring, data_dir, long_logs, parallel, monkeypatch
):
    _edit_line(long_logs, 5, _signature_of_another_entry(long_logs))
    who = signers(keyring, {"owner": "alice", "compliance": "carol"})
    forge_append(long_logs, keyring, "demo_ready", who, timestamp=utc_now() - timedelta(days=1))
    sequential, fast = _both(keyring, data_dir, monkeypatch)
    assert {p.line for p in sequential.problems} >= {5, ENTRIES + 1}
    _same(sequential, fast)


def test_unknown_keys_and_signers_without_the_role_report_alike(
    keyring, data_dir, long_logs, parallel, monkeypatch
):
    mallory = Ed25519Signer("signer-mallory-00000000", Ed25519PrivateKey.generate())
    carol = signers(keyring, {"compliance": "carol"})["compliance"]
    bob = keyring.signer_for("bob", password("bob"))
    later = utc_now() + timedelta(minutes=1)
    forge_append(long_logs, keyring, "demo_ready", {"owner": mallory, "compliance": carol}, timestamp=later)
    forge_append(long_logs, keyring, "demo_ready", {"owner": bob, "compliance": carol}, timestamp=later)
    sequential, fast = _both(keyring, data_dir, monkeypatch)
    assert "unknown key id signer-mallory-00000000" in str(sequential.problems[0])
    _same(sequential, fast)


def test_a_truncated_log_reports_alike(keyring, data_dir, long_logs, parallel, monkeypatch):
    write_lines(long_logs, read_lines(long_logs)[:-3])
    sequential, fast = _both(keyring, data_dir, monkeypatch)
    assert not sequential.ok
    _same(sequential, fast)


def test_workers_that_stop_leave_the_sequential_verdict(keyring, data_dir, long_logs, parallel, monkeypatch):
    """A worker that dies (here: one that exits at once) costs speed, never a wrong verdict."""
    import subprocess

    def dying():
        return subprocess.Popen([sys.executable, "-c", "pass"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    monkeypatch.setattr(parallel_verify, "_start_worker", dying)
    sequential, fast = _both(keyring, data_dir, monkeypatch)
    assert sequential.ok
    _same(sequential, fast)
    _edit_line(long_logs, 3, _forged_signature)
    sequential, fast = _both(keyring, data_dir, monkeypatch)
    assert not sequential.ok
    _same(sequential, fast)


def test_a_small_log_stays_sequential(keyring, data_dir, long_logs, started, monkeypatch):
    monkeypatch.setenv(parallel_verify.WORKERS_ENV, "2")
    assert verify(keyring, data_dir, ["paper"]).ok
    assert started == []  # 25 entries are far below MIN_SIGNATURES: no worker was started


def test_a_malformed_worker_setting_means_sequential(monkeypatch):
    monkeypatch.setenv(parallel_verify.WORKERS_ENV, "many")
    assert parallel_verify.worker_count() == 1
    monkeypatch.setenv(parallel_verify.WORKERS_ENV, "3")
    assert parallel_verify.worker_count() == 3


def test_a_worker_refuses_a_frame_with_a_bad_signature_or_a_cut_message():
    key = Ed25519PrivateKey.generate()
    raw_key = key.public_key().public_bytes_raw()

    def prefix(data: bytes) -> bytes:
        return b"\x00" + len(data).to_bytes(4, "big") + data

    def item(prefix: bytes, suffix: bytes, signature: bytes | None = None) -> bytes:
        signature = signature if signature is not None else key.sign(prefix + suffix)
        return b"\x01" + raw_key + signature + len(suffix).to_bytes(4, "big") + suffix

    good = prefix(b"entry one") + item(b"entry one", b"owner") + item(b"entry one", b"compliance")
    good += prefix(b"entry two") + item(b"entry two", b"owner")
    assert parallel_verify.verify_frame(good)
    assert not parallel_verify.verify_frame(good + item(b"entry two", b"other", key.sign(b"elsewhere")))
    assert not parallel_verify.verify_frame(good + item(b"entry one", b"owner"))  # the prefix is "entry two"
    assert not parallel_verify.verify_frame(good[:-1])
    assert not parallel_verify.verify_frame(good + b"\x00" * 10)  # prefixes no signature uses
    assert not parallel_verify.verify_frame(good + prefix(b"entry three"))
    assert not parallel_verify.verify_frame(item(b"", b"owner"))  # a signature before any prefix
    assert not parallel_verify.verify_frame(b"")
