"""Decision logs: hash-chained, Ed25519-signed JSONL with a signed checkpoint, appended atomically.

Line format: the RFC 8785 canonical JSON of the whole entry (signatures included), then `\n`.
- `seq` counts from 1; `prev_hash` is `sha384:<hex>` of the previous line's bytes (without `\n`), and the
  first line's is the genesis value bound to the log name, so lines cannot be reordered, dropped or moved
  between logs.
- Each role signs signing_input("oem/decision-log/v2", {"deployment_id", "entry": <entry without
  signatures>, "installation_id", "log": <name>, "role": <role>}): a signature lifted onto another entry,
  role, log, deployment or installation does not verify.
- `<log>.checkpoint.json` holds {log, installation_id, deployment_id, count, entry (digest of the last
  unsigned entry), head (its line hash)} co-signed by the last entry's signers in the signing ceremony; it
  catches a truncated tail, and no box-readable secret can re-seal a truncated log. An older checkpoint
  with its older log is a rollback, which the witness (audit.trust.witness) refuses.

STATUS_RULES is the one table of what each status requires; the verifier and the gates both read it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from audit.trust import paths
from audit.trust.canonical import (
    DOMAIN_CHECKPOINT,
    DOMAIN_DECISION_LOG,
    StrictJSONError,
    canonical_bytes,
    domain_prefix,
    signing_input,
    strict_loads,
)
from audit.trust.fsutil import (
    MAX_JSON_FILE,
    MAX_LOG_FILE,
    atomic_write_bytes,
    exclusive_lock,
    fsync_dir,
    read_regular_file,
)
from audit.trust.hashing import sha384_bytes, sha384_file
from audit.trust.installation import signature_context
from audit.trust.keyring import KeyRing, format_time, utc_now
from audit.trust.signatures import Ed25519Signer
from audit.trust.witness import Mark, WitnessError, witness_for

FLAG_DEMO_MODE = "StrategyContext.require_demo_mode"
FLAG_COMPLIANCE = "runtime.compliance_confirmed"
DEFAULT_RUNTIME_FLAGS = {FLAG_DEMO_MODE: True, FLAG_COMPLIANCE: False}

LOG_STAGE = {"demo": "demo", "paper": "paper", "live_execution": "live"}


@dataclass(frozen=True)
class StatusRule:
    stage: str | None  # None: allowed in any log
    signer_roles: tuple[str, ...]  # every one must sign, each by a different person and key
    runtime_flags: Mapping[str, bool]  # values the entry must record
    requires_earlier: str | None  # a verified entry with this status must exist earlier (any log)


# Every promotion decision is signed by the product owner AND a compliance officer (two people); the
# engineer's and owner's work on the stage-1 demo checklist is carried by the signed checklist artefact.
# From the plan's "Bramki decyzyjne": paper and live
# decisions need the owner AND compliance. `revoked` re-locks the runtime and needs only the owner.
STATUS_RULES: dict[str, StatusRule] = {
    "demo_ready": StatusRule(
        "demo", ("compliance", "owner"), {FLAG_DEMO_MODE: True, FLAG_COMPLIANCE: False}, None
    ),
    "paper_ready": StatusRule("paper", ("compliance", "owner"), {FLAG_COMPLIANCE: False}, "demo_ready"),
    "live_ready": StatusRule(
        "live", ("compliance", "owner"), {FLAG_DEMO_MODE: False, FLAG_COMPLIANCE: True}, "paper_ready"
    ),
    "revoked": StatusRule(None, ("owner",), {FLAG_DEMO_MODE: True, FLAG_COMPLIANCE: False}, None),
}


class DecisionLogError(ValueError):
    """An append was refused or a log file cannot be used. One-line message; nothing was written."""


def log_name_of(log_path: Path) -> str:
    return Path(log_path).name.removesuffix(".jsonl")


def genesis_hash(log_name: str) -> str:
    """prev_hash of a log's first entry: bound to the log name so logs cannot be swapped wholesale."""
    return "sha384:" + sha384_bytes(domain_prefix(DOMAIN_DECISION_LOG) + b"genesis\x00" + log_name.encode())


def line_hash(line: bytes) -> str:
    return "sha384:" + sha384_bytes(line)


def unsigned_entry(entry: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k != "signatures"}


def signing_context(keyring: KeyRing, data_dir: Path | str | None) -> dict[str, str]:
    """{installation_id, deployment_id} of the evidence in `data_dir` (default: the installation's own)."""
    if keyring.installation is None:
        raise DecisionLogError("the key ring has no installation: run init_installation")
    return signature_context(keyring.installation, data_dir)


def entry_signing_input(
    entry: Mapping[str, Any], log_name: str, role: str, *, context: Mapping[str, str]
) -> bytes:
    """Bytes a role signs: binds the entry to its log, the role the signer acts in, the deployment and the
    installation (`context` from signing_context)."""
    return signing_input(
        DOMAIN_DECISION_LOG,
        {"entry": unsigned_entry(entry), "log": log_name, "role": role, **_context(context)},
    )


def _context(context: Mapping[str, str]) -> dict[str, str]:
    if not isinstance(context, Mapping) or set(context) != {"installation_id", "deployment_id"}:
        raise DecisionLogError("a signature context needs exactly installation_id and deployment_id")
    return {"installation_id": context["installation_id"], "deployment_id": context["deployment_id"]}


def witness_key(log_name: str, context: Mapping[str, str]) -> str:
    return f"decision_log:{context['deployment_id']}:{log_name}"


def artefact_file(path: str | Path, data_dir: Path | None = None) -> dict[str, str]:
    """A file artefact {path, sha384}; the path is stored relative to the data dir when it lies inside it."""
    base = (data_dir or paths.data_dir()).resolve()
    resolved = Path(path).resolve()
    if not resolved.is_file():
        raise DecisionLogError(f"artefact file {path} does not exist")
    try:
        stored = resolved.relative_to(base).as_posix()
    except ValueError:
        stored = str(resolved)
    return {"path": stored, "sha384": sha384_file(resolved)}


def resolve_artefact_path(stored: str, data_dir: Path) -> Path:
    candidate = Path(stored)
    return candidate if candidate.is_absolute() else data_dir / candidate


# ---- checkpoint ---------------------------------------------------------------------------------------
CHECKPOINT_KEYS = frozenset(
    {"log", "installation_id", "deployment_id", "count", "entry", "head", "signatures"}
)
LEGACY_CHECKPOINT_KEYS = frozenset({"log", "count", "head", "signature"})


def entry_digest(entry: Mapping[str, Any]) -> str:
    return "sha384:" + sha384_bytes(canonical_bytes(unsigned_entry(entry)))


def checkpoint_payload(entry: Mapping[str, Any], log_name: str, context: Mapping[str, str]) -> dict[str, Any]:
    """What the signers co-sign for the checkpoint after `entry`: fixed before any signature exists, so the
    console's signers (one at a time) sign it with the entry."""
    return {"log": log_name, "count": entry["seq"], "entry": entry_digest(entry), **_context(context)}


def checkpoint_signing_input(entry: Mapping[str, Any], log_name: str, context: Mapping[str, str]) -> bytes:
    return signing_input(DOMAIN_CHECKPOINT, checkpoint_payload(entry, log_name, context))


def sign_checkpoint(
    entry: Mapping[str, Any],
    log_name: str,
    signers: Mapping[str, Ed25519Signer],
    *,
    context: Mapping[str, str],
) -> dict[str, str]:
    message = checkpoint_signing_input(entry, log_name, context)
    return {role: signer.sign_bytes(message) for role, signer in signers.items()}


def checkpoint_document(
    signed: Mapping[str, Any], log_name: str, context: Mapping[str, str], signatures: Mapping[str, str]
) -> dict[str, Any]:
    return {
        **checkpoint_payload(signed, log_name, context),
        "head": line_hash(canonical_bytes(dict(signed))),
        "signatures": dict(signatures),
    }


def pending_checkpoint_path(log_path: Path) -> Path:
    return log_path.with_name(log_path.stem + ".checkpoint.pending.json")


def read_checkpoint(log_path: Path, path: Path | None = None) -> dict[str, Any] | None:
    """The checkpoint document (structure checked, signatures not), or None when there is none. A legacy
    HMAC-sealed checkpoint is returned as is; the verifier refuses it."""
    path = path or paths.checkpoint_path(log_path)
    if not path.exists():
        return None
    doc = strict_loads(read_regular_file(path, max_bytes=MAX_JSON_FILE, what="checkpoint"))
    if isinstance(doc, dict) and set(doc) == LEGACY_CHECKPOINT_KEYS:
        return doc
    if (
        not isinstance(doc, dict)
        or set(doc) != CHECKPOINT_KEYS
        or type(doc["count"]) is not int
        or not all(isinstance(doc[k], str) for k in CHECKPOINT_KEYS - {"count", "signatures"})
        or not isinstance(doc["signatures"], dict)
        or not all(isinstance(v, str) for v in doc["signatures"].values())
    ):
        raise StrictJSONError("checkpoint has an unexpected structure")
    return doc


# ---- append -------------------------------------------------------------------------------------------
def build_entry(
    *,
    seq: int,
    prev_hash: str,
    stage: str,
    status: str,
    artefacts: Mapping[str, Any],
    runtime_flags: Mapping[str, bool],
    timestamp: datetime | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "seq": seq,
        "prev_hash": prev_hash,
        "timestamp": format_time(timestamp or utc_now()),
        "stage": stage,
        "status": status,
        "artefacts": dict(artefacts),
        "runtime_flags": {**DEFAULT_RUNTIME_FLAGS, **runtime_flags},
    }
    if note is not None:
        entry["note"] = note
    return entry


def sign_entry(
    entry: dict[str, Any],
    log_name: str,
    signers: Mapping[str, Ed25519Signer],
    *,
    context: Mapping[str, str],
) -> dict[str, Any]:
    signatures = {
        role: signer.sign_bytes(entry_signing_input(entry, log_name, role, context=context))
        for role, signer in signers.items()
    }
    return {**unsigned_entry(entry), "signatures": signatures}


def append_entry(
    log_path: Path | str,
    *,
    status: str,
    artefacts: Mapping[str, Any],
    runtime_flags: Mapping[str, bool],
    signers: Mapping[str, Ed25519Signer],
    keyring: KeyRing,
    data_dir: Path | None = None,
    timestamp: datetime | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    """Sign and append one entry, or raise DecisionLogError having written nothing (all signers present)."""
    entry = prepare_entry(
        log_path,
        status=status,
        artefacts=artefacts,
        runtime_flags=runtime_flags,
        keyring=keyring,
        data_dir=data_dir,
        timestamp=timestamp,
        note=note,
    )
    name, context = log_name_of(Path(log_path)), signing_context(keyring, data_dir)
    return append_signed_entry(
        log_path,
        sign_entry(entry, name, signers, context=context),
        keyring=keyring,
        data_dir=data_dir,
        checkpoint_signatures=sign_checkpoint(entry, name, signers, context=context),
    )


@contextlib.contextmanager
def _verified_head(log_path: Path, keyring: KeyRing, data_dir: Path | None):
    """Under the log's exclusive lock, after finishing any interrupted append: (name, data dir, entry count,
    head hash) of a log that verifies now. Refuses an unknown log name or a log that does not verify."""
    base = data_dir or paths.data_dir()
    name = log_name_of(log_path)
    if name not in LOG_STAGE:
        raise DecisionLogError(f"unknown decision log {name!r} (expected one of {', '.join(LOG_STAGE)})")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(log_path.with_name(f".{name}.lock")):
        _recover_interrupted_append(log_path, keyring, base)
        _report, count, head = _current_state(log_path, keyring, base)
        yield name, base, count, head


def prepare_entry(
    log_path: Path | str,
    *,
    status: str,
    artefacts: Mapping[str, Any],
    runtime_flags: Mapping[str, bool],
    keyring: KeyRing,
    data_dir: Path | None = None,
    timestamp: datetime | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    """The unsigned next entry of a log that verifies now: seq, prev_hash and timestamp are fixed here, so
    signers in different sessions (the console's two-person decisions) all sign the same bytes."""
    log_path = Path(log_path)
    with _verified_head(log_path, keyring, data_dir) as (name, _base, count, head):
        return build_entry(
            seq=count + 1,
            prev_hash=head,
            stage=LOG_STAGE[name],
            status=status,
            artefacts=artefacts,
            runtime_flags=runtime_flags,
            timestamp=timestamp,
            note=note,
        )


def append_signed_entry(
    log_path: Path | str,
    signed: Mapping[str, Any],
    *,
    keyring: KeyRing,
    data_dir: Path | None = None,
    checkpoint_signatures: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Append an entry whose signatures (and checkpoint co-signatures, sign_checkpoint) were collected
    beforehand, or raise DecisionLogError having written nothing. Under an exclusive lock: the current logs
    must verify, the entry must still be the next one (its seq and prev_hash match the head), and it must
    verify as it will be read back (schema, signatures, roles, stage order, artefacts, context); then the
    new checkpoint is written aside, the line appended (one write + fsync), the checkpoint renamed into
    place, and the witness advanced."""
    from audit.trust.verifier import verify_decision_logs_with_pending  # verifier imports this module

    log_path = Path(log_path)
    with _verified_head(log_path, keyring, data_dir) as (name, base, count, head):
        if signed.get("seq") != count + 1 or signed.get("prev_hash") != head:
            raise DecisionLogError(
                f"the {name} log changed since this entry was prepared (now {count} entries); "
                "prepare it again"
            )
        line = canonical_bytes(dict(signed))
        candidate = verify_decision_logs_with_pending(log_path, line, keyring, data_dir=base)
        if not candidate.ok:
            raise DecisionLogError(f"refusing to append: {candidate.problems[0]}")
        context = signing_context(keyring, base)
        checkpoint = checkpoint_document(signed, name, context, checkpoint_signatures or {})
        from audit.trust.verifier import checkpoint_problem

        problem = checkpoint_problem(checkpoint, candidate.logs.get(name, []), name, context, keyring)
        if problem:
            raise DecisionLogError(f"refusing to append: checkpoint {problem}")
        witness = witness_for(keyring.installation.data_dir)
        key, label = witness_key(name, context), str(log_path)
        try:
            if count == 0:
                witness.begin(key, Mark(0, genesis_hash(name)), label=label)
            pending = pending_checkpoint_path(log_path)
            atomic_write_bytes(pending, canonical_bytes(checkpoint) + b"\n")
            _append_line(log_path, line)
            _install_checkpoint(log_path)
            witness.advance(key, Mark(count + 1, line_hash(line)), label=label)
        except WitnessError as exc:
            raise DecisionLogError(str(exc)) from None
        return dict(signed)


def recover_interrupted_append(
    log_path: Path | str, keyring: KeyRing, data_dir: Path | None = None
) -> str | None:
    """Finish or undo an append that crashed between its two writes; returns what was done, or None.

    An append writes the co-signed checkpoint aside, the line, then renames the checkpoint into place. So
    after a crash either (a) a partial last line without newline follows lines the checkpoint covers - it
    was never acknowledged and is cut off; or (b) one whole line more than the checkpoint covers - it is
    kept only if the log including it verifies and the checkpoint written aside covers it, which is then
    renamed into place. Anything else is left alone for the verifier to report.
    """
    log_path = Path(log_path)
    with exclusive_lock(log_path.with_name(f".{log_name_of(log_path)}.lock")):
        return _recover_interrupted_append(log_path, keyring, data_dir or paths.data_dir())


def _recover_interrupted_append(log_path: Path, keyring: KeyRing, base: Path) -> str | None:
    from audit.trust.verifier import verify_log_content

    if not log_path.exists():
        return None
    data = read_regular_file(log_path, max_bytes=MAX_LOG_FILE, what="decision log")
    try:
        checkpoint = read_checkpoint(log_path)
        pending = read_checkpoint(log_path, pending_checkpoint_path(log_path))
    except (StrictJSONError, OSError):
        return None
    count, head = (
        (0, genesis_hash(log_name_of(log_path)))
        if checkpoint is None
        else (
            checkpoint["count"],
            checkpoint["head"],
        )
    )
    complete = data[: data.rfind(b"\n") + 1]
    lines = complete.split(b"\n")[:-1]
    covered = (
        len(lines) == count
        and (line_hash(lines[-1]) if lines else genesis_hash(log_name_of(log_path))) == head
    )
    if complete != data and covered:
        with open(log_path, "r+b") as handle:  # (a) cut the unacknowledged partial line
            handle.truncate(len(complete))
            handle.flush()
            os.fsync(handle.fileno())
        return f"removed an incomplete last line ({len(data) - len(complete)} bytes)"
    if complete == data and len(lines) == count + 1:
        before = lines[-2] if count else None
        if (line_hash(before) if before is not None else genesis_hash(log_name_of(log_path))) != head:
            return None
        if (
            pending is None
            or pending.get("count") != count + 1
            or pending.get("head") != line_hash(lines[-1])
        ):
            return None
        if not verify_log_content(log_path, data, keyring, data_dir=base).ok:
            return None
        _install_checkpoint(log_path)  # (b)
        return "completed the checkpoint of a completely written last entry"
    return None


def _current_state(log_path: Path, keyring: KeyRing, base: Path):
    from audit.trust.verifier import verify_decision_logs

    report = verify_decision_logs([log_path], keyring, data_dir=base)
    if not report.ok:
        raise DecisionLogError(f"refusing to append to a log that does not verify: {report.problems[0]}")
    entries = report.logs.get(log_name_of(log_path), [])
    head = entries[-1].line_hash if entries else genesis_hash(log_name_of(log_path))
    return report, len(entries), head


def _install_checkpoint(log_path: Path) -> None:
    """The checkpoint written aside becomes the checkpoint: one rename, durable."""
    os.replace(pending_checkpoint_path(log_path), paths.checkpoint_path(log_path))
    fsync_dir(log_path.parent)


def _append_line(log_path: Path, line: bytes) -> None:
    data = line + b"\n"
    is_new = not log_path.exists()
    fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        written = 0
        while written < len(data):
            written += os.write(fd, data[written:])
        os.fsync(fd)
    finally:
        os.close(fd)
    if is_new:
        fsync_dir(log_path.parent)
