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
decision_log_shape) unless a different schema file is given. A line spelled as the writer spells it is
read with one parse and its signed body cut from its bytes (decision_line), and a signature by a signer key
already found to hold the role is checked without re-parsing (_known_signature); anything else takes the
strict path, so the report is the same word for word. The Ed25519 checks of a large log run on
every core (audit.trust.parallel_verify), with the same report as the sequential path. What a run proved
is recorded per log (audit.trust.verified_state): the next run re-verifies only the lines appended since,
plus the checkpoint and the witness, and falls back to a full run on any mismatch; `full=True` forces the
full run.
"""

from __future__ import annotations

import binascii
import gc
import hashlib
import json
import os
import stat as stat_module
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
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
from audit.trust.decision_line import read_written_line
from audit.trust.decision_log_shape import SCHEMA_SHA384, shape_error
from audit.trust.decision_rules import (
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
from audit.trust.evidence import declares_artefacts, entry_artefact_problems, read_capped
from audit.trust.fsutil import MAX_JSON_FILE, MAX_LOG_FILE, read_regular_file
from audit.trust.hashing import sha384_bytes, sha384_file
from audit.trust.keyring import PURPOSE_SIGNER, KeyRing, KeyRingError, parse_time
from audit.trust.signatures import (
    ALG_ED25519,
    KID_PATTERN,
    ParsedSignature,
    SignatureError,
    VerifyingKey,
    parse_signature,
    verify_parsed,
)
from audit.trust.verified_state import (
    ChainedEntries,
    FileLines,
    LazyEntries,
    LogIndex,
    LogState,
    dependency_digest,
    file_signature,
    files_unchanged,
    line_ends,
    load_state,
    save_state,
)
from audit.trust.witness import Mark, WitnessError, witness_for

_DL_PREFIX = domain_prefix(DOMAIN_DECISION_LOG)


@dataclass(frozen=True)
class Problem:
    file: str
    line: int  # 0 = the file as a whole (missing checkpoint, unreadable key ring ...)
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


@dataclass(frozen=True, slots=True)  # slots: no per-entry __dict__ for a long log's pass to fill and keep
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
    indexes: dict[str, LogIndex] = field(default_factory=dict)  # per log: what the gates look up


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
        incremental: bool = False,
    ):
        self.keyring = keyring
        self.incremental = incremental and fast
        self.data_dir = data_dir
        self.shape = shape
        self.fast = fast
        self.context = context
        self.context_bytes = (
            canonical_bytes(context["deployment_id"]),
            canonical_bytes(context["installation_id"]),
        )
        self.windows: dict[str, tuple[datetime, datetime | None]] = {}
        self.signer_keys: dict[tuple[str, str], _SignerKey | None] = {}  # (role, kid)
        self.digests: dict[Path, str | None] = {}
        self.role_suffix: dict[str, bytes] = {}
        self.contents: dict[Path, bytes | None] = {}
        self.recorded: dict[str, str | None] = {}  # recorded path text -> digest (skips Path parsing)
        self.keyring_salt = _keyring_salt(keyring)
        self.signatures: dict[Path, str | None] = {}  # file identity taken before its first read
        self.touched: dict[str, list] = {}  # files read for the log being verified: [identity, sha384]
        self.pool: parallel_verify.Pool | None = None  # None: sequential
        self.deferred: parallel_verify.Deferred | None = None  # the current log's deferred signatures

    def window(self, record) -> tuple[datetime, datetime | None]:
        cached = self.windows.get(record.kid)
        if cached is None:
            until = parse_time(record.valid_until) if record.valid_until else None
            cached = self.windows[record.kid] = (parse_time(record.valid_from), until)
        return cached

    def signer_key(self, role: str, kid: str) -> _SignerKey | None:
        """What _check_signature finds for a signature by `kid` in `role` but its base64 and its time, when
        that is an Ed25519 signer key (with its public key) whose owner holds the role; else None."""
        if (role, kid) not in self.signer_keys:
            found = None
            try:
                record = self.keyring.get(kid)
                if (
                    KID_PATTERN.match(kid)
                    and record.purpose == PURPOSE_SIGNER
                    and record.algorithm == ALG_ED25519
                    and role in record.roles
                ):
                    key = self.keyring.verifying_key(kid)
                    if key.algorithm == ALG_ED25519 and key.kid == kid and key.public_key is not None:
                        suffix = self.suffix(role)
                        head, tail = parallel_verify.record_parts(key, suffix)
                        found = _SignerKey(record, key, *self.window(record), suffix, head, tail)
            except Exception:  # noqa: BLE001 - _check_signature meets it again, in its order and words
                found = None
            self.signer_keys[role, kid] = found
        return self.signer_keys[role, kid]

    def digest(self, path: Path) -> str | None:
        if path not in self.digests:
            self.read(path)
            if path not in self.digests:
                self.digests[path] = sha384_file(path) if path.is_file() else None
        self.touched[str(path)] = [self.signatures.get(path), self.digests[path]]
        return self.digests[path]

    def recorded_digest(self, stored: str) -> str | None:
        if stored not in self.recorded:
            self.recorded[stored] = self.digest(resolve_artefact_path(stored, self.data_dir))
        return self.recorded[stored]

    def read(self, path: Path) -> bytes | None:
        if path not in self.contents:
            self.signatures[path] = file_signature(path)  # before the read: a later change must show
            data = self.contents[path] = read_capped(path)
            if data is not None:
                self.digests[path] = sha384_bytes(data)
        self.touched[str(path)] = [self.signatures[path], self.digests.get(path)]
        return self.contents[path]

    def evidence_problems(self, verified: VerifiedEntry, earlier: tuple[dict[str, Any], ...]) -> list[str]:
        if not declares_artefacts(verified.entry):
            return []
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


@dataclass(frozen=True, slots=True)
class _SignerKey:
    record: Any  # KeyRecord
    key: VerifyingKey
    valid_from: datetime
    valid_until: datetime | None
    suffix: bytes  # what completes the signing input: the role, canonical, and the closing brace
    head: bytes  # its signature records' parts for the workers (parallel_verify.Deferred.queue)
    tail: bytes


_UNSEEN = object()


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
    *,
    full: bool = False,
) -> VerificationReport:
    """Strictly verify decision logs (default: all three under the data dir).

    Logs of earlier stages beside a given log are verified too, because stage order depends on them.
    `full=True` re-verifies every line instead of resuming from the recorded verified state.
    """
    return _verify(paths, keyring, schema_path, data_dir, pending=None, incremental=not full)


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
    return _verify([log_path], keyring, None, data_dir, pending=(Path(log_path), content), incremental=True)


def _verify(paths, keyring, schema_path, data_dir, pending, incremental, parallel=True) -> VerificationReport:
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
    run = _Run(keyring, base, shape, fast, context, incremental)
    if parallel:
        run.pool = parallel_verify.Pool()
        try:
            return _verify_all(paths, run, pending)
        except parallel_verify.Redo:
            return _verify(paths, keyring, schema_path, data_dir, pending, incremental, parallel=False)
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
    prior = _Prior()
    for log_path in log_paths:
        extra = pending[1] if pending is not None and pending[0].resolve() == log_path.resolve() else None
        log_entries, index = _verify_log(log_path, run, problems, prior, extra)
        prior.add(log_name_of(log_path), log_entries, index)
    return VerificationReport(
        ok=not problems,
        problems=tuple(problems),
        entries=ChainedEntries(list(prior.logs.values())),  # type: ignore[arg-type]
        logs=prior.logs,
        files=tuple(str(p) for p in log_paths),
        indexes=prior.indexes,
    )


class _Prior:
    """The logs verified so far in this run (earlier stages): what stage order and evidence look up."""

    def __init__(self) -> None:
        self.logs: dict[str, Any] = {}
        self.indexes: dict[str, LogIndex] = {}

    def add(self, name: str, entries, index: LogIndex) -> None:
        self.logs[name] = entries
        self.indexes[name] = index

    def first_time(self, status: str) -> datetime | None:
        indexes = self.indexes.values()
        times = [i.first_ts_by_status[status] for i in indexes if status in i.first_ts_by_status]
        return min(times, default=None)

    def last_entry(self, status: str) -> VerifiedEntry | None:
        found = None
        for name, index in self.indexes.items():
            if status in index.last_by_status:
                found = self.logs[name][index.last_by_status[status] - 1]
        return found


_RANK = {status: i for i, status in enumerate(STATUS_RULES)}


def latest_entry(report: VerificationReport) -> VerifiedEntry | None:
    """The chronologically latest verified entry (time, then status order, then line), first on ties."""
    if not report.indexes:
        return max(report.entries, key=_chronological, default=None)
    best = None
    for name, index in report.indexes.items():
        if index.latest is not None and (best is None or index.latest > best[0]):
            best = (index.latest, name)
    return None if best is None else report.logs[best[1]][best[0][2] - 1]


def last_with_status(report: VerificationReport, log: str, status: str) -> VerifiedEntry | None:
    index = report.indexes.get(log)
    if index is None:
        found = [e for e in report.logs.get(log, []) if e.status == status]
        return found[-1] if found else None
    line = index.last_by_status.get(status)
    return None if line is None else report.logs[log][line - 1]


def revoked_after(report: VerificationReport, moment: datetime) -> VerifiedEntry | None:
    """The last `revoked` entry (logs in stage order, lines in order) later than `moment`."""
    if not report.indexes:
        found = [e for e in report.entries if e.status == "revoked" and e.timestamp > moment]
        return found[-1] if found else None
    last = None
    for name, index in report.indexes.items():
        for timestamp, line in index.revoked:
            if timestamp > moment:
                last = report.logs[name][line - 1]
    return last


def _chronological(entry: VerifiedEntry) -> tuple[Any, int, int]:
    return (entry.timestamp, _RANK.get(entry.status, 0), entry.line)


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


def _verify_log(log_path: Path, run: _Run, problems: list[Problem], prior: _Prior, pending):
    file = str(log_path)
    name = log_name_of(log_path)
    if name not in LOG_STAGE:
        problems.append(Problem(file, 0, f"unknown decision log name {name!r}"))
        return [], LogIndex()
    before = len(problems)
    run.touched = {}
    depends = dependency_digest(list(prior.indexes.values()))
    resumed = _resume(log_path, name, run, depends, pending) if run.incremental else None
    if resumed is not None:
        state, lines, new_lines, identity, prefix = resumed
        cached, index = state.count, state.index.copy()
        prev = state.head
        last_ts = _rebuild(name, file, run)(cached, lines[cached - 1]).timestamp if cached else None
    else:
        identity = file_signature(log_path) if pending is None else None
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
            return [], LogIndex()
        lines = data.split(b"\n")
        if lines[-1] == b"":
            lines.pop()
        elif data:
            problems.append(Problem(file, len(lines), "incomplete last line (no trailing newline)"))
        new_lines, cached, index, prev, last_ts, state = lines, 0, LogIndex(), genesis_hash(name), None, None
        prefix = sha384_bytes(data) if run.incremental and pending is None and data.endswith(b"\n") else None
        full_data = data

    if run.pool is not None:
        run.deferred = run.pool.deferral(2 * len(new_lines))

    deployment, installation = run.context_bytes
    framing = (  # what a role's signing input holds before and after the entry's canonical body
        _DL_PREFIX + b'{"deployment_id":' + deployment + b',"entry":',
        b',"installation_id":' + installation + b',"log":' + canonical_bytes(name) + b',"role":',
    )
    fresh: list[VerifiedEntry] = []
    with _collector_paused():
        for number, line in enumerate(new_lines, cached + 1):
            digest = line_hash(line)
            try:
                verified = _verify_line(line, number, file, name, framing, prev, last_ts, run, digest)
                status = verified.entry["status"]
                prerequisite = STATUS_RULES[status].requires_earlier
                if prerequisite:
                    first = prior.first_time(prerequisite)
                    if first is None or not first < verified.timestamp:
                        raise _LineRejected(f"{status} without an earlier verified {prerequisite}")
            except _LineRejected as exc:
                problems.append(Problem(file, number, str(exc)))
            else:
                earlier_entry = prior.last_entry(prerequisite) if prerequisite else None
                before_entries = () if earlier_entry is None else (earlier_entry.entry,)
                evidence = run.evidence_problems(verified, before_entries)
                if evidence:
                    problems.extend(Problem(file, number, reason) for reason in evidence)
                else:
                    fresh.append(verified)
                    index.add(  # its position among this log's verified entries (= line when none is refused)
                        line=cached + len(fresh),
                        status=status,
                        timestamp=verified.timestamp,
                        line_hash=digest,
                        rank=_RANK.get(status, 0),
                    )
                    last_ts = verified.timestamp
            prev = digest

    if run.deferred is not None:  # every signature of this log, before its checkpoint and witness count
        deferred, run.deferred = run.deferred, None
        deferred.settle()

    entries = LazyEntries(lines, cached, fresh, _rebuild(name, file, run))
    if pending is None:
        _check_checkpoint(log_path, name, lines, entries, run, problems)  # type: ignore[arg-type]
        _check_witness(log_path, name, lines, run, problems, advance=len(entries) == len(lines))
    changed = state is None or bool(new_lines) or identity != state.stat
    if run.incremental and pending is None and len(problems) == before and prefix and identity and changed:
        files = dict(state.files) if state is not None else {}
        files.update(run.touched)
        ends = lines.ends if state is not None else line_ends(full_data)  # type: ignore[union-attr]
        save_state(
            run.keyring,
            log_path,
            LogState(
                path=str(log_path.resolve()),
                log=name,
                count=len(lines),
                size=(ends[-1] + 1) if len(ends) else 0,
                prefix=prefix,
                head=line_hash(lines[-1]) if lines else genesis_hash(name),
                stat=identity,
                keyring=run.keyring_salt,
                context=[run.context["installation_id"], run.context["deployment_id"]],
                depends=depends,
                files=files,
                index=index,
                ends=ends,
            ),
        )
    return entries, index


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off for one log's pass: the pass makes a dozen containers per entry, none
    in a cycle, and keeps most of them (the verified entries), so each collection would walk a longer list
    of live objects for nothing (a tenth or more of the pass on a 100,000-entry log). Reference counting
    still frees everything else. Whoever found it on turns it back on, whatever happens meanwhile."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _resume(log_path: Path, name: str, run: _Run, depends: str, pending: bytes | None):
    """(state, lines, appended lines, file identity, prefix digest) when the recorded verified state still
    describes this log's prefix; None means verify in full."""
    state = load_state(run.keyring, log_path)
    if (
        state is None
        or state.path != str(log_path.resolve())
        or state.log != name
        or state.keyring != run.keyring_salt
        or state.context != [run.context["installation_id"], run.context["deployment_id"]]
        or state.depends != depends
        or not files_unchanged(state.files, run.digest)
    ):
        return None
    identity = None
    if pending is not None:
        if len(pending) < state.size or sha384_bytes(pending[: state.size]) != state.prefix:
            return None
        tail, prefix = pending[state.size :], None
    else:
        identity = file_signature(log_path)
        if identity is None:
            return None
        if identity == state.stat:
            tail, prefix = b"", state.prefix
        else:
            read = _read_after(log_path, state)
            if read is None:
                return None
            tail, prefix = read
    if tail and not tail.endswith(b"\n"):
        return None  # an incomplete line: the full run reports it
    new_lines = tail.split(b"\n")[:-1] if tail else []
    ends = state.ends + line_ends(tail, state.size)
    lines = FileLines(log_path, ends, data=pending)
    if state.count and line_hash(lines[state.count - 1]) != state.head:
        return None
    return state, lines, new_lines, identity, prefix


def _read_after(log_path: Path, state: LogState) -> tuple[bytes, str] | None:
    """One pass over the log: the recorded prefix must hash as recorded; returns the bytes after it and
    the digest of the whole file."""
    try:
        fd = os.open(log_path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat_module.S_ISREG(info.st_mode) or info.st_size < state.size or info.st_size > MAX_LOG_FILE:
            return None
        digest = hashlib.sha384()
        remaining = state.size
        while remaining:
            chunk = os.read(fd, min(1 << 20, remaining))
            if not chunk:
                return None
            digest.update(chunk)
            remaining -= len(chunk)
        if digest.hexdigest() != state.prefix:
            return None
        chunks, size = [], state.size
        while size <= MAX_LOG_FILE:  # the file may grow meanwhile: read what is there, bounded
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        tail = b"".join(chunks)
        digest.update(tail)
        return tail, digest.hexdigest()
    finally:
        os.close(fd)


def _rebuild(name: str, file: str, run: _Run) -> Callable[[int, bytes], VerifiedEntry]:
    """An entry verified by an earlier run, rebuilt from its line (already proven; parsing only)."""

    def build(number: int, line: bytes) -> VerifiedEntry:
        entry = json.loads(line)
        signers: dict[str, str] = {}
        kids: dict[str, str] = {}
        for role, text in entry["signatures"].items():
            kid = parse_signature(text).kid
            signers[role] = run.keyring.get(kid).owner
            kids[role] = kid
        return VerifiedEntry(
            name, file, number, entry, line_hash(line), parse_time(entry["timestamp"]), signers, kids
        )

    return build


def _verify_line(line, number, file, name, framing, prev, last_ts, run: _Run, digest) -> VerifiedEntry:
    if not line:
        raise _LineRejected("empty line")
    written = read_written_line(line) if run.fast else None
    if written is not None:  # strict JSON of the v2 shape, and its signed body cut from the line
        entry, body = written
    else:
        try:
            entry = strict_loads(line)
        except StrictJSONError as exc:
            raise _LineRejected(f"invalid JSON: {exc}") from None
        error = run.shape(entry)
        if error:
            raise _LineRejected(f"schema: {error}")
        body = None
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

    if body is None:
        unsigned = {k: v for k, v in entry.items() if k != "signatures"}
        body = fast_canonical_bytes(unsigned) if run.fast else canonical_bytes(unsigned)
    message_prefix = framing[0] + body + framing[1]
    signers: dict[str, str] = {}
    kids: dict[str, str] = {}
    for role, text in signatures.items():
        record = _known_signature(role, text, message_prefix, timestamp, run) or _check_signature(
            role, text, message_prefix, run.suffix(role), timestamp, run
        )
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


def _known_signature(role: str, text: str, prefix: bytes, timestamp: datetime, run: _Run):
    """_check_signature's verdict when it is a pass for a known reason: canonical base64 of 64 bytes, by an
    Ed25519 signer key already found to hold `role` (_Run.signer_key), made inside the key's window, queued
    for the workers or verified here. The record, or None: then _check_signature decides, in its words."""
    parts = text.split(":")
    if len(parts) != 3 or parts[0] != ALG_ED25519:
        return None
    known = run.signer_keys.get((role, parts[1]), _UNSEEN)
    if known is _UNSEEN:
        known = run.signer_key(role, parts[1])
    if known is None or timestamp < known.valid_from:
        return None
    if known.valid_until is not None and timestamp >= known.valid_until:
        return None
    raw = _canonical_64(parts[2])
    if raw is None:
        return None
    if run.deferred is not None:
        run.deferred.queue(prefix, known.head, raw, known.tail)
    else:
        try:
            verify_parsed(ParsedSignature(ALG_ED25519, parts[1], raw), prefix + known.suffix, known.key)
        except SignatureError:
            return None
    return known.record


def _canonical_64(encoded: str) -> bytes | None:
    """The 64 bytes `encoded` spells in canonical base64 (what parse_signature accepts, and no other
    spelling), else None. Strict base64 of 64 bytes is 86 digits and "=="; the 86th digit carries 2 bits,
    so its other 4 must be zero: the verdict of re-encoding the bytes and comparing, without re-encoding."""
    try:
        raw = binascii.a2b_base64(encoded, strict_mode=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == 64 and encoded[85] in _LAST_OF_64 else None


_LAST_OF_64 = frozenset("AQgw")  # base64 digits whose low 4 bits are zero


def _check_signature(role: str, text: str, prefix: bytes, suffix: bytes, timestamp: datetime, run: _Run):
    """The signature `text` of `role` over prefix + suffix (an entry's signatures share the prefix)."""
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
            run.deferred.verify(parsed, prefix, suffix, key)
        else:
            verify_parsed(parsed, prefix + suffix, key)
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
            record = _check_signature(role, text, message, b"", last.timestamp, run)
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
