"""Genuine gate evidence for tests, made by the product's own producers (execution.daemon.devkit_evidence),
and stand-in verifiers for the two kinds whose producers live in other packages.

The bundle manifest and the UI telemetry log are verified by deploy.packaging.evidence and
desktop_qml.evidence. Where a test needs a whole promotion, `stand_in_verifiers()` registers a tiny test
verifier for each (the refusal without one is tested in tests/audit/test_evidence_kinds.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from audit.trust import evidence
from audit.trust import paths as trust_paths
from audit.trust.canonical import strict_loads
from audit.trust.decision_log import append_entry
from audit.trust.keyring import KeyRing
from execution.daemon.devkit_evidence import write_gate_evidence
from tests.trust_setup import ADMIN_PASSWORD

STAND_IN_KINDS = ("bundle", "ui_telemetry_log")
GATE_LOG = {"demo_exit": "demo", "paper_exit": "paper", "live_go": "live_execution"}
GATE_STATUS = {"demo_exit": "demo_ready", "paper_exit": "paper_ready", "live_go": "live_ready"}


def stand_in_bundle(artefact, ctx) -> list[str]:
    """Test verifier: a manifest.json of the bundle-manifest shape (the real one checks manifest.sig)."""
    try:
        doc = strict_loads(artefact.data or b"")
    except ValueError:
        return ["stand-in: not a manifest"]
    if not isinstance(doc, dict) or doc.get("schema") != "oem/bundle-manifest/v1":
        return ["stand-in: not a bundle manifest"]
    return []


def stand_in_ui_telemetry(artefact, ctx) -> list[str]:
    """Test verifier: JSON lines whose summary keeps p95 frame time under 150 ms."""
    lines = (artefact.data or b"").splitlines()
    try:
        summary = strict_loads(lines[-1]) if lines else None
    except ValueError:
        return ["stand-in: not JSON lines"]
    if not isinstance(summary, dict) or not summary.get("p95_frame_ms", 1e9) < 150:
        return ["stand-in: thresholds not met"]
    return []


@contextlib.contextmanager
def stand_in_verifiers() -> Iterator[None]:
    evidence.verifier_for("bundle")  # load the producer modules first, then override
    previous = {kind: evidence.verifier_for(kind) for kind in STAND_IN_KINDS}
    evidence.register_verifier("bundle", stand_in_bundle)
    evidence.register_verifier("ui_telemetry_log", stand_in_ui_telemetry)
    try:
        yield
    finally:
        for kind, verifier in previous.items():
            if verifier is None:
                evidence.unregister_verifier(kind)
            else:
                evidence.register_verifier(kind, verifier)


def ensure_certs(data_dir: Path) -> Path:
    from execution.mtls.bundle import generate_bundle

    certs = Path(data_dir) / "certs"
    if not (certs / "ca.key").exists():
        generate_bundle(certs, ["alice"])
    return certs


def genuine_artefacts(
    gate: str,
    *,
    data_dir: Path,
    keyring: KeyRing,
    config_path: Path | None = None,
    overrides: dict[str, Any] | None = None,
    archive: bool = True,
) -> dict[str, Any]:
    return write_gate_evidence(
        gate,
        data_dir=data_dir,
        keyring=keyring,
        config_path=config_path or trust_paths.DEFAULT_CONFIG_PATH,
        certs_dir=ensure_certs(data_dir) if gate == "live_go" else None,
        overrides=overrides,
        archive=archive,
        admin_password=ADMIN_PASSWORD,
    )


def append_genuine(gate: str, *, data_dir: Path, keyring: KeyRing, signers, overrides=None, flags=None):
    """Append the deciding entry of `gate` with genuine, archived evidence through the real API."""
    from tests.audit.helpers import STATUS_FLAGS

    status = GATE_STATUS[gate]
    return append_entry(
        trust_paths.decision_log_path(GATE_LOG[gate], data_dir),
        status=status,
        artefacts=genuine_artefacts(gate, data_dir=data_dir, keyring=keyring, overrides=overrides),
        runtime_flags=flags or STATUS_FLAGS[status],
        signers=signers,
        keyring=keyring,
        data_dir=data_dir,
    )


def console_uploads(gate: str, *, keyring: KeyRing, config_path: Path, scratch: Path) -> dict[str, Any]:
    """name -> bytes (a file to upload) or str (a value to enter) for a console checklist: the same genuine
    evidence, with the config signed by the console's key ring."""
    artefacts = write_gate_evidence(
        gate,
        data_dir=scratch,
        keyring=keyring,
        config_path=config_path,
        archive=False,
        checklists=False,
        admin_password=ADMIN_PASSWORD,
    )
    return {
        name: (scratch / value["path"]).read_bytes() if isinstance(value, dict) else value
        for name, value in artefacts.items()
    }
