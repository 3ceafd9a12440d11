"""Strict verification on every core: the Ed25519 checks of a large decision log run in worker processes
while the verifier's own pass (strict parse, schema, chain, roles, windows, artefacts) goes on.

Why processes: cryptography's Ed25519 verify holds the GIL, so threads do not overlap (measured: two
threads verify no faster than one). Why this split: the verifier's pass is order-dependent and cheap next to
the signatures, so it stays one sequential pass in file order; every check of a signature but the curve
arithmetic itself (key id, pinned algorithm, role, validity window, one key and one person per entry) still
runs inline, exactly as before.

The report is the sequential one by construction. A deferred check is taken to pass while the pass goes
on; before a log's checkpoint and witness are looked at, every deferred check of that log must have
passed. If one did not (a tampered or forged signature), or the pool fails, the whole verification is run
again without deferral, so the first error, its wording and everything after it are what the sequential
path says. Valid logs, the case that matters for speed, are verified once.

Entries are checked against their artefacts (audit.trust.evidence) before their signatures are known to
verify; those checks read bounded files inside the data dir only, and their cached verdicts depend on the
artefacts alone, so an entry that turns out forged has changed nothing.

Small logs stay sequential: below MIN_SIGNATURES the workers' start-up costs more than they save.
`OEM_VERIFY_WORKERS=1` (or one usable core) keeps every log sequential.
"""

from __future__ import annotations

import fcntl
import os
import select
import struct
import subprocess
import sys
from pathlib import Path

from audit.trust.signature_worker import LENGTH, PREFIX, PREFIX_HEAD, SIGNATURE, verify_frame
from audit.trust.signatures import ALG_ED25519, ParsedSignature, VerifyingKey, verify_parsed

__all__ = ["Deferred", "Pool", "Redo", "record_parts", "verify_frame", "worker_count"]

WORKERS_ENV = "OEM_VERIFY_WORKERS"
MIN_SIGNATURES = 8_000  # about 4,000 entries of two signatures (bench/verify_decision_log.py)
BATCH = 256  # signatures per frame: large enough that framing and pipe round trips are noise
MAX_PENDING_PER_WORKER = 4  # batches in flight per worker, so memory stays bounded however long the log
PIPE_BYTES = 1 << 20  # Linux's default pipe-max-size; holds the frames in flight of a typical log


class Redo(Exception):
    """A deferred signature failed or the pool broke: verify again without deferral."""


def worker_count() -> int:
    """Worker processes for a large log: $OEM_VERIFY_WORKERS, else the cores this process may use."""
    configured = os.environ.get(WORKERS_ENV, "").strip()
    if configured:
        try:
            return max(1, int(configured))
        except ValueError:
            return 1  # a malformed setting never breaks verification; it only costs speed
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class Pool:
    """Worker processes for one verification run; started by the first log big enough to need them.

    Workers are plain `python -m audit.trust.signature_worker` children fed over pipes: no multiprocessing
    start method re-runs the caller's main script, and a daemonic process (which multiprocessing forbids to
    have children) may still use them."""

    def __init__(self) -> None:
        self.workers = worker_count()
        self.usable = self.workers > 1
        self._workers: list[_Worker] = []

    def deferral(self, signatures: int) -> Deferred | None:
        """A collector for a log expected to hold about `signatures` signatures, or None (sequential)."""
        if not self.usable or signatures < MIN_SIGNATURES:
            return None
        if not self._workers:
            try:
                for _ in range(self.workers):
                    self._workers.append(_Worker(_start_worker()))
            except OSError:
                self.close()
                self.usable = False
                return None
        return Deferred(self._workers)

    def close(self) -> None:
        for worker in self._workers:
            try:
                worker.proc.stdin.close()
            except OSError:
                pass
        for proc in (worker.proc for worker in self._workers):
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            proc.stdout.close()
        self._workers = []


def _start_worker() -> subprocess.Popen:
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, *filter(None, [os.environ.get("PYTHONPATH")])])}
    return subprocess.Popen(  # noqa: S603 - this interpreter, this module, no shell
        [sys.executable, "-m", "audit.trust.signature_worker"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
        cwd=root,
    )


class _Worker:
    """One worker's pipes. Frames are written from the verifier's own thread: its pipe is enlarged to hold
    every frame in flight (MAX_PENDING_PER_WORKER of them), so a write does not wait for a worker still busy
    with an earlier frame, and no writer thread competes with the verifier's pass for the GIL."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.pending = 0
        self._fd = proc.stdin.fileno()
        # Verdicts are read from the raw descriptor (never through proc.stdout's buffer), so select() on it
        # tells exactly when one has arrived.
        self.verdicts = proc.stdout.fileno()
        try:
            fcntl.fcntl(self._fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_BYTES)
        except OSError:
            pass  # a smaller pipe only makes a write wait for the worker to read

    def send(self, frame: bytes) -> None:
        view = memoryview(struct.pack(">I", len(frame)) + frame)
        try:
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError as exc:  # the worker is gone (EPIPE): verify inline instead
            raise Redo("signature worker stopped") from exc
        self.pending += 1

    def receive(self) -> None:
        """Take the verdicts that have arrived, waiting for at least one: a byte per frame, 1 = verified."""
        try:
            verdicts = os.read(self.verdicts, self.pending)
        except OSError as exc:
            raise Redo("signature worker stopped") from exc
        if not verdicts:
            raise Redo("signature worker stopped")
        self.pending -= len(verdicts)
        if verdicts.count(b"\x01") != len(verdicts):
            raise Redo("a signature did not verify" if b"\x00" in verdicts else "signature worker stopped")


class Deferred:
    """The Ed25519 checks of one log, verified in batches on the workers while the verifier's pass goes on."""

    def __init__(self, workers: list[_Worker]) -> None:
        self._workers = workers
        self._parts: list[bytes] = []
        self._count = 0
        self._prefix: bytes | None = None  # the prefix the current frame last carried
        self._heads: dict[str, bytes] = {}  # kid -> record tag + raw public key
        self._suffixes: dict[bytes, bytes] = {}  # suffix -> length + suffix

    def verify(self, parsed: ParsedSignature, prefix: bytes, suffix: bytes, key: VerifyingKey) -> None:
        """verify_parsed over prefix + suffix, with the Ed25519 arithmetic deferred when every other check of
        it passes; any other case (HMAC, wrong kid or algorithm, no public key, a malformed length) is
        verify_parsed itself, raising inline."""
        if (
            key.algorithm != ALG_ED25519
            or parsed.algorithm != key.algorithm
            or parsed.kid != key.kid
            or key.public_key is None
            or len(parsed.raw) != 64
        ):
            verify_parsed(parsed, prefix + suffix, key)
            return
        self.defer(prefix, suffix, key, parsed.raw)

    def defer(self, prefix: bytes, suffix: bytes, key: VerifyingKey, raw: bytes) -> None:
        """Queue the Ed25519 check of `raw` (64 bytes) by `key` (an Ed25519 key with its public key) over
        prefix + suffix; the caller has made every other check verify() makes."""
        head = self._heads.get(key.kid)
        if head is None:
            head = self._heads[key.kid] = record_parts(key, b"")[0]
        tail = self._suffixes.get(suffix)
        if tail is None:
            tail = self._suffixes[suffix] = record_parts(key, suffix)[1]
        self.queue(prefix, head, raw, tail)

    def queue(self, prefix: bytes, head: bytes, raw: bytes, tail: bytes) -> None:
        """defer() with the signature record's parts of its key and suffix already made (record_parts)."""
        parts = self._parts
        if prefix is not self._prefix:
            self._prefix = prefix
            parts.append(PREFIX_HEAD.pack(PREFIX, len(prefix)))
            parts.append(prefix)
        parts += (head, raw, tail)
        self._count += 1
        if self._count >= BATCH:
            self._submit()

    def settle(self) -> None:
        """Wait for every deferred check; raises Redo unless all of them verified."""
        if self._count:
            self._submit()
        for worker in self._workers:
            while worker.pending:
                worker.receive()

    def _submit(self) -> None:
        frame = b"".join(self._parts)
        self._parts, self._count, self._prefix = [], 0, None  # every frame carries its own prefixes
        # The least busy worker takes it; when every one is full, whichever answers first. (Strict turns
        # would leave a worker that got ahead idle while this thread waits on the other.)
        worker = min(self._workers, key=_pending)
        while worker.pending >= MAX_PENDING_PER_WORKER:
            ready, _, _ = select.select([w.verdicts for w in self._workers], [], [])
            for busy in self._workers:
                if busy.verdicts in ready:
                    busy.receive()
            worker = min(self._workers, key=_pending)
        worker.send(frame)


def record_parts(key: VerifyingKey, suffix: bytes) -> tuple[bytes, bytes]:
    """What a signature record holds before its 64 bytes (tag and raw public key) and after them (the
    suffix, with its length), for an Ed25519 `key` with its public key: the same for every signature by
    that key in that role, so a caller may make them once."""
    public = key.public_key.public_bytes_raw()  # type: ignore[union-attr]
    return bytes([SIGNATURE]) + public, LENGTH.pack(len(suffix)) + suffix


def _pending(worker: _Worker) -> int:
    return worker.pending
