"""Every tamper case of test_decision_log_tamper runs again here, and every verification in it is taken
twice: resuming from the recorded verified state and in full. The two reports must be identical (verdict,
problems, entries, gate evaluations), and each honest append is followed by a verification, so the tamper
happens after a cached verdict exists."""

from __future__ import annotations

import pytest

import tests.audit.helpers as helpers
import tests.audit.test_decision_log_tamper as tamper
from audit.trust import verifier
from audit.trust.gates import evaluate_all, runtime_state
from tests.audit.test_decision_log_tamper import *  # noqa: F403 - the tamper cases, collected again here


def summary(report) -> tuple:
    return (
        report.ok,
        tuple(str(p) for p in report.problems),
        tuple(
            (e.log, e.line, e.line_hash, e.signers, e.signer_kids, e.entry, e.timestamp)
            for e in report.entries
        ),
        {name: (e.passed, tuple(e.missing)) for name, e in evaluate_all(report).items()},
        runtime_state(report),
        report.files,
    )


@pytest.fixture(autouse=True)
def incremental_and_full(monkeypatch):
    real = verifier.verify_decision_logs
    compared: list[int] = []

    def both(paths=None, keyring=None, schema_path=None, data_dir=None, *, full=False):
        paths = None if paths is None else list(paths)
        resumed = real(paths, keyring, schema_path, data_dir)
        complete = real(paths, keyring, schema_path, data_dir, full=True)
        assert summary(resumed) == summary(complete)
        compared.append(1)
        return resumed

    honest_append = tamper.append

    def append_then_view(keyring, data_dir, *args, **kwargs):
        result = honest_append(keyring, data_dir, *args, **kwargs)
        both(None, keyring, None, data_dir)  # a view records the verified state before any tamper
        return result

    monkeypatch.setattr(helpers, "verify_decision_logs", both)
    monkeypatch.setattr(verifier, "verify_decision_logs", both)
    monkeypatch.setattr(tamper, "append", append_then_view)
    yield
    assert compared, "the case verified nothing"
