"""The console's reads of the signed evidence: one call into the trust core's verifier and gates, the same
code path the commands and the daemon use. Nothing here decides anything on its own."""

from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from audit.trust import paths as trust_paths
from audit.trust.gates import GateEvaluation, RuntimeState, evaluate_all, runtime_state
from audit.trust.hashing import sha384_file
from audit.trust.keyring import KeyRing, KeyRingError
from audit.trust.verifier import Problem, VerificationReport, verify_decision_logs

from .models import Deployment


def core_config_path() -> Path:
    return Path(settings.OEM_CONFIG_PATH)


def trust_identity(deployment: Deployment) -> dict[str, str] | None:
    """What the console shows: installation id, deployment id and the pinned root fingerprint (None when
    the installation does not load; the verification section then says why)."""
    from audit.trust.installation import InstallationError, load_installation, signature_context

    try:
        installation = load_installation(Path(settings.OEM_DATA_DIR))
    except InstallationError:
        return None
    return {
        **signature_context(installation, deployment.evidence_dir),
        "root_fingerprint": installation.root_fingerprint,
    }


def trust_context(deployment: Deployment) -> dict[str, str]:
    """{installation_id, deployment_id} every signature over this deployment's evidence binds."""
    from audit.trust.installation import load_installation, signature_context

    return signature_context(load_installation(Path(settings.OEM_DATA_DIR)), deployment.evidence_dir)


def decision_log_paths(deployment: Deployment) -> list[Path]:
    return [trust_paths.decision_log_path(name, deployment.evidence_dir) for name in trust_paths.LOG_NAMES]


@dataclass(frozen=True)
class EvidenceState:
    report: VerificationReport
    gates: dict[str, GateEvaluation]
    runtime: RuntimeState
    config_sha384: str | None


def deployment_evidence(deployment: Deployment) -> EvidenceState:
    try:
        keyring = KeyRing.load(settings.OEM_DATA_DIR)
    except KeyRingError as exc:
        report = VerificationReport(False, (Problem("keys/keyring.json", 0, str(exc)),), ())
    else:
        report = verify_decision_logs(
            decision_log_paths(deployment), keyring, data_dir=deployment.evidence_dir
        )
    config = core_config_path()
    config_sha384 = sha384_file(config) if config.is_file() else None
    context = {"config_sha384": config_sha384} if config_sha384 else None
    return EvidenceState(report, evaluate_all(report, context), runtime_state(report), config_sha384)
