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

import os
import queue
import struct
import subprocess
import sys
import threading
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from audit.trust.signatures import ALG_ED25519, ParsedSignature, VerifyingKey, verify_parsed

WORKERS_ENV = "OEM_VERIFY_WORKERS"
MIN_SIGNATURES = 8_000  # about 4,000 entries of two signatures (bench/verify_decision_log.py)
BATCH = 256  # signatures per frame: large enough that framing and pipe round trips are noise
MAX_PENDING_PER_WORKER = 4  # batches in flight per worker, so memory stays bounded however long the log


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

    Workers are plain `python -m audit.trust.parallel_verify` children fed over pipes: no multiprocessing
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
            worker.stop()
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
        [sys.executable, "-m", "audit.trust.parallel_verify"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
        cwd=root,
    )


class _Worker:
    """One worker's pipes. A thread writes the frames, so the verifier's pass never waits for a worker
    still busy with an earlier frame (a frame is larger than a pipe's buffer)."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.pending = 0
        self._frames: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._writer = threading.Thread(target=self._write, name="signature-frames", daemon=True)
        self._writer.start()

    def _write(self) -> None:
        while (frame := self._frames.get()) is not None:
            try:
                self.proc.stdin.write(struct.pack(">I", len(frame)) + frame)
                self.proc.stdin.flush()
            except (OSError, ValueError):
                return  # the worker is gone: its missing verdict says so

    def send(self, frame: bytes) -> None:
        self._frames.put(frame)
        self.pending += 1

    def receive(self) -> None:
        verdict = self.proc.stdout.read(1)
        self.pending -= 1
        if verdict != b"\x01":
            raise Redo("a signature did not verify" if verdict == b"\x00" else "signature worker stopped")

    def stop(self) -> None:
        self._frames.put(None)
        self._writer.join()


class Deferred:
    """The Ed25519 checks of one log, verified in batches on the workers while the verifier's pass goes on."""

    def __init__(self, workers: list[_Worker]) -> None:
        self._workers = workers
        self._next = 0
        self._batch: list[bytes] = []
        self._raw_keys: dict[str, bytes] = {}

    def verify(self, parsed: ParsedSignature, message: bytes, key: VerifyingKey) -> None:
        """verify_parsed, with the Ed25519 arithmetic deferred when every other check of it passes; any
        other case (HMAC, wrong kid or algorithm, no public key, a malformed length) is verify_parsed
        itself, raising inline."""
        if (
            key.algorithm != ALG_ED25519
            or parsed.algorithm != key.algorithm
            or parsed.kid != key.kid
            or key.public_key is None
            or len(parsed.raw) != 64
        ):
            verify_parsed(parsed, message, key)
            return
        raw_key = self._raw_keys.get(key.kid)
        if raw_key is None:
            raw_key = self._raw_keys[key.kid] = key.public_key.public_bytes_raw()
        self._batch.append(raw_key + parsed.raw + struct.pack(">I", len(message)) + message)
        if len(self._batch) >= BATCH:
            self._submit()

    def settle(self) -> None:
        """Wait for every deferred check; raises Redo unless all of them verified."""
        if self._batch:
            self._submit()
        for worker in self._workers:
            while worker.pending:
                worker.receive()

    def _submit(self) -> None:
        frame, self._batch = b"".join(self._batch), []
        worker = self._workers[self._next]
        self._next = (self._next + 1) % len(self._workers)
        while worker.pending >= MAX_PENDING_PER_WORKER:
            worker.receive()
        worker.send(frame)


def verify_frame(frame: bytes) -> bool:
    """True when every (32-byte key, 64-byte signature, length-prefixed message) in `frame` verifies."""
    keys: dict[bytes, Ed25519PublicKey] = {}
    view = memoryview(frame)
    at = 0
    try:
        while at < len(frame):
            raw_key = frame[at : at + 32]
            (length,) = struct.unpack_from(">I", frame, at + 96)
            message = view[at + 100 : at + 100 + length]  # no copy: verify takes any buffer
            if len(message) != length:
                return False
            key = keys.get(raw_key)
            if key is None:
                key = keys[raw_key] = Ed25519PublicKey.from_public_bytes(raw_key)
            key.verify(view[at + 32 : at + 96], message)
            at += 100 + length
    except (InvalidSignature, ValueError, struct.error):
        return False
    return True


def _serve(reader: BinaryIO, writer: BinaryIO) -> None:
    """A worker: one verdict byte per frame, until the parent closes the pipe."""
    while True:
        header = reader.read(4)
        if len(header) < 4:
            return
        (size,) = struct.unpack(">I", header)
        frame = reader.read(size)
        writer.write(b"\x01" if len(frame) == size and verify_frame(frame) else b"\x00")
        writer.flush()


if __name__ == "__main__":
    _serve(sys.stdin.buffer, sys.stdout.buffer)
