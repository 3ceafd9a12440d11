"""Verifiers of the evidence the execution package produces: smoke_report, paper_smoke_report,
live_dry_run_report, metrics_log and mtls_bundle. Pure (no Django); registered at import and loaded by name
by audit.trust.evidence.

The reports are the files the runbook commands write (execution/drills/): JSON lines with one `summary`
line last (smoke, dry run), and the paper smoke's canonical JSON report (runbook/paper_smoke_report.py).
A report proves its step only when it says it passed, its details add up to that verdict, and it was
produced against the config the entry records.
"""

from __future__ import annotations

import io
import tarfile
from datetime import timedelta
from typing import Any

from audit.trust.canonical import StrictJSONError, strict_loads
from audit.trust.evidence import ArtefactInput, EvidenceContext, read_capped, register_verifier

MIN_CERT_DAYS = 14
BUNDLE_MEMBERS = ("ca.pem", "server.key", "server.pem")
# Metric families an evidence snapshot of a running daemon must hold (the alert rules use them).
DAEMON_FAMILIES = ("oem_live_unlocked", "oem_fill_ratio", "oem_gate_state")


def jsonl_records(data: bytes | None, what: str) -> tuple[list[dict], list[str]]:
    """Strict JSON objects, one per line; a truncated or padded file is refused."""
    if data is None:
        return [], [f"{what} is missing"]
    if not data.endswith(b"\n"):
        return [], [f"{what} is truncated (no newline after the last line)"]
    records = []
    for number, line in enumerate(data[:-1].split(b"\n"), 1):
        try:
            record = strict_loads(line)
        except StrictJSONError as exc:
            return [], [f"{what} line {number} is not strict JSON: {exc}"]
        if not isinstance(record, dict):
            return [], [f"{what} line {number} is not a JSON object"]
        records.append(record)
    return records, []


def _summary(records: list[dict], check: str, what: str) -> tuple[dict | None, list[str]]:
    if not records or records[-1].get("kind") != "summary":
        return None, [f"{what} has no summary line (not a {check} report, or cut short)"]
    summary = records[-1]
    if summary.get("check") != check:
        return None, [f"is a {str(summary.get('check'))[:40]} report, not {check}"]
    if summary.get("passed") is not True:
        return None, [f"{check} did not pass (its summary says passed={summary.get('passed')})"]
    return summary, []


def _config_problem(summary: dict, ctx: EvidenceContext) -> list[str]:
    produced = summary.get("config_sha384")
    if not isinstance(produced, str) or not produced:
        return ["does not record the config it ran against (config_sha384)"]
    if ctx.config_sha384 is None or produced.removeprefix("sha384:") != ctx.config_sha384:
        return [
            f"ran against config sha384:{produced.removeprefix('sha384:')[:16]}..., "
            "not the entry's config_hash"
        ]
    return []


def _orders_problem(records: list[dict], summary: dict, key: str = "accounted") -> list[str]:
    orders = [r for r in records if r.get("kind") == "order"]
    if not orders or len(orders) != summary.get("orders"):
        return [f"holds {len(orders)} order lines but its summary counts {summary.get('orders')}"]
    unaccounted = [o.get("client_order_id") for o in orders if o.get(key) is not True]
    if unaccounted or summary.get(key) != len(orders):
        return [f"{len(unaccounted)} order(s) not accounted for, e.g. {str(unaccounted[:1])[:60]}"]
    return []


def verify_smoke_report(artefact: ArtefactInput, ctx: EvidenceContext) -> list[str]:
    records, problems = jsonl_records(artefact.data, "smoke report")
    if problems:
        return problems
    summary, problems = _summary(records, "smoke_demo_strategies", "smoke report")
    if problems:
        return problems
    if summary.get("daemon_mode") != "demo":
        return [f"ran against a daemon in {summary.get('daemon_mode')} mode, not demo"]
    if summary.get("duplicate_fills") or summary.get("rejected"):
        return ["reports rejected orders or duplicate fills"]
    return _orders_problem(records, summary) or _config_problem(summary, ctx)


def verify_paper_smoke_report(artefact: ArtefactInput, ctx: EvidenceContext) -> list[str]:
    """The JSON report run_paper_smoke_ci writes (oem/paper-smoke/v1): passed, paper daemon, every strategy
    order accounted for, every risk probe refused, its orders log (when beside it) the one it records, and
    run against the entry's config."""
    from execution.drills.paper_smoke_report import json_report_problems

    if artefact.data is None:
        return ["paper smoke report is missing"]
    directory = artefact.path.parent if artefact.path is not None else None
    report, problems = json_report_problems(artefact.data, directory)
    if problems or report is None:
        return problems
    return _config_problem(report, ctx)


def verify_live_dry_run_report(artefact: ArtefactInput, ctx: EvidenceContext) -> list[str]:
    records, problems = jsonl_records(artefact.data, "dry-run report")
    if problems:
        return problems
    summary, problems = _summary(records, "live_execution_dry_run", "dry-run report")
    if problems:
        return problems
    if summary.get("profile") != "live":
        return [f"drilled the {summary.get('profile')} profile, not the live profile of this config"]
    checks = summary.get("checks")
    if not isinstance(checks, dict) or not checks or not all(v is True for v in checks.values()):
        return [f"checks did not all pass: {str(checks)[:80]}"]
    if summary.get("duplicate_fill_ids") or summary.get("other"):
        return ["reports duplicate fills or orders without a final state"]
    return _orders_problem(records, summary) or _config_problem(summary, ctx)


def verify_metrics_log(artefact: ArtefactInput, ctx: EvidenceContext) -> list[str]:
    records, problems = jsonl_records(artefact.data, "metrics log")
    if problems:
        return problems
    if not records:
        return ["metrics log holds no snapshot"]
    for number, snapshot in enumerate(records, 1):
        source = snapshot.get("source")
        if not isinstance(source, str) or not source.startswith("scrape "):
            return [f"snapshot {number} is not a scrape of a running daemon (source {str(source)[:40]!r})"]
        samples = snapshot.get("samples")
        if not isinstance(samples, list):
            return [f"snapshot {number} has no samples"]
        up = [
            s.get("value")
            for s in samples
            if isinstance(s, dict) and s.get("name") == "oem_metrics_scrape_up"
        ]
        if up != [1.0] and up != [1]:
            return [f"snapshot {number}: the daemon's metrics could not be scraped"]
        names = {str(s.get("name")) for s in samples if isinstance(s, dict)}
        missing = [f for f in DAEMON_FAMILIES if not any(n == f or n.startswith(f + "_") for n in names)]
        if missing:
            return [f"snapshot {number} lacks the daemon's {', '.join(missing)}"]
    return []


def verify_mtls_bundle(artefact: ArtefactInput, ctx: EvidenceContext) -> list[str]:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature

    from execution.mtls.pki import PkiError, load_private_key, verify_crl

    try:
        with tarfile.open(fileobj=io.BytesIO(artefact.data or b""), mode="r:gz") as tar:
            names = sorted(m.name for m in tar.getmembers())
            if names != sorted(BUNDLE_MEMBERS):
                return [f"holds {names[:5]}, expected {list(BUNDLE_MEMBERS)}"]
            members = {n: tar.extractfile(n).read() for n in BUNDLE_MEMBERS}  # type: ignore[union-attr]
    except (tarfile.TarError, OSError, EOFError, AttributeError) as exc:
        return [f"is not a readable live_bundle.tar.gz: {' '.join(str(exc).split())[:100]}"]
    try:
        ca = x509.load_pem_x509_certificate(members["ca.pem"])
        server = x509.load_pem_x509_certificate(members["server.pem"])
        key = load_private_key(members["server.key"])
    except (ValueError, PkiError) as exc:
        return [f"certificates or key do not parse: {exc}"]
    now = ctx.decided_at()
    try:
        server.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return ["the server certificate does not chain to the bundle's CA"]
    if key.public_key().public_numbers() != server.public_key().public_numbers():
        return ["server.key does not belong to server.pem"]
    for label, cert in (("CA", ca), ("server", server)):
        problem = _lifetime(label, cert, now)
        if problem:
            return [problem]
    problems = _clients(artefact, ca, now)
    if problems:
        return problems
    crl = read_capped(artefact.path.with_name("crl.pem")) if artefact.path else None
    if crl is None:
        return ["no crl.pem beside the bundle"]
    try:
        verify_crl(crl, ca, now=now)
    except PkiError as exc:
        return [f"CRL: {exc}"]
    return []


def _lifetime(label: str, cert: Any, now) -> str | None:
    if cert.not_valid_before_utc > now:
        return f"the {label} certificate is not valid yet"
    if cert.not_valid_after_utc < now + timedelta(days=MIN_CERT_DAYS):
        expires = f"{cert.not_valid_after_utc:%Y-%m-%d}"
        return f"the {label} certificate expires within {MIN_CERT_DAYS} days ({expires})"
    return None


def _clients(artefact: ArtefactInput, ca, now) -> list[str]:
    """Client certificates issued beside the bundle (when present there) must chain and last 14 days."""
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature

    folder = artefact.path.with_name("clients") if artefact.path else None
    if folder is None or not folder.is_dir():
        return []
    for pem in sorted(folder.glob("*.pem")):
        try:
            cert = x509.load_pem_x509_certificate(pem.read_bytes())
            cert.verify_directly_issued_by(ca)
        except (ValueError, TypeError, InvalidSignature, OSError):
            return [f"client certificate {pem.name} does not chain to the bundle's CA"]
        problem = _lifetime(f"client {pem.stem}", cert, now)
        if problem:
            return [problem]
    return []


register_verifier("smoke_report", verify_smoke_report)
register_verifier("paper_smoke_report", verify_paper_smoke_report)
register_verifier("live_dry_run_report", verify_live_dry_run_report)
register_verifier("metrics_log", verify_metrics_log)
register_verifier("mtls_bundle", verify_mtls_bundle)
