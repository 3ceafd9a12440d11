"""Decision logs: appending an entry atomically, with its signed checkpoint, after the strict verifier
has checked what is already there; and recovering an append a crash interrupted.

The formats (lines, hash chain, signatures, checkpoint) and STATUS_RULES live in decision_rules, which the
verifier reads too: the writer imports the verifier, never the other way round.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from audit.trust import paths
from audit.trust.canonical import StrictJSONError, canonical_bytes
from audit.trust.decision_rules import (
    DEFAULT_RUNTIME_FLAGS,
    LOG_STAGE,
    DecisionLogError,
    checkpoint_document,
    entry_signing_input,
    genesis_hash,
    line_hash,
    log_name_of,
    pending_checkpoint_path,
    read_checkpoint,
    sign_checkpoint,
    signing_context,
    unsigned_entry,
    witness_key,
)
from audit.trust.fsutil import MAX_LOG_FILE, atomic_write_bytes, exclusive_lock, fsync_dir, read_regular_file
from audit.trust.keyring import KeyRing, format_time, utc_now
from audit.trust.signatures import Ed25519Signer
from audit.trust.verifier import (
    checkpoint_problem,
    verify_decision_logs,
    verify_decision_logs_with_pending,
    verify_log_content,
)
from audit.trust.witness import Mark, WitnessError, witness_for


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
