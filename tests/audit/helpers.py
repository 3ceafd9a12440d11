"""Test helpers: honest appends, and an attacker's toolbox that writes lines bypassing every check."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from audit.trust.canonical import DOMAIN_CHECKPOINT, canonical_bytes
from audit.trust.decision_log import append_entry, build_entry, sign_entry
from audit.trust.decision_rules import (
    LOG_STAGE,
    genesis_hash,
    line_hash,
    log_name_of,
    sign_checkpoint,
    signing_context,
    witness_key,
)
from audit.trust.fsutil import atomic_write_bytes
from audit.trust.keyring import KeyRing
from audit.trust.paths import checkpoint_path
from audit.trust.verifier import verify_decision_logs
from audit.trust.witness import Mark, witness_for
from tests.audit.conftest import password

DEMO_FLAGS = {"StrategyContext.require_demo_mode": True, "runtime.compliance_confirmed": False}
PAPER_FLAGS = {"StrategyContext.require_demo_mode": False, "runtime.compliance_confirmed": False}
LIVE_FLAGS = {"StrategyContext.require_demo_mode": False, "runtime.compliance_confirmed": True}
STATUS_FLAGS = {
    "demo_ready": DEMO_FLAGS,
    "paper_ready": PAPER_FLAGS,
    "live_ready": LIVE_FLAGS,
    "revoked": DEMO_FLAGS,
}
STATUS_SIGNERS = {
    "demo_ready": {"owner": "alice", "compliance": "carol"},
    "paper_ready": {"owner": "alice", "compliance": "carol"},
    "live_ready": {"owner": "alice", "compliance": "carol"},
    "revoked": {"owner": "alice"},
}


def signers(keyring: KeyRing, roles_to_users: dict[str, str]):
    return {
        role: keyring.signer_for(user, password(user), role=role) for role, user in roles_to_users.items()
    }


def append(keyring, data_dir, log: str, status: str, artefacts=None, flags=None, who=None, note=None):
    """Honest append through the real API."""
    return append_entry(
        data_dir / "audit" / "decision_logs" / f"{log}.jsonl",
        status=status,
        artefacts=artefacts or {},
        runtime_flags=flags or STATUS_FLAGS[status],
        signers=signers(keyring, who or STATUS_SIGNERS[status]),
        keyring=keyring,
        data_dir=data_dir,
        note=note,
    )


def verify(keyring, data_dir, logs=None):
    paths = None if logs is None else [data_dir / "audit" / "decision_logs" / f"{n}.jsonl" for n in logs]
    return verify_decision_logs(paths, keyring, data_dir=data_dir)


def read_lines(log_path: Path) -> list[bytes]:
    return log_path.read_bytes().split(b"\n")[:-1]


def write_checkpoint(log_path: Path, count: int, head: str, signer) -> None:
    """An attacker's re-seal: a checkpoint signed with a box-readable HMAC key (the pre-witness format)."""
    payload = {"log": log_name_of(log_path), "count": count, "head": head}
    doc = {**payload, "signature": signer.sign(DOMAIN_CHECKPOINT, payload)}
    atomic_write_bytes(checkpoint_path(log_path), canonical_bytes(doc) + b"\n")


def write_lines(log_path: Path, lines: list[bytes], keyring: KeyRing | None = None) -> None:
    """Write lines; with a key ring, also re-seal the checkpoint with the box-readable audit HMAC key (what
    an attacker without passwords can do)."""
    log_path.write_bytes(b"".join(line + b"\n" for line in lines))
    if keyring is not None:
        head = line_hash(lines[-1]) if lines else genesis_hash(log_name_of(log_path))
        write_checkpoint(log_path, len(lines), head, keyring.hmac_signer("audit"))


def rechain(log_path: Path, entries: list[dict[str, Any]], keyring: KeyRing) -> list[bytes]:
    """Recompute seq/prev_hash for entries as given (signatures untouched) and re-sign the checkpoint."""
    prev = genesis_hash(log_name_of(log_path))
    lines = []
    for seq, entry in enumerate(entries, 1):
        entry = {**entry, "seq": seq, "prev_hash": prev}
        line = canonical_bytes(entry)
        lines.append(line)
        prev = line_hash(line)
    write_lines(log_path, lines, keyring)
    return lines


def forge_append(
    log_path: Path,
    keyring: KeyRing,
    status: str,
    signer_objects: dict,
    *,
    artefacts=None,
    flags=None,
    timestamp: datetime | None = None,
    sign_for_log: str | None = None,
    stage: str | None = None,
) -> dict[str, Any]:
    """Append a correctly chained line with the given signers, skipping every check append_entry makes; the
    checkpoint is co-signed by the same signers (what a holder of those keys could write)."""
    lines = read_lines(log_path) if log_path.exists() else []
    name = log_name_of(log_path)
    entry = build_entry(
        seq=len(lines) + 1,
        prev_hash=line_hash(lines[-1]) if lines else genesis_hash(name),
        stage=stage or LOG_STAGE[name],
        status=status,
        artefacts=artefacts or {},
        runtime_flags=flags or STATUS_FLAGS[status],
        timestamp=timestamp,
    )
    context = signing_context(keyring, log_path.parent.parent.parent)
    signed = sign_entry(entry, sign_for_log or name, signer_objects, context=context)
    if not lines:  # as if the log had been started through the API, which marks its witness first
        witness_for(keyring.installation.data_dir).begin(
            witness_key(name, context), Mark(0, genesis_hash(name)), label=str(log_path)
        )
    write_lines(log_path, [*lines, canonical_bytes(signed)])
    cosigned_checkpoint(log_path, keyring, signed, signer_objects)
    return signed


def cosigned_checkpoint(
    log_path: Path, keyring: KeyRing, entry: dict[str, Any], signer_objects: dict
) -> None:
    """A checkpoint co-signed by `signer_objects` over `entry` (what an append writes), bypassing checks."""
    from audit.trust.decision_rules import checkpoint_document

    name, context = log_name_of(log_path), signing_context(keyring, log_path.parent.parent.parent)
    doc = checkpoint_document(
        entry, name, context, sign_checkpoint(entry, name, signer_objects, context=context)
    )
    atomic_write_bytes(checkpoint_path(log_path), canonical_bytes(doc) + b"\n")


def reasons(report) -> str:
    return "\n".join(str(p) for p in report.problems)


def write_long_log(keyring: KeyRing, data_dir: Path, count: int, log: str = "demo") -> Path:
    """`count` honest demo_ready entries written in one go (signed with the signers' keys, chained, the
    checkpoint co-signed and the witness started), as if appended one by one over a long time."""
    from datetime import timedelta

    from audit.trust.keyring import utc_now

    log_path = data_dir / "audit" / "decision_logs" / f"{log}.jsonl"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    context = signing_context(keyring, data_dir)
    signer_objects = signers(keyring, STATUS_SIGNERS["demo_ready"])
    start = utc_now() + timedelta(milliseconds=1)  # the signers' keys were just created
    prev = genesis_hash(log)
    lines = []
    for seq in range(1, count + 1):
        entry = build_entry(
            seq=seq,
            prev_hash=prev,
            stage=LOG_STAGE[log],
            status="demo_ready",
            artefacts={"run_hash": f"sha384:{seq:096x}"},
            runtime_flags=STATUS_FLAGS["demo_ready"],
            timestamp=start + timedelta(microseconds=seq),
        )
        signed = sign_entry(entry, log, signer_objects, context=context)
        lines.append(canonical_bytes(signed))
        prev = line_hash(lines[-1])
    witness_for(keyring.installation.data_dir).begin(
        witness_key(log, context), Mark(0, genesis_hash(log)), label=str(log_path)
    )
    write_lines(log_path, lines)
    cosigned_checkpoint(log_path, keyring, signed, signer_objects)
    return log_path
