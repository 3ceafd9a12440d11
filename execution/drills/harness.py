"""What the runbook steps share: a throw-away in-process daemon over loopback mTLS, report files.

``local_daemon`` builds a devkit ``Deployment`` (its own key ring, signed config copy, mTLS bundle, tokens)
under ``<data_dir>/runbook/``, starts a real ``Daemon`` on a free loopback port and removes everything when
done (``keep=True`` leaves it for inspection). Nothing touches the operator's real key ring or certificates.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import grpc
import yaml

from audit.trust.fsutil import MAX_PEM_FILE, atomic_write_bytes, read_regular_file
from audit.trust.hashing import sha384_bytes
from execution.daemon.devkit import Deployment
from execution.daemon.license_hook import LicenseCheck
from execution.daemon.server import Daemon, DaemonOptions
from execution.proto.gen import oem_daemon_v1_pb2_grpc as pb_grpc

LOOPBACK = ("127.0.0.1", "::1", "localhost")


def utc_stamp(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")


def jsonl_bytes(records: list[dict]) -> bytes:
    """Strict JSON lines (sorted keys, no NaN/Infinity: a non-finite value raises ValueError)."""
    return b"".join(
        json.dumps(r, sort_keys=True, allow_nan=False, separators=(",", ":")).encode() + b"\n"
        for r in records
    )


def write_report(directory: Path, stem: str, records: list[dict]) -> tuple[Path, str]:
    """Write ``<directory>/<stem>.jsonl`` atomically (``-2``, ``-3``... if the name is taken).
    Returns (path, sha384 hex of the bytes written)."""
    data = jsonl_bytes(records)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{stem}.jsonl"
    n = 1
    while path.exists():
        n += 1
        path = directory / f"{stem}-{n}.jsonl"
    atomic_write_bytes(path, data)
    return path, sha384_bytes(data)


@dataclass
class Client:
    """One operator's view of a daemon: a stub over mTLS and the token metadata."""

    stub: pb_grpc.OemDaemonStub
    metadata: list[tuple[str, str]]
    channel: grpc.Channel
    subject: str

    def close(self) -> None:
        self.channel.close()


def token_subject(token: str) -> str:
    """The ``sub`` claim of a compact token (read, not verified: the daemon verifies it)."""
    head = token.strip().split(".", 1)[0]
    try:
        claims = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
        return str(claims["sub"])
    except (ValueError, KeyError, TypeError):
        raise ValueError("token file does not hold an OEM token (cannot read its subject)") from None


def remote_client(target: str, certs: Path, token: str, operator: str | None = None) -> Client:
    """A client of an already running daemon: ``certs`` holds ca.pem and clients/<operator>.{pem,key}."""
    host, _, port = target.rpartition(":")
    if host.strip("[]") not in LOOPBACK or not port.isdigit():
        raise ValueError(f"--target {target}: expected a loopback host:port (the daemon listens on loopback)")
    operator = operator or token_subject(token)
    files = [certs / "ca.pem", certs / "clients" / f"{operator}.key", certs / "clients" / f"{operator}.pem"]
    for f in files:
        if not f.is_file():
            raise ValueError(f"missing {f}")
    creds = grpc.ssl_channel_credentials(
        *(read_regular_file(f, max_bytes=MAX_PEM_FILE, what="TLS file") for f in files)
    )
    channel = grpc.secure_channel(target, creds)
    return Client(
        pb_grpc.OemDaemonStub(channel), [("authorization", f"Bearer {token.strip()}")], channel, operator
    )


@dataclass
class LocalDaemon:
    deployment: Deployment
    daemon: Daemon

    def client(self, operator: str, roles: list[str]) -> Client:
        channel = self.deployment.channel(self.daemon.port, operator)
        md = [("authorization", f"Bearer {self.deployment.token(operator, roles)}")]
        return Client(pb_grpc.OemDaemonStub(channel), md, channel, operator)


@contextmanager
def local_daemon(
    data_dir: Path,
    label: str,
    *,
    mode: str,
    operators: tuple[str, ...],
    config: dict | bytes | None = None,
    keep: bool = False,
    **options,
) -> Iterator[LocalDaemon]:
    """``config``: a variant of config/core.yaml (a mapping, or bytes copied verbatim so that what the daemon
    runs hashes as the caller's file); default config/core.yaml."""
    root = Path(data_dir) / "runbook" / f"{label}-{utc_stamp()}-{secrets.token_hex(3)}"
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    daemon = None
    try:
        source = None
        if config is not None:  # a variant of config/core.yaml (signed into the deployment by devkit)
            source = root / "source_core.yaml"
            source.write_bytes(
                config if isinstance(config, bytes) else yaml.safe_dump(config, sort_keys=False).encode()
            )
        dep = Deployment.create(root, operators=operators, source_config=source)
        base = dict(
            config_path=dep.config_path,
            mode=mode,
            data_dir=dep.data_dir,
            certs_dir=dep.certs_dir,
            keyring=dep.keyring,
            listen="127.0.0.1:0",
            license_checker=lambda stage: LicenseCheck(False, f"not needed in {mode} mode"),
            gate_poll_s=60.0,
            paper_needs_demo_exit=False,  # a drill's own throw-away deployment has no decision logs
        )
        base.update(options)
        daemon = Daemon(DaemonOptions(**base)).start()
        yield LocalDaemon(dep, daemon)
    finally:
        if daemon is not None:
            daemon.stop(0)
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


def report_command(run, parser, argv, describe_failure) -> int:
    """The shared shape of the runbook commands: run, print the report path and its sha384, and exit 0 only
    when every check passed (a failed run still leaves its report, named in one error line)."""
    import sys

    from audit.trust.cliutil import EXIT_FAIL, EXIT_OK
    from audit.trust.cliutil import run as run_cli

    def action(args) -> int:
        try:
            result = run(args, log=lambda msg: print(msg, flush=True))
        except grpc.RpcError as exc:
            raise ValueError(f"daemon: {exc.code().name}: {exc.details()}") from None
        print(result.path)
        print(f"sha384:{result.sha384}")
        if not result.passed:
            print(f"error: {describe_failure(result.summary)}", file=sys.stderr)
        return EXIT_OK if result.passed else EXIT_FAIL

    return run_cli(parser, argv, action)
