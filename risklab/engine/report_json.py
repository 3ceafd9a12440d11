"""The JSON report: canonical, strict and byte-reproducible.

The report is evidence for the paper gate, so its bytes must depend on the inputs alone: keys sorted,
floats rounded to 12 significant digits (enough for every metric, and it hides last-bit differences
between a plain run and a Celery fan-out), NaN/Infinity refused rather than written, no wall clock.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from audit.trust.canonical import canonical_bytes
from audit.trust.fsutil import fsync_dir

SCHEMA_ID = "oem/paper-labs-report/v2"
SCHEMA_IDS = ("oem/paper-labs-report/v1", SCHEMA_ID)  # v1 reports stay readable
_SIGNIFICANT_DIGITS = 12


class ReportError(ValueError):
    """A report that cannot be written as strict evidence; one line."""


def clean(obj, where: str = "$"):
    """Round floats, turn -0.0 into 0.0 and reject non-finite numbers, naming where they were found."""
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, int):
        return obj
    if isinstance(obj, float):
        if not math.isfinite(obj):
            raise ReportError(f"non-finite number {obj!r} at {where}")
        value = float(f"{obj:.{_SIGNIFICANT_DIGITS}g}")
        return value + 0.0  # -0.0 + 0.0 == +0.0
    if isinstance(obj, dict):
        return {str(key): clean(value, f"{where}.{key}") for key, value in obj.items()}
    if isinstance(obj, list | tuple):
        return [clean(value, f"{where}[{index}]") for index, value in enumerate(obj)]
    if hasattr(obj, "item"):  # NumPy scalar
        return clean(obj.item(), where)
    raise ReportError(f"unsupported value of type {type(obj).__name__} at {where}")


def read_report(data: bytes) -> dict:
    """A written report (v1 or v2) as one shape: v1 rows gain ``status`` (pass/fail), ``exercise`` None
    (v1 never measured it), no ``flags``, ``fills`` (v1's ``trades``) and ``orders`` None (v1 did not
    count them), so readers need not care which version wrote it."""

    def refuse(token):
        raise ReportError(f"non-finite JSON number {token}")

    try:
        report = json.loads(data, parse_constant=refuse)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ReportError(f"report is not strict JSON ({exc})") from None
    return upgrade_report(report)


def upgrade_report(report) -> dict:
    """``read_report`` for an already parsed report (e.g. by the trust core's strict parser)."""
    schema = report.get("schema") if isinstance(report, dict) else None
    if schema not in SCHEMA_IDS:
        raise ReportError(f"unknown report schema {schema!r} (expected one of {', '.join(SCHEMA_IDS)})")
    if schema != SCHEMA_ID:
        for row in report.get("rows", []):
            row.setdefault("status", "pass" if row.get("pass") else "fail")
            row.setdefault("exercise", None)
            row.setdefault("flags", [])
            metrics = row.get("metrics", {})
            if "trades" in metrics:  # v1 counted fills as trades and had no order count
                metrics.setdefault("fills", metrics["trades"])
                metrics.setdefault("orders", None)
    return report


def identity_bytes(obj) -> bytes:
    """Canonical (RFC 8785, the trust core's) bytes of the cleaned object, hashed for the run id."""
    return canonical_bytes(clean(obj))


def report_bytes(report: dict) -> bytes:
    """The on-disk form: canonical content, indented for people, newline-terminated."""
    text = json.dumps(clean(report), sort_keys=True, indent=1, allow_nan=False, ensure_ascii=True)
    return (text + "\n").encode("ascii")


def write_files_atomically(files: list[tuple[Path, bytes]]) -> None:
    """Write all files or none: each goes to a temp file in its directory, is fsynced, then renamed.

    If anything fails midway, temp files and already-renamed targets are removed so no partial report
    set is ever left behind.
    """
    staged: list[tuple[Path, Path]] = []
    placed: list[Path] = []
    try:
        for path, data in files:
            path.parent.mkdir(parents=True, exist_ok=True)
            temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            staged.append((temp, path))
            with open(temp, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        for temp, path in staged:
            os.replace(temp, path)
            placed.append(path)
        fsync_dir(files[0][0].parent)
    except BaseException:
        for temp, _ in staged:
            temp.unlink(missing_ok=True)
        for path in placed:
            path.unlink(missing_ok=True)
        raise
