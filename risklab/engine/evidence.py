"""Verifiers of the Paper Labs report pair: `paper_labs_report` (the JSON) and `paper_labs_report_pdf`.

The JSON must be the engine's own report: strict and in the on-disk form the engine writes, valid against
docs/schemas/paper_labs_report.json, all four risk profiles run, verdict `pass`, data provenance hashes
present, and run against the config the decision entry records. The PDF must be the one rendered with that
JSON (same run, written beside it under the same name). Pure (no Django); loaded by name by
audit.trust.evidence.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from audit.trust.canonical import StrictJSONError, strict_loads
from audit.trust.evidence import ArtefactInput, EvidenceContext, read_capped, register_verifier
from risklab.engine.profiles import PROFILE_NAMES
from risklab.engine.report_json import SCHEMA_ID, ReportError, report_bytes

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
    if report["schema"] != SCHEMA_ID:
        return None, [f"schema must be {SCHEMA_ID}"]
    missing = [p for p in PROFILE_NAMES if p not in report["summary"]["profiles"]]
    if missing:
        return None, [f"profiles {', '.join(missing)} were not run (all four are required)"]
    if report["verdict"] != "pass":
        failed = [p for p, s in report["summary"]["profiles"].items() if s["verdict"] != "pass"]
        return None, [f"verdict is {report['verdict']} (failed: {', '.join(failed) or 'none'})"]
    if not report["inputs"] or not all(_HEX96.fullmatch(str(i.get("sha384"))) for i in report["inputs"]):
        return None, ["data provenance hashes are missing"]
    produced = str(report["config"]["sha384"]).removeprefix("sha384:")
    if ctx.config_sha384 is None or produced != ctx.config_sha384:
        return None, [f"was run against config sha384:{produced[:16]}..., not the entry's config_hash"]
    return report, []


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
