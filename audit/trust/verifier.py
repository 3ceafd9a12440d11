"""The decision-log verifier: the only code path that decides whether evidence counts.

verify_decision_logs() reads the logs strictly and returns a VerificationReport; gates trust nothing else.
A line is accepted only if all of these hold (first failure is reported as `file:line: reason`):
strict JSON; the v2 schema; seq continuity; prev_hash chain (genesis bound to the log name); timestamps
non-decreasing; stage belongs to the log and status to the stage (STATUS_RULES); the status' runtime flags;
every required signer role present; each signature parses, names a known `signer` key certified by the
installation root, uses that key's algorithm, verifies over the entry+log+role+installation+deployment, was
made while the key was valid (retired keys still verify what they signed before retirement), by a key whose
owner holds the role, and no key or person counts twice; artefact files exist with the recorded SHA-384, and
every artefact the entry's gate declares proves what its kind says (audit.trust.evidence: one problem per
failing artefact). Per log, the checkpoint co-signed by the last entry's signers must match count and head
(catches truncation; no box-readable secret can re-seal it) and the witness must not hold a later position
(catches rollback). Across logs, paper_ready needs an earlier verified demo_ready and live_ready an earlier
verified paper_ready.

Speed: key objects and validity windows are cached per run, the entry is canonicalised once and the
per-role signing input spliced from it, and the schema is checked by a precompiled mirror (see
decision_log_shape) unless a different schema file is given. The Ed25519 checks of a large log run on
every core (audit.trust.parallel_verify), with the same report as the sequential path.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from audit.trust import parallel_verify
from audit.trust import paths as trust_paths
from audit.trust.canonical import (
    DOMAIN_DECISION_LOG,
    StrictJSONError,
    canonical_bytes,
    domain_prefix,
    fast_canonical_bytes,
    strict_loads,
)
from audit.trust.decision_log import (
    LEGACY_CHECKPOINT_KEYS,
    LOG_STAGE,
    STATUS_RULES,
    DecisionLogError,
    checkpoint_signing_input,
    entry_digest,
    genesis_hash,
    line_hash,
    log_name_of,
    read_checkpoint,
    resolve_artefact_path,
    signing_context,
    witness_key,
)
from audit.trust.decision_log_shape import SCHEMA_SHA384, shape_error
from audit.trust.evidence import entry_artefact_problems, read_capped
from audit.trust.fsutil import MAX_JSON_FILE, MAX_LOG_FILE, read_regular_file
from audit.trust.hashing import sha384_bytes, sha384_file
from audit.trust.keyring import PURPOSE_SIGNER, KeyRing, KeyRingError, parse_time
from audit.trust.signatures import SignatureError, parse_signature, verify_parsed
from audit.trust.witness import Mark, WitnessError, witness_for

_DL_PREFIX = domain_prefix(DOMAIN_DECISION_LOG)


@dataclass(frozen=True)
class Problem:
    file: str
    line: int  # 0 = the file as a whole (missing checkpoint, unreadable key ring ...)
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


@dataclass(frozen=True)
class VerifiedEntry:
    log: str
    file: str
    line: int
    entry: dict[str, Any]
    line_hash: str
    timestamp: datetime
    signers: dict[str, str]  # role -> owner username
    signer_kids: dict[str, str]  # role -> kid

    @property
    def status(self) -> str:
        return self.entry["status"]

    @property
    def stage(self) -> str:
        return self.entry["stage"]


@dataclass(frozen=True)
class VerificationReport:
    ok: bool
    problems: tuple[Problem, ...]
    entries: tuple[VerifiedEntry, ...]  # verified entries, logs in stage order, lines in file order
    logs: dict[str, list[VerifiedEntry]] = field(default_factory=dict)
    files: tuple[str, ...] = ()


class _LineRejected(Exception):
    pass


class _Run:
    """Per-verification caches: key objects, validity windows, artefact digests, canonical role names."""

    def __init__(
        self,
        keyring: KeyRing,
        data_dir: Path,
        shape: Callable[[Any], str | None],
        fast: bool,
        context: dict[str, str],
    ):
        self.keyring = keyring
        self.data_dir = data_dir
        self.shape = shape
        self.fast = fast
        self.context = context
        self.context_bytes = (
            canonical_bytes(context["deployment_id"]),
            canonical_bytes(context["installation_id"]),
        )
        self.windows: dict[str, tuple[datetime, datetime | None]] = {}
        self.digests: dict[Path, str | None] = {}
        self.role_suffix: dict[str, bytes] = {}
        self.contents: dict[Path, bytes | None] = {}
        self.recorded: dict[str, str | None] = {}  # recorded path text -> digest (skips Path parsing)
        self.keyring_salt = _keyring_salt(keyring)
        self.pool: parallel_verify.Pool | None = None  # None: sequential
        self.deferred: parallel_verify.Deferred | None = None  # the current log's deferred signatures

    def window(self, record) -> tuple[datetime, datetime | None]:
        cached = self.windows.get(record.kid)
        if cached is None:
            until = parse_time(record.valid_until) if record.valid_until else None
            cached = self.windows[record.kid] = (parse_time(record.valid_from), until)
        return cached

    def digest(self, path: Path) -> str | None:
        if path not in self.digests:
            data = self.read(path)
            if data is not None:
                self.digests[path] = sha384_bytes(data)
            else:
                self.digests[path] = sha384_file(path) if path.is_file() else None
        return self.digests[path]

    def recorded_digest(self, stored: str) -> str | None:
        if stored not in self.recorded:
            self.recorded[stored] = self.digest(resolve_artefact_path(stored, self.data_dir))
        return self.recorded[stored]

    def read(self, path: Path) -> bytes | None:
        if path not in self.contents:
            self.contents[path] = read_capped(path)
        return self.contents[path]

    def evidence_problems(self, verified: VerifiedEntry, earlier: tuple[dict[str, Any], ...]) -> list[str]:
        return entry_artefact_problems(
            verified.entry,
            log_name=verified.log,
            data_dir=self.data_dir,
            keyring=self.keyring,
            read=self.read,
            digest=self.digest,
            earlier=earlier,
            cache_salt=self.keyring_salt,
            signing_context=self.context,
        )

    def suffix(self, role: str) -> bytes:
        cached = self.role_suffix.get(role)
        if cached is None:
            cached = self.role_suffix[role] = canonical_bytes(role) + b"}"
        return cached


def _keyring_salt(keyring: KeyRing) -> str:
    """Cached evidence verdicts are valid only for the key ring that produced them."""
    try:
        return sha384_bytes(keyring.path.read_bytes())
    except (AttributeError, OSError):
        return f"ring-{id(keyring)}"


def verify_decision_logs(
    paths: Iterable[Path | str] | None = None,
    keyring: KeyRing | None = None,
    schema_path: Path | str | None = None,
    data_dir: Path | str | None = None,
) -> VerificationReport:
    """Strictly verify decision logs (default: all three under the data dir).

    Logs of earlier stages beside a given log are verified too, because stage order depends on them.
    """
    return _verify(paths, keyring, schema_path, data_dir, pending=None)


def verify_decision_logs_with_pending(
    log_path: Path, line: bytes, keyring: KeyRing, data_dir: Path | None = None
) -> VerificationReport:
    """Verify `log_path` as it would read with `line` appended (used by append before writing anything)."""
    log_path = Path(log_path)
    current = (
        read_regular_file(log_path, max_bytes=MAX_LOG_FILE, what="decision log") if log_path.exists() else b""
    )
    return verify_log_content(log_path, current + line + b"\n", keyring, data_dir)


def verify_log_content(
    log_path: Path, content: bytes, keyring: KeyRing, data_dir: Path | None = None
) -> VerificationReport:
    """Verify `log_path` as if it held `content`, without its checkpoint (the caller is about to write it).

    Only for writers holding the log's lock: append and interrupted-append recovery.
    """
    return _verify([log_path], keyring, None, data_dir, pending=(Path(log_path), content))


def _verify(paths, keyring, schema_path, data_dir, pending, parallel=True) -> VerificationReport:
    paths = list(paths) if paths is not None else None  # a second, sequential pass may need them again
    base = Path(data_dir) if data_dir is not None else trust_paths.data_dir()
    if keyring is None:
        try:
            keyring = KeyRing.load(base)
        except KeyRingError as exc:
            return _failed(str(trust_paths.keys_dir(base) / "keyring.json"), str(exc))
    try:
        shape, fast = _schema_checker(schema_path)
    except (OSError, ValueError) as exc:
        return _failed(str(schema_path), f"cannot use schema: {' '.join(str(exc).split())}")
    try:
        context = signing_context(keyring, base)
    except DecisionLogError as exc:
        return _failed(str(trust_paths.installation_path(base)), str(exc))
    run = _Run(keyring, base, shape, fast, context)
    if parallel:
        run.pool = parallel_verify.Pool()
        try:
            return _verify_all(paths, run, pending)
        except parallel_verify.Redo:
            return _verify(paths, keyring, schema_path, data_dir, pending, parallel=False)
        finally:
            run.pool.close()
    return _verify_all(paths, run, pending)


def _verify_all(paths, run: _Run, pending) -> VerificationReport:
    base = run.data_dir
    log_paths = _with_prerequisites(
        [Path(p) for p in paths]
        if paths is not None
        else [trust_paths.decision_log_path(n, base) for n in trust_paths.LOG_NAMES]
    )
    problems: list[Problem] = []
    accepted: list[VerifiedEntry] = []
    logs: dict[str, list[VerifiedEntry]] = {}
    for log_path in log_paths:
        extra = pending[1] if pending is not None and pending[0].resolve() == log_path.resolve() else None
        log_entries = _verify_log(log_path, run, problems, accepted, extra)
        logs[log_name_of(log_path)] = log_entries
        accepted.extend(log_entries)
    return VerificationReport(
        ok=not problems,
        problems=tuple(problems),
        entries=tuple(accepted),
        logs=logs,
        files=tuple(str(p) for p in log_paths),
    )


def _failed(file: str, reason: str) -> VerificationReport:
    return VerificationReport(ok=False, problems=(Problem(file, 0, reason),), entries=())


def _with_prerequisites(log_paths: list[Path]) -> list[Path]:
    """Add earlier-stage siblings (stage order needs them) and order everything by stage."""
    wanted: dict[Path, Path] = {}
    for path in log_paths:
        wanted.setdefault(path.resolve(), path)
        name = log_name_of(path)
        if name in trust_paths.LOG_NAMES:
            for earlier in trust_paths.LOG_NAMES[: trust_paths.LOG_NAMES.index(name)]:
                sibling = path.with_name(f"{earlier}.jsonl")
                wanted.setdefault(sibling.resolve(), sibling)
    order = {n: i for i, n in enumerate(trust_paths.LOG_NAMES)}
    return sorted(wanted.values(), key=lambda p: order.get(log_name_of(p), len(order)))


def _schema_checker(schema_path) -> tuple[Callable[[Any], str | None], bool]:
    if schema_path is None:
        return shape_error, True
    raw = read_regular_file(schema_path, max_bytes=MAX_JSON_FILE, what="schema")
    if sha384_bytes(raw) == SCHEMA_SHA384:
        return shape_error, True
    import jsonschema  # only for schemas the fast mirror was not written for

    schema = strict_loads(raw)
    validator_cls = jsonschema.validators.validator_for(schema)
    validator_cls.check_schema(schema)
    validator = validator_cls(schema)

    def check(entry: Any) -> str | None:
        error = jsonschema.exceptions.best_match(validator.iter_errors(entry))
        if error is None:
            return None
        where = "/".join(str(p) for p in error.absolute_path) or "entry"
        return f"{where}: {' '.join(error.message.split())[:200]}"

    return check, False


def _verify_log(log_path: Path, run: _Run, problems: list[Problem], earlier: list[VerifiedEntry], pending):
    file = str(log_path)
    name = log_name_of(log_path)
    if name not in LOG_STAGE:
        problems.append(Problem(file, 0, f"unknown decision log name {name!r}"))
        return []
    try:
        data = (
            pending
            if pending is not None
            else read_regular_file(log_path, max_bytes=MAX_LOG_FILE, what="decision log")
        )
    except FileNotFoundError:
        data = b""
    except OSError as exc:
        problems.append(Problem(file, 0, f"cannot read log: {exc.strerror}"))
        return []
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    elif data:
        problems.append(Problem(file, len(lines), "incomplete last line (no trailing newline)"))
    if run.pool is not None:
        run.deferred = run.pool.deferral(2 * len(lines))

    log_canonical = canonical_bytes(name)
    prev = genesis_hash(name)
    last_ts: datetime | None = None
    entries: list[VerifiedEntry] = []
    prior_statuses = {(e.status, e.timestamp) for e in earlier}
    latest_prior = {e.status: e.entry for e in earlier}  # entries are in order: the last one wins
    for number, line in enumerate(lines, 1):
        digest = line_hash(line)
        try:
            verified = _verify_line(line, number, file, name, log_canonical, prev, last_ts, run, digest)
            rule = STATUS_RULES[verified.status]
            if rule.requires_earlier and not any(
                status == rule.requires_earlier and ts < verified.timestamp for status, ts in prior_statuses
            ):
                raise _LineRejected(f"{verified.status} without an earlier verified {rule.requires_earlier}")
        except _LineRejected as exc:
            problems.append(Problem(file, number, str(exc)))
        else:
            prerequisite = STATUS_RULES[verified.status].requires_earlier
            before = (latest_prior[prerequisite],) if prerequisite in latest_prior else ()
            evidence = run.evidence_problems(verified, before)
            if evidence:
                problems.extend(Problem(file, number, reason) for reason in evidence)
            else:
                entries.append(verified)
                last_ts = verified.timestamp
        prev = digest
    if run.deferred is not None:  # every signature of this log, before its checkpoint and witness count
        deferred, run.deferred = run.deferred, None
        deferred.settle()

    if pending is None:
        _check_checkpoint(log_path, name, lines, entries, run, problems)
        _check_witness(log_path, name, lines, run, problems, advance=len(entries) == len(lines))
    return entries


def _verify_line(line, number, file, name, log_canonical, prev, last_ts, run: _Run, digest) -> VerifiedEntry:
    if not line:
        raise _LineRejected("empty line")
    try:
        entry = strict_loads(line)
    except StrictJSONError as exc:
        raise _LineRejected(f"invalid JSON: {exc}") from None
    error = run.shape(entry)
    if error:
        raise _LineRejected(f"schema: {error}")
    if entry["seq"] != number or type(entry["seq"]) is not int:
        raise _LineRejected(
            f"seq {entry['seq']} where {number} expected (line deleted, inserted or reordered)"
        )
    if entry["prev_hash"] != prev:
        raise _LineRejected("prev_hash does not match the previous line (chain broken)")
    try:
        timestamp = parse_time(entry["timestamp"])
    except ValueError:
        raise _LineRejected("timestamp is not a valid UTC time") from None
    if last_ts is not None and timestamp < last_ts:
        raise _LineRejected("timestamp earlier than the previous entry")
    stage, status = entry["stage"], entry["status"]
    if LOG_STAGE[name] != stage:
        raise _LineRejected(f"stage {stage} does not belong in the {name} log")
    rule = STATUS_RULES.get(status)
    if rule is None:
        raise _LineRejected(f"unknown status {status}")
    if rule.stage is not None and rule.stage != stage:
        raise _LineRejected(f"status {status} is not allowed in stage {stage}")
    flags = entry["runtime_flags"]
    for flag, required in rule.runtime_flags.items():
        if flags.get(flag) is not required:
            raise _LineRejected(f"status {status} requires {flag}={json.dumps(required)}")
    signatures = entry["signatures"]
    for role in rule.signer_roles:
        if role not in signatures:
            raise _LineRejected(f"status {status} needs a signature by role {role}")

    unsigned = {k: v for k, v in entry.items() if k != "signatures"}
    body = fast_canonical_bytes(unsigned) if run.fast else canonical_bytes(unsigned)
    deployment, installation = run.context_bytes
    message_prefix = (
        _DL_PREFIX
        + b'{"deployment_id":'
        + deployment
        + b',"entry":'
        + body
        + b',"installation_id":'
        + installation
        + b',"log":'
        + log_canonical
        + b',"role":'
    )
    signers: dict[str, str] = {}
    kids: dict[str, str] = {}
    for role, text in signatures.items():
        record = _check_signature(role, text, message_prefix + run.suffix(role), timestamp, run)
        if record.kid in kids.values():
            raise _LineRejected(f"key {record.kid} signs for more than one role")
        if record.owner in signers.values():
            raise _LineRejected(f"{record.owner} signs as more than one role (one person, one signature)")
        signers[role] = record.owner
        kids[role] = record.kid

    for artefact, value in entry["artefacts"].items():
        if isinstance(value, dict):
            found = run.recorded_digest(value["path"])
            if found is None:
                raise _LineRejected(f"artefact {artefact}: file {value['path']} not found")
            if found != value["sha384"]:
                raise _LineRejected(f"artefact {artefact}: file {value['path']} changed since it was signed")
    return VerifiedEntry(name, file, number, entry, digest, timestamp, signers, kids)


def _check_signature(role: str, text: str, message: bytes, timestamp: datetime, run: _Run):
    try:
        parsed = parse_signature(text)
        try:
            record = run.keyring.get(parsed.kid)
        except KeyRingError:
            raise SignatureError(f"unknown key id {parsed.kid}") from None
        if record.purpose != PURPOSE_SIGNER:
            raise SignatureError(f"key {record.kid} is a {record.purpose} key, not a signer key")
        valid_from, valid_until = run.window(record)
        if timestamp < valid_from or (valid_until is not None and timestamp >= valid_until):
            raise SignatureError(f"key {record.kid} was not valid at the entry's timestamp")
        if role not in record.roles:
            raise SignatureError(f"{record.owner} (key {record.kid}) does not hold the role {role}")
        key = run.keyring.verifying_key(record.kid)
        if run.deferred is not None:
            run.deferred.verify(parsed, message, key)
        else:
            verify_parsed(parsed, message, key)
    except (SignatureError, KeyRingError) as exc:
        raise _LineRejected(f"{role} signature: {exc}") from None
    return record


def _check_checkpoint(
    log_path: Path,
    name: str,
    lines: list[bytes],
    entries: list[VerifiedEntry],
    run: _Run,
    problems: list[Problem],
) -> None:
    file = str(trust_paths.checkpoint_path(log_path))
    try:
        checkpoint = read_checkpoint(log_path)
    except (StrictJSONError, OSError) as exc:
        problems.append(Problem(file, 0, f"unreadable checkpoint: {exc}"))
        return
    if checkpoint is None:
        if lines:
            problems.append(Problem(file, 0, "checkpoint missing for a non-empty log"))
        return
    if not lines:
        problems.append(Problem(file, 0, "checkpoint for an empty log (the log was deleted or truncated)"))
        return
    count = checkpoint.get("count")
    if count != len(lines) or checkpoint.get("head") != line_hash(lines[-1]):
        problems.append(
            Problem(
                file,
                0,
                f"checkpoint records {count} entries but the log has {len(lines)} "
                f"or a different head (truncated or rewritten)",
            )
        )
        return
    if set(checkpoint) != LEGACY_CHECKPOINT_KEYS and (
        checkpoint["installation_id"] != run.context["installation_id"]
        or checkpoint["deployment_id"] != run.context["deployment_id"]
    ):
        problems.append(Problem(file, 0, _foreign(checkpoint)))
        return
    if not entries or entries[-1].line != len(lines):
        return  # the last line itself was refused; that problem is already reported
    problem = checkpoint_problem(checkpoint, entries, name, run.context, run.keyring, run)
    if problem:
        problems.append(Problem(file, 0, problem))


def checkpoint_problem(
    checkpoint: dict[str, Any],
    entries: list[VerifiedEntry],
    name: str,
    context: dict[str, str],
    keyring: KeyRing,
    run: _Run | None = None,
) -> str | None:
    """Why `checkpoint` does not seal the verified `entries` of log `name` in `context`, or None. Its
    signatures must be the last entry's signers' (same keys, same roles), over the co-signed payload."""
    if set(checkpoint) == LEGACY_CHECKPOINT_KEYS:
        return "is sealed with a box-readable HMAC key, not co-signed by the signers (re-sealed?)"
    if checkpoint["log"] != name:
        return f"belongs to log {checkpoint['log']!r}"
    if (checkpoint["installation_id"], checkpoint["deployment_id"]) != (
        context["installation_id"],
        context["deployment_id"],
    ):
        return _foreign(checkpoint).removeprefix("checkpoint ")
    last = entries[-1] if entries else None
    if last is None or checkpoint["count"] != last.line or checkpoint["entry"] != entry_digest(last.entry):
        return "does not seal the last entry of the log"
    if set(checkpoint["signatures"]) != set(last.signer_kids):
        return f"is signed by {sorted(checkpoint['signatures'])}, not by the last entry's roles"
    run = run or _Run(keyring, keyring.data_dir, shape_error, True, dict(context))
    message = checkpoint_signing_input(last.entry, name, context)
    for role, text in checkpoint["signatures"].items():
        try:
            record = _check_signature(role, text, message, last.timestamp, run)
        except _LineRejected as exc:
            return f"signature: {exc}"
        if record.kid != last.signer_kids[role]:
            return f"{role} signature is by {record.kid}, not by the key that signed the entry"
    return None


def _foreign(checkpoint: dict[str, Any]) -> str:
    return (
        f"checkpoint belongs to deployment {checkpoint['deployment_id'][:60]} of installation "
        f"{checkpoint['installation_id'][:60]}: evidence copied from another deployment or installation"
    )


def _check_witness(
    log_path: Path, name: str, lines: list[bytes], run: _Run, problems: list[Problem], *, advance: bool
) -> None:
    """The log must be at or beyond the highest position the witness saw; a fully verified log advances it."""
    installation = run.keyring.installation
    key = witness_key(name, run.context)
    current = Mark(len(lines), line_hash(lines[-1]) if lines else genesis_hash(name))

    def head_at(seq: int) -> str | None:
        if seq == 0:
            return genesis_hash(name)
        return line_hash(lines[seq - 1]) if seq <= len(lines) else None

    try:
        witness = witness_for(installation.data_dir)
        if advance and not any(
            p.file in (str(log_path), str(trust_paths.checkpoint_path(log_path))) for p in problems
        ):
            try:
                witness.advance(key, current, label=str(log_path), head_at=head_at)
            except OSError:
                witness.check(key, current, label=str(log_path), head_at=head_at)  # read-only verifier
        else:
            witness.check(key, current, label=str(log_path), head_at=head_at)
    except WitnessError as exc:
        problems.append(Problem(str(log_path), 0, str(exc)))
