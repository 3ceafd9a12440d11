"""Promotion gates demo_exit, paper_exit, live_go: declared as data, evaluated by one pure function.

GATES is the gate table of docs/runbooks/DEMO_PAPER_LIVE_CHECKLIST.md (its "Gate ... requires" lines). A
gate is decided only from a VerificationReport with ok=True (see verifier.verify_decision_logs); a report
with problems fails every gate and the problems are listed as what is missing. The runtime flags are likewise
derived, never set: runtime_state() reads them from the latest verified entry, falling back to the safe
defaults (demo mode on, compliance not confirmed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from audit.trust.decision_rules import DEFAULT_RUNTIME_FLAGS, FLAG_COMPLIANCE, FLAG_DEMO_MODE, STATUS_RULES
from audit.trust.evidence import FILE_KINDS
from audit.trust.verifier import (
    VerificationReport,
    VerifiedEntry,
    last_with_status,
    latest_entry,
    revoked_after,
)


@dataclass(frozen=True)
class Artefact:
    name: str  # key under the entry's "artefacts"
    kind: (
        str  # evidence kind: its registered verifier decides what the artefact proves (audit.trust.evidence)
    )
    description: str

    @property
    def file(self) -> bool:
        """True: recorded as a {path, sha384} file reference; False: a recorded value."""
        return self.kind in FILE_KINDS


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
    compare_config_with_prerequisite: bool = False  # the config must not change since the previous gate


_CI_RUN = Artefact("ci_run", "ci_run", "CI run record ci_run.json (docs/schemas/ci_run_v1.json)")
_CONFIG_HASH = Artefact("config_hash", "config_hash", "config/core.yaml hash, sha384:<hex>")
_CONFIG_SIGNATURE = Artefact(
    "config_signature", "config_signature", "config/core.yaml.sig, the HMAC signature file of that config"
)
# Recorded by the decision itself (archiving its evidence), not attached by any checklist step.
DECISION_ARTEFACTS = ("artefact_index",)
_INDEX = Artefact(
    "artefact_index", "artefact_index", "index of the archived copies, audit/artefacts/<date>/<gate>/"
)

GATES: dict[str, Gate] = {
    "demo_exit": Gate(
        name="demo_exit",
        log="demo",
        status="demo_ready",
        prerequisite=None,
        artefacts=(
            _CONFIG_HASH,
            _CONFIG_SIGNATURE,
            Artefact("bundle_commit", "bundle_commit", "commit of the OEM bundle the config ships with"),
            Artefact("smoke_demo_report", "smoke_report", "smoke demo report, var/audit/acceptance/*.jsonl"),
            _CI_RUN,
            _INDEX,
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
            Artefact(
                "paper_labs_report_pdf",
                "paper_labs_report_pdf",
                "Paper Labs report, reports/paper_labs/*.pdf",
            ),
            Artefact(
                "paper_labs_report_json", "paper_labs_report", "Paper Labs report, reports/paper_labs/*.json"
            ),
            Artefact("paper_smoke_report", "paper_smoke_report", "paper smoke report"),
            _CONFIG_HASH,
            _CONFIG_SIGNATURE,
            Artefact("bundle", "bundle", "bundle manifest.json (manifest.sig beside it)"),
            Artefact(
                "bundle_fingerprint", "bundle_fingerprint", "sha384:<hex> of the bundle's manifest.json"
            ),
            _CI_RUN,
            _INDEX,
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
            Artefact(
                "live_dry_run_report", "live_dry_run_report", "live dry-run report, logs/live_dry_run/*.jsonl"
            ),
            Artefact("mtls_bundle", "mtls_bundle", "mTLS bundle, var/certs/live_bundle.tar.gz"),
            Artefact("mtls_fingerprint", "mtls_fingerprint", "sha384:<hex> of the mTLS bundle"),
            Artefact("license_registry", "license_registry", "licensed devices, var/licenses/registry.jsonl"),
            Artefact(
                "ui_telemetry_log",
                "ui_telemetry_log",
                "UI telemetry guard log, logs/ui_telemetry_alerts.jsonl",
            ),
            _CONFIG_HASH,
            _CONFIG_SIGNATURE,
            _CI_RUN,
            _INDEX,
        ),
        checklists=("live_execution",),
        signer_roles=STATUS_RULES["live_ready"].signer_roles,
        runtime_flags={FLAG_DEMO_MODE: False, FLAG_COMPLIANCE: True},
        compare_config_with_prerequisite=True,
        references=(
            "docs/runbooks/LIVE_EXECUTION_CHECKLIST.md",
            "scripts/live_execution_dry_run.py",
            "scripts/generate_mtls_bundle.py",
            "deploy/ci/ui_telemetry_checks.yml",
        ),
    ),
}


def gate_for_status(status: str) -> Gate | None:
    """The gate whose deciding entry has this status (None for revoked and unknown statuses)."""
    return next((gate for gate in GATES.values() if gate.status == status), None)


def declared_kinds(status: str) -> dict[str, str]:
    """Artefact name -> evidence kind for an entry of this status; signed checklists included."""
    gate = gate_for_status(status)
    if gate is None:
        return {}
    kinds = {artefact.name: artefact.kind for artefact in gate.artefacts}
    kinds.update({f"checklist_{checklist}": "signed_checklist" for checklist in gate.checklists})
    return kinds


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
    latest = latest_entry(report)
    if latest is None:
        return RuntimeState()
    flags = dict(latest.entry["runtime_flags"])
    return RuntimeState(flags[FLAG_DEMO_MODE], flags[FLAG_COMPLIANCE], f"{latest.file}:{latest.line}", flags)


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
    before = evaluate_gate(gate.prerequisite, report, None) if gate.prerequisite else None
    if before is not None and not before.passed:
        missing.append(f"prerequisite gate {gate.prerequisite} has not passed")
    entry = last_with_status(report, gate.log, gate.status)
    if entry is None:
        missing.append(f"no verified status={gate.status} entry in the {gate.log} decision log")
        return GateEvaluation(name, False, missing)
    revocation = revoked_after(report, entry.timestamp)
    if revocation is not None:
        missing.append(f"revoked after approval by {revocation.file}:{revocation.line}")
    missing.extend(evidence_missing(gate, entry.entry["artefacts"]))
    for role in gate.signer_roles:
        if role not in entry.signers:
            missing.append(f"signature by role {role}")
    flags = entry.entry["runtime_flags"]
    for flag, required in gate.runtime_flags.items():
        if flags.get(flag) is not required:
            missing.append(f"runtime flag {flag} must be {str(required).lower()}")
    if gate.compare_config_with_prerequisite and before is not None and before.entry is not None:
        missing.extend(config_hash_difference(before.entry, entry))
    expected_config = (context or {}).get("config_sha384")
    if expected_config and entry.entry["artefacts"].get("config_hash") != f"sha384:{expected_config}":
        missing.append("config_hash in the decision entry does not match the current config/core.yaml")
    return GateEvaluation(name, not missing, missing, entry)


def config_hash_difference(earlier: VerifiedEntry, later: VerifiedEntry) -> list[str]:
    """The later entry must run the config the earlier gate approved; the strict verifier's config_hash
    check names the keys that differ (from the archived copies of both configs)."""
    before = earlier.entry["artefacts"].get("config_hash")
    after = later.entry["artefacts"].get("config_hash")
    if before == after:
        return []
    return [
        f"config_hash {str(after)[:23]}... of the {later.status} entry differs from {str(before)[:23]}... "
        f"approved by the {earlier.status} entry at {earlier.file}:{earlier.line}"
    ]


def evidence_missing(gate: Gate, artefacts: Mapping[str, Any], *, proposal: bool = False) -> list[str]:
    """What a gate's deciding entry would lack with these artefacts: the same rule for a recorded entry
    (evaluate_gate) and for one the console is about to propose (proposal_missing, before the proposal
    archives its evidence and records the DECISION_ARTEFACTS)."""
    missing: list[str] = []
    for artefact in gate.artefacts:
        if proposal and artefact.name in DECISION_ARTEFACTS:
            continue
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
    return missing + evidence_missing(gate, artefacts, proposal=True)


def evaluate_all(
    report: VerificationReport, context: Mapping[str, Any] | None = None
) -> dict[str, GateEvaluation]:
    return {name: evaluate_gate(name, report, context) for name in GATES}
