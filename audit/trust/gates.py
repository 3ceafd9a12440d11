"""Promotion gates demo_exit, paper_exit, live_go: declared as data, evaluated by one pure function.

GATES transcribes the plan's "Bramki decyzyjne" table. A gate is decided only from a VerificationReport
with ok=True (see verifier.verify_decision_logs); a report with problems fails every gate and the problems
are listed as what is missing. The runtime flags are likewise derived, never set: runtime_state() reads them
from the latest verified entry, falling back to the safe defaults (demo mode on, compliance not confirmed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from audit.trust.decision_log import DEFAULT_RUNTIME_FLAGS, FLAG_COMPLIANCE, FLAG_DEMO_MODE, STATUS_RULES
from audit.trust.verifier import VerificationReport, VerifiedEntry


@dataclass(frozen=True)
class Artefact:
    name: str  # key under the entry's "artefacts"
    file: bool  # True: must be a {path, sha384} file reference (the verifier checked the file)
    description: str


@dataclass(frozen=True)
class Gate:
    name: str
    log: str  # decision log holding the deciding entry
    status: str  # status of the deciding entry
    prerequisite: str | None  # gate that must pass first
    artefacts: tuple[Artefact, ...]
    checklists: tuple[str, ...]  # each must be attached as file artefact `checklist_<name>`
    signer_roles: tuple[str, ...]
    runtime_flags: Mapping[str, bool]
    references: tuple[str, ...] = ()  # runbooks and CI jobs, for people; not evaluated


_CI_RUN = Artefact("ci_run", False, "CI run reference: job id + commit")
_CONFIG_HASH = Artefact("config_hash", False, "config/core.yaml hash, sha384:<hex>")

GATES: dict[str, Gate] = {
    "demo_exit": Gate(
        name="demo_exit",
        log="demo",
        status="demo_ready",
        prerequisite=None,
        artefacts=(
            _CONFIG_HASH,
            Artefact("config_signature", False, "HMAC signature of config/core.yaml (core.yaml.sig)"),
            Artefact("smoke_demo_report", True, "smoke demo report, var/audit/acceptance/*.jsonl"),
            _CI_RUN,
        ),
        checklists=("demo_stage1",),
        signer_roles=STATUS_RULES["demo_ready"].signer_roles,
        runtime_flags={FLAG_DEMO_MODE: True},
        references=(
            "scripts/smoke_demo_strategies.py",
            "deploy/ci/github_actions_oem_packaging.yml",
            "docs/runbooks/OEM_INSTALLER_ACCEPTANCE.md",
            "docs/runbooks/DEMO_PAPER_LIVE_CHECKLIST.md#etap-1",
        ),
    ),
    "paper_exit": Gate(
        name="paper_exit",
        log="paper",
        status="paper_ready",
        prerequisite="demo_exit",
        artefacts=(
            Artefact("paper_labs_report_pdf", True, "Paper Labs report, reports/paper_labs/*.pdf"),
            Artefact("paper_labs_report_json", True, "Paper Labs report, reports/paper_labs/*.json"),
            Artefact("paper_smoke_report", True, "paper smoke result, reports/paper_smoke/*.md"),
            _CONFIG_HASH,
            Artefact(
                "bundle_fingerprint", False, "bundle fingerprint from deploy/packaging/build_core_bundle.py"
            ),
            _CI_RUN,
        ),
        checklists=("paper_trading",),
        signer_roles=STATUS_RULES["paper_ready"].signer_roles,
        runtime_flags={FLAG_COMPLIANCE: False},
        references=(
            "docs/runbooks/DEMO_PAPER_LIVE_CHECKLIST.md#etap-2",
            "docs/runbooks/paper_trading.md",
            "deploy/ci/github_actions_paper_smoke.yml",
        ),
    ),
    "live_go": Gate(
        name="live_go",
        log="live_execution",
        status="live_ready",
        prerequisite="paper_exit",
        artefacts=(
            Artefact("live_dry_run_report", True, "live dry-run report, logs/live_dry_run/*.jsonl"),
            Artefact("mtls_bundle", True, "mTLS bundle, var/certs/live_bundle.tar.gz"),
            Artefact("mtls_fingerprint", False, "mTLS bundle fingerprint"),
            Artefact("license_registry", True, "licensed device fingerprints, var/licenses/registry.jsonl"),
            Artefact("ui_telemetry_log", True, "UI telemetry guard log, logs/ui_telemetry_alerts.jsonl"),
            _CONFIG_HASH,
            _CI_RUN,
        ),
        checklists=("live_execution",),
        signer_roles=STATUS_RULES["live_ready"].signer_roles,
        runtime_flags={FLAG_DEMO_MODE: False, FLAG_COMPLIANCE: True},
        references=(
            "docs/runbooks/LIVE_EXECUTION_CHECKLIST.md",
            "scripts/live_execution_dry_run.py",
            "scripts/generate_mtls_bundle.py",
            "deploy/ci/ui_telemetry_checks.yml",
        ),
    ),
}


@dataclass(frozen=True)
class GateEvaluation:
    gate: str
    passed: bool
    missing: list[str]
    entry: VerifiedEntry | None = None  # the deciding entry, when one was found


@dataclass(frozen=True)
class RuntimeState:
    require_demo_mode: bool = DEFAULT_RUNTIME_FLAGS[FLAG_DEMO_MODE]
    compliance_confirmed: bool = DEFAULT_RUNTIME_FLAGS[FLAG_COMPLIANCE]
    source: str | None = None  # "file:line" of the entry the flags come from; None = defaults
    flags: dict[str, bool] = field(default_factory=lambda: dict(DEFAULT_RUNTIME_FLAGS))


def runtime_state(report: VerificationReport) -> RuntimeState:
    """Flags from the latest verified entry; safe defaults when there is none or the report has problems."""
    if not report.ok or not report.entries:
        return RuntimeState()
    latest = max(report.entries, key=_chronological)
    flags = dict(latest.entry["runtime_flags"])
    return RuntimeState(flags[FLAG_DEMO_MODE], flags[FLAG_COMPLIANCE], f"{latest.file}:{latest.line}", flags)


def _chronological(entry: VerifiedEntry) -> tuple[Any, int, int]:
    return (
        entry.timestamp,
        list(STATUS_RULES).index(entry.status) if entry.status in STATUS_RULES else 0,
        entry.line,
    )


def evaluate_gate(
    name: str, report: VerificationReport, context: Mapping[str, Any] | None = None
) -> GateEvaluation:
    """Pass/fail of gate `name` plus everything missing. Pure: reads only its arguments.

    context (optional): {"config_sha384": <hex of the config about to run>} - the deciding entry's
    config_hash must then name exactly that file.
    """
    gate = GATES.get(name)
    if gate is None:
        return GateEvaluation(name, False, [f"unknown gate {name!r}"])
    if not report.ok:
        return GateEvaluation(name, False, [f"decision logs do not verify: {p}" for p in report.problems])
    missing: list[str] = []
    if gate.prerequisite:
        before = evaluate_gate(gate.prerequisite, report, None)
        if not before.passed:
            missing.append(f"prerequisite gate {gate.prerequisite} has not passed")
    candidates = [e for e in report.logs.get(gate.log, []) if e.status == gate.status]
    if not candidates:
        missing.append(f"no verified status={gate.status} entry in the {gate.log} decision log")
        return GateEvaluation(name, False, missing)
    entry = candidates[-1]
    revocations = [e for e in report.entries if e.status == "revoked" and e.timestamp > entry.timestamp]
    if revocations:
        missing.append(f"revoked after approval by {revocations[-1].file}:{revocations[-1].line}")
    missing.extend(evidence_missing(gate, entry.entry["artefacts"]))
    for role in gate.signer_roles:
        if role not in entry.signers:
            missing.append(f"signature by role {role}")
    flags = entry.entry["runtime_flags"]
    for flag, required in gate.runtime_flags.items():
        if flags.get(flag) is not required:
            missing.append(f"runtime flag {flag} must be {str(required).lower()}")
    expected_config = (context or {}).get("config_sha384")
    if expected_config and entry.entry["artefacts"].get("config_hash") != f"sha384:{expected_config}":
        missing.append("config_hash in the decision entry does not match the current config/core.yaml")
    return GateEvaluation(name, not missing, missing, entry)


def evidence_missing(gate: Gate, artefacts: Mapping[str, Any]) -> list[str]:
    """What a gate's deciding entry would lack with these artefacts: the same rule for a recorded entry
    (evaluate_gate) and for one the console is about to propose (proposal_missing)."""
    missing: list[str] = []
    for artefact in gate.artefacts:
        value = artefacts.get(artefact.name)
        if value in (None, ""):
            missing.append(f"artefact {artefact.name}: {artefact.description}")
        elif artefact.file and not isinstance(value, dict):
            missing.append(f"artefact {artefact.name} must be a file reference with its sha384")
    for checklist in gate.checklists:
        if not isinstance(artefacts.get(f"checklist_{checklist}"), dict):
            missing.append(
                f"signed checklist {checklist} (artefact checklist_{checklist} as a file reference)"
            )
    return missing


def proposal_missing(name: str, artefacts: Mapping[str, Any], report: VerificationReport) -> list[str]:
    """Everything that stops a new deciding entry for gate `name` from being proposed now."""
    gate = GATES.get(name)
    if gate is None:
        return [f"unknown gate {name!r}"]
    if not report.ok:
        return [f"decision logs do not verify: {p}" for p in report.problems]
    missing: list[str] = []
    if gate.prerequisite and not evaluate_gate(gate.prerequisite, report).passed:
        missing.append(f"prerequisite gate {gate.prerequisite} has not passed")
    return missing + evidence_missing(gate, artefacts)


def evaluate_all(
    report: VerificationReport, context: Mapping[str, Any] | None = None
) -> dict[str, GateEvaluation]:
    return {name: evaluate_gate(name, report, context) for name in GATES}
