"""Verifiers of the Paper Labs report pair: `paper_labs_report` (the JSON) and `paper_labs_report_pdf`.

The JSON must be the engine's own report (v2, or v1 written by the previous engine): strict and in the
on-disk form the engine writes, valid against docs/schemas/paper_labs_report.json, all four risk profiles
run, verdict `pass`, data provenance hashes present, and run against the config the decision entry records.
The verdict is not taken on trust: every row the parameters call for must be there, and each profile's verdict
is recomputed from its rows as the engine does (no row fails; in v2 every stress probe row passes, so a probe
that was not exercised fails it too) and must match the summary. The PDF must be the one rendered with that
JSON (same run, written beside it under the same name). Pure (no Django); loaded by name by
audit.trust.evidence.
"""

from __future__ import annotations

import copy
import re
from functools import lru_cache
from pathlib import Path

from audit.trust.canonical import StrictJSONError, strict_loads
from audit.trust.evidence import ArtefactInput, EvidenceContext, read_capped, register_verifier
from risklab.engine.lab import PROBE
from risklab.engine.profiles import PROFILE_NAMES
from risklab.engine.report_json import SCHEMA_ID, ReportError, report_bytes, upgrade_report

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "docs" / "schemas" / "paper_labs_report.json"
_HEX96 = re.compile(r"(sha384:)?[0-9a-f]{96}")


@lru_cache(maxsize=1)
def _validator():
    import jsonschema

    schema = strict_loads(SCHEMA_PATH.read_bytes())
    return jsonschema.validators.validator_for(schema)(schema)


def report_problems(data: bytes | None, ctx: EvidenceContext) -> tuple[dict | None, list[str]]:
    import jsonschema

    if data is None:
        return None, ["Paper Labs report is missing"]
    try:
        report = strict_loads(data)
    except StrictJSONError as exc:
        return None, [f"is not strict JSON: {exc}"]
    error = jsonschema.exceptions.best_match(_validator().iter_errors(report))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "report"
        return None, [f"schema: {where}: {' '.join(error.message.split())[:120]}"]
    try:
        if report_bytes(report) != data:
            return None, ["is not in the engine's own report form (edited after it was written)"]
    except ReportError as exc:
        return None, [str(exc)]
    missing = [p for p in PROFILE_NAMES if p not in report["summary"]["profiles"]]
    if missing:
        return None, [f"profiles {', '.join(missing)} were not run (all four are required)"]
    if report["verdict"] != "pass":
        failed = [p for p, s in report["summary"]["profiles"].items() if s["verdict"] != "pass"]
        return None, [f"verdict is {report['verdict']} (failed: {', '.join(failed) or 'none'})"]
    problem = _rows_problem(upgrade_report(copy.deepcopy(report)))
    if problem:
        return None, [problem]
    if not report["inputs"] or not all(_HEX96.fullmatch(str(i.get("sha384"))) for i in report["inputs"]):
        return None, ["data provenance hashes are missing"]
    produced = str(report["config"]["sha384"]).removeprefix("sha384:")
    if ctx.config_sha384 is None or produced != ctx.config_sha384:
        return None, [f"was run against config sha384:{produced[:16]}..., not the entry's config_hash"]
    return report, []


def _rows_problem(report: dict) -> str | None:
    """The summary's verdicts recomputed from the rows (read as v2 by ``upgrade_report``), or why not."""
    v2 = report["schema"] == SCHEMA_ID
    parameters = report["parameters"]
    rows = report["rows"]
    present = {(r["dataset"], r["profile"], r["scenario"], r["strategy"]) for r in rows}
    if len(present) != len(rows):
        return "has a row twice"
    for dataset in (i["name"] for i in report["inputs"]):
        for profile in PROFILE_NAMES:
            for scenario in parameters["scenarios"]:
                # v2 probes every stressed scenario (all but baseline); v1 had no probe.
                probed = [PROBE] if v2 and scenario != "baseline" else []
                for strategy in [*parameters["strategies"], *probed]:
                    if (dataset, profile, scenario, strategy) not in present:
                        return f"row {profile}/{scenario}/{strategy} on {dataset} is missing"
    for row in rows:
        problem = _row_problem(row)
        if problem:
            return f"row {row['profile']}/{row['scenario']}/{row['strategy']}: {problem}"
    for profile in PROFILE_NAMES:
        own = [r for r in rows if r["profile"] == profile]
        failed = [r for r in own if r["status"] == "fail"]
        probes_failed = [r for r in own if r["strategy"] == PROBE and r["status"] != "pass"]
        if probes_failed:
            r = probes_failed[0]
            return f"profile {profile}: stress probe on {r['scenario']} is {r['status']}, not pass"
        if failed:
            r = failed[0]
            return f"profile {profile}: row {r['scenario']}/{r['strategy']} failed its acceptance checks"
        summary = report["summary"]["profiles"][profile]
        recorded = (summary["rows"], summary["failed"], summary.get("probe_failed", 0))
        if summary["verdict"] != "pass" or recorded != (len(own), 0, 0):
            return f"profile {profile}: the summary disagrees with its rows"
    return None


def _row_problem(row: dict) -> str | None:
    """A row's status as the engine derives it: its acceptance checks judged on its own metrics against its
    profile's thresholds, then not_exercised when its stress window saw no position and no trade."""
    for key, check in row["acceptance"].items():
        if (
            check["value"] != row["metrics"][key]
            or check["threshold"] != row["profile_params"]["acceptance"][key]
        ):
            return f"{key} check is not judged on the row's metric and profile"
        # Rounding to 12 digits is monotonic, so a rounded value above the rounded threshold was above it.
        if check["pass"] and check["value"] > check["threshold"]:
            return f"{key} check passes a value above its threshold"
    expected = "pass" if all(check["pass"] for check in row["acceptance"].values()) else "fail"
    if row["exercise"] is not None and not row["exercise"]["exercised"]:
        expected = "not_exercised"
    if row["status"] != expected or row["pass"] != (expected == "pass"):
        return f"status {row['status']} does not follow from its checks and exercise ({expected})"
    return None


def verify_report_json(artefact: ArtefactInput, ctx: EvidenceContext) -> list[str]:
    return report_problems(artefact.data, ctx)[1]


def verify_report_pdf(artefact: ArtefactInput, ctx: EvidenceContext) -> list[str]:
    data = artefact.data or b""
    if not data.startswith(b"%PDF-") or not data.rstrip().endswith(b"%%EOF"):
        return ["is not a complete PDF (truncated or another file)"]
    json_path = ctx.file_of("paper_labs_report_json")
    if json_path is None:
        return ["no paper_labs_report_json recorded to pair the PDF with"]
    report, problems = report_problems(read_capped(json_path), ctx)
    if problems:
        return [f"its JSON report: {problems[0]}"]
    if f"Paper Labs report {report['run_id']}".encode() not in data:
        return [f"was not rendered from run {report['run_id']}"]
    return []


register_verifier("paper_labs_report", verify_report_json)
register_verifier("paper_labs_report_pdf", verify_report_pdf)
