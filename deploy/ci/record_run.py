#!/usr/bin/env python
"""The CI run record (``docs/schemas/ci_run_v1.json``): what one pipeline job ran on and what it produced.

A job calls ``start`` first (job, run id, commit, start time kept in ``<dir>/ci_run.started.json``) and
``finish`` last (each output hashed with SHA-384, the record written as one RFC 8785 canonical JSON file
``<dir>/ci_run.json``). A gate attaches that file as its ``ci_run`` artefact. The record names outputs by
path and hash only; it is not signed (the gate's signatures cover its hash).

Bad input (a commit that is not 40 lowercase hex, a missing output, a ``finish`` without ``start``) stops
with one line and writes nothing.

    python deploy/ci/record_run.py start --job oem_packaging --run-id 123-1 --commit <sha> --dir reports/ci/x
    python deploy/ci/record_run.py finish --dir reports/ci/x --output manifest.json=dist/x/manifest.json
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from audit.trust.canonical import StrictJSONError, canonical_bytes, strict_loads
from audit.trust.cliutil import EXIT_OK, OneLineParser
from audit.trust.cliutil import run as run_cli
from audit.trust.fsutil import atomic_write_bytes
from audit.trust.hashing import sha384_bytes, sha384_file

SCHEMA = "oem/ci-run/v1"
RECORD_NAME = "ci_run.json"
STARTED_NAME = "ci_run.started.json"
JOB = re.compile(r"[a-z][a-z0-9_]{0,63}")
RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
COMMIT = re.compile(r"[0-9a-f]{40}")
UTC_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
SHA384 = re.compile(r"sha384:[0-9a-f]{96}")


class RecordError(ValueError):
    """The record cannot be written as asked; the message is one line."""


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _check(pattern: re.Pattern, value: object, what: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise RecordError(f"{what} {value!r} is not valid (expected {pattern.pattern})")
    return value


def output_entry(spec: str, *, base: Path | None = None) -> dict:
    """``NAME=PATH`` or ``PATH`` (named by its file name) → {"name", "path", "sha384"} of an existing file."""
    name, sep, path_text = spec.partition("=")
    if not sep:
        name, path_text = Path(spec).name, spec
    if not name or not path_text:
        raise RecordError(f"output {spec!r}: expected NAME=PATH or PATH")
    path = Path(path_text)
    resolved = path if path.is_absolute() or base is None else base / path
    if not resolved.is_file():
        raise RecordError(f"output {name}: no file at {path_text}")
    return {"name": name, "path": path_text, "sha384": f"sha384:{sha384_file(resolved)}"}


def make_record(
    *, job: str, run_id: str, commit: str, started: str, finished: str, outputs: Sequence[dict]
) -> dict:
    """A record that satisfies ci_run_v1.json, or RecordError naming the first bad field."""
    record = {
        "schema": SCHEMA,
        "job": _check(JOB, job, "job"),
        "run_id": _check(RUN_ID, run_id, "run id"),
        "commit": _check(COMMIT, commit, "commit"),
        "started": _check(UTC_TIME, started, "started"),
        "finished": _check(UTC_TIME, finished, "finished"),
        "outputs": [],
    }
    if finished < started:
        raise RecordError(f"finished {finished} is before started {started}")
    names = set()
    for out in outputs:
        if set(out) != {"name", "path", "sha384"}:
            raise RecordError(f"output {out!r}: expected exactly name, path and sha384")
        if out["name"] in names:
            raise RecordError(f"output {out['name']} is named twice")
        names.add(out["name"])
        _check(SHA384, out["sha384"], f"output {out['name']} sha384")
        if not out["name"] or not out["path"] or len(out["name"]) > 200 or len(out["path"]) > 1000:
            raise RecordError(f"output {out['name']!r}: name or path empty or too long")
        record["outputs"].append(dict(out))
    return record


def record_bytes(record: dict) -> bytes:
    return canonical_bytes(record)


def write_record(path: Path, record: dict) -> str:
    """Write the record atomically; returns ``sha384:<hex>`` of the bytes written."""
    data = record_bytes(record)
    atomic_write_bytes(Path(path), data)
    return f"sha384:{sha384_bytes(data)}"


def load_record(path: Path) -> dict:
    """Read a ci_run.json strictly: canonical JSON, exactly the schema's fields, every value well-formed."""
    path = Path(path)
    try:
        data = path.read_bytes()
        record = strict_loads(data)
    except OSError as exc:
        raise RecordError(f"{path}: {exc.strerror}") from None
    except StrictJSONError as exc:
        raise RecordError(f"{path}: {exc}") from None
    fields = {"schema", "job", "run_id", "commit", "started", "finished", "outputs"}
    if not isinstance(record, dict) or set(record) != fields or record["schema"] != SCHEMA:
        raise RecordError(f"{path}: not a {SCHEMA} record")
    if not isinstance(record["outputs"], list) or not all(isinstance(o, dict) for o in record["outputs"]):
        raise RecordError(f"{path}: outputs must be a list of objects")
    checked = make_record(**{k: v for k, v in record.items() if k != "schema"})
    if record_bytes(checked) != data:
        raise RecordError(f"{path}: not canonical JSON")
    return checked


def read_started(directory: Path) -> dict:
    path = Path(directory) / STARTED_NAME
    try:
        started = strict_loads(path.read_bytes())
    except FileNotFoundError:
        raise RecordError(f"{path}: no start record (run `record_run.py start` first)") from None
    except StrictJSONError as exc:
        raise RecordError(f"{path}: {exc}") from None
    if not isinstance(started, dict) or set(started) != {"job", "run_id", "commit", "started"}:
        raise RecordError(f"{path}: not a start record")
    return started


def start(*, job: str, run_id: str, commit: str, directory: Path, now: str | None = None) -> Path:
    started = {"job": job, "run_id": run_id, "commit": commit.strip().lower(), "started": now or utc_now()}
    make_record(**started, finished=started["started"], outputs=[])  # validate before writing anything
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / RECORD_NAME).unlink(missing_ok=True)  # a record from an earlier run never survives a start
    path = directory / STARTED_NAME
    atomic_write_bytes(path, canonical_bytes(started))
    return path


def finish(
    *, directory: Path, outputs: Sequence[str], base: Path | None = None, now: str | None = None
) -> tuple[Path, str]:
    started = read_started(directory)
    entries = [output_entry(spec, base=base) for spec in outputs]
    record = make_record(**started, finished=now or utc_now(), outputs=entries)
    path = Path(directory) / RECORD_NAME
    return path, write_record(path, record)


def _parser() -> OneLineParser:
    parser = OneLineParser(prog="record_run", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="action", required=True, parser_class=OneLineParser)
    begin = sub.add_parser("start", help="remember job, run id, commit and the start time")
    begin.add_argument("--job", required=True)
    begin.add_argument("--run-id", required=True)
    begin.add_argument("--commit", required=True)
    begin.add_argument("--dir", type=Path, required=True, help="where ci_run.json will be written")
    end = sub.add_parser("finish", help="hash the outputs and write ci_run.json")
    end.add_argument("--dir", type=Path, required=True)
    end.add_argument("--output", action="append", default=[], help="NAME=PATH or PATH (repeatable)")
    return parser


def _action(args) -> int:
    if args.action == "start":
        print(start(job=args.job, run_id=args.run_id, commit=args.commit, directory=args.dir))
        return EXIT_OK
    path, digest = finish(directory=args.dir, outputs=args.output)
    print(path)
    print(digest)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli(_parser(), argv, _action)


if __name__ == "__main__":
    sys.exit(main())
