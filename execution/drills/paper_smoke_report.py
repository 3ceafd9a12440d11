"""The paper smoke report (``oem/paper-smoke/v1``) as evidence. Pure: no daemon, no gRPC.

``run_paper_smoke_ci`` (execution/drills/paper_smoke.py) is the one producer; it writes ``<run>.json`` (the
report, canonical JSON), ``<run>.orders.jsonl`` (the strategy orders, summary ``check:
smoke_paper_strategies``) and ``<run>.md`` (the same for a person, naming the JSON's SHA-384).

The JSON report is the ``paper_smoke_report`` artefact. It proves a passed paper session when it is the
canonical form of a report that says it passed, ran against a daemon in paper mode, had every strategy order
acknowledged, filled and accounted for, and had the three risk probes refused with their reasons. The orders
log it names is checked against its recorded SHA-384 whenever it lies beside the report (the artefact archive
copies it there); the JSON alone already records the counts the verdict rests on.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from audit.trust.canonical import StrictJSONError, canonical_bytes, strict_loads
from audit.trust.hashing import sha384_bytes

SCHEMA = "oem/paper-smoke/v1"
CHECK = "paper_smoke"
ORDERS_CHECK = "smoke_paper_strategies"
RISK_PROBES = ("MAX_ORDER_NOTIONAL", "PRICE_BAND", "HALTED")
MAX_REPORT_BYTES = 4 * 1024 * 1024

_REPORT_LINE = re.compile(
    r"^- report: `(?P<name>paper_smoke_[0-9TZ-]+\.json)` sha384:(?P<hex>[0-9a-f]{96})$", re.M
)
_ORDERS_NAME = re.compile(r"^paper_smoke_[0-9TZ-]+\.orders\.jsonl\Z")


def orders_log_name(report: Any) -> str | None:
    """The orders log's file name the report records (a bare name beside the report), else None."""
    log = report.get("orders_log") if isinstance(report, dict) else None
    name = log.get("path") if isinstance(log, dict) else None
    return name if isinstance(name, str) and _ORDERS_NAME.match(name) else None


def json_report_problems(data: bytes, directory: Path | None) -> tuple[dict | None, list[str]]:
    """(the report, what is wrong with it as evidence of a passed paper session); [] = proven.
    `directory` is where the report lies, for the orders log beside it (None: not looked for)."""
    try:
        report = strict_loads(data)
    except (StrictJSONError, ValueError) as exc:
        return None, [f"paper smoke report is not strict JSON: {' '.join(str(exc).split())[:100]}"]
    if not isinstance(report, dict) or report.get("schema") != SCHEMA or report.get("check") != CHECK:
        return None, [f"not a {SCHEMA} report (as run_paper_smoke_ci writes it)"]
    if canonical_bytes(report) != data:
        return None, [f"the paper smoke report is not in canonical form ({SCHEMA} is written canonical)"]
    problems = []
    if report.get("passed") is not True:
        problems.append(f"paper smoke {str(report.get('run'))[:60]} did not pass")
    daemon = report.get("daemon") if isinstance(report.get("daemon"), dict) else {}
    if daemon.get("mode") != "paper":
        problems.append(f"ran against a daemon in {str(daemon.get('mode'))[:20]} mode, not paper")
    problems += _strategy_problems(report.get("strategies"))
    problems += _denial_problems(report.get("risk_denials"))
    if directory is not None and not problems:
        problems += _orders_log_problems(report, Path(directory))
    return report, problems


def _strategy_problems(strategies: Any) -> list[str]:
    if not isinstance(strategies, dict):
        return ["the report has no strategies part"]
    orders = strategies.get("orders")
    counts = [strategies.get(k) for k in ("acknowledged", "filled", "accounted")]
    if (
        strategies.get("passed") is not True
        or not isinstance(orders, int)
        or isinstance(orders, bool)
        or orders < 1
        or counts != [orders] * 3
        or strategies.get("rejected") != 0
        or strategies.get("duplicate_fills") != 0
    ):
        return [
            f"strategy orders not all accounted for ({str(orders)[:10]} order(s), acknowledged/filled/"
            f"accounted {'/'.join(str(c)[:10] for c in counts)})"
        ]
    return []


def _denial_problems(denials: Any) -> list[str]:
    if not isinstance(denials, list) or not all(isinstance(d, dict) for d in denials):
        return ["not every risk denial was refused (no risk denials recorded)"]
    refused = [
        d.get("expected")
        for d in denials
        if d.get("passed") is True and d.get("accepted") is False and d.get("reason") == d.get("expected")
    ]
    if tuple(refused) != RISK_PROBES or len(denials) != len(RISK_PROBES):
        missing = [p for p in RISK_PROBES if p not in refused]
        return [f"not every risk denial was refused (not refused: {', '.join(missing) or 'extra probes'})"]
    return []


def _orders_log_problems(report: dict, directory: Path) -> list[str]:
    name = orders_log_name(report)
    if name is None:
        return ["the report does not name its orders log"]
    path = directory / name
    if not path.is_file():
        return []  # an uploaded report travels alone; the archive keeps the log beside it
    data = path.read_bytes()
    if f"sha384:{sha384_bytes(data)}" != report["orders_log"].get("sha384"):
        return [f"{name} is not the orders log the report records (SHA-384 differs)"]
    lines = data.splitlines()
    try:
        summary = strict_loads(lines[-1]) if lines else None
    except (StrictJSONError, ValueError):
        summary = None
    if not isinstance(summary, dict) or (summary.get("check"), summary.get("stage")) != (
        ORDERS_CHECK,
        "paper",
    ):
        return [f"{name} does not end with a {ORDERS_CHECK} summary of stage paper"]
    return []


def report_problems(markdown: bytes, directory: Path) -> list[str]:
    """What is wrong with a paper smoke Markdown report ([] = it shows a passed smoke): the JSON report it
    names must sit beside it with that SHA-384 and prove a passed session (json_report_problems), and the
    Markdown must say PASSED for that run."""
    text = markdown.decode("utf-8", "replace")
    found = _REPORT_LINE.search(text)
    if found is None:
        return ["paper smoke report: no `- report: <run>.json sha384:<hex>` line"]
    path = Path(directory) / found["name"]
    try:
        data = path.read_bytes()
    except OSError:
        return [f"paper smoke report: {found['name']} is not beside the Markdown report"]
    if sha384_bytes(data) != found["hex"]:
        return [f"paper smoke report: {found['name']} does not match the SHA-384 the Markdown names"]
    report, problems = json_report_problems(data, Path(directory))
    problems = [f"paper smoke report: {p}" for p in problems]
    if report is not None and not text.startswith(f"# Paper smoke {report.get('run')}: PASSED\n"):
        problems.append("paper smoke report: the Markdown does not say PASSED for this run")
    return problems
