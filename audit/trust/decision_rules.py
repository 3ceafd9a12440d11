"""Rules and formats of the decision logs: what each status requires, how a line, its hash chain, its
signatures and its checkpoint are laid out. The writer (decision_log) and the verifier both read them here,
so neither imports the other's module for its formats.

Line format: the RFC 8785 canonical JSON of the whole entry (signatures included), then `\n`.
- `seq` counts from 1; `prev_hash` is `sha384:<hex>` of the previous line's bytes (without `\n`), and the
  first line's is the genesis value bound to the log name, so lines cannot be reordered, dropped or moved
  between logs.
- Each role signs signing_input("oem/decision-log/v2", {"deployment_id", "entry": <entry without
  signatures>, "installation_id", "log": <name>, "role": <role>}): a signature lifted onto another entry,
  role, log, deployment or installation does not verify.
- `<log>.checkpoint.json` holds {log, installation_id, deployment_id, count, entry (digest of the last
  unsigned entry), head (its line hash)} co-signed by the last entry's signers in the signing ceremony; it
  catches a truncated tail, and no box-readable secret can re-seal a truncated log. An older checkpoint
  with its older log is a rollback, which the witness (audit.trust.witness) refuses.

STATUS_RULES is the one table of what each status requires; the verifier and the gates both read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audit.trust import paths
from audit.trust.canonical import (
    DOMAIN_CHECKPOINT,
    DOMAIN_DECISION_LOG,
    StrictJSONError,
    canonical_bytes,
    domain_prefix,
    signing_input,
    strict_loads,
)
from audit.trust.fsutil import MAX_JSON_FILE, read_regular_file
from audit.trust.hashing import sha384_bytes, sha384_file
from audit.trust.installation import signature_context
from audit.trust.keyring import KeyRing
from audit.trust.signatures import Ed25519Signer

FLAG_DEMO_MODE = "StrategyContext.require_demo_mode"
FLAG_COMPLIANCE = "runtime.compliance_confirmed"
DEFAULT_RUNTIME_FLAGS = {FLAG_DEMO_MODE: True, FLAG_COMPLIANCE: False}

LOG_STAGE = {"demo": "demo", "paper": "paper", "live_execution": "live"}


@dataclass(frozen=True)
class StatusRule:
    stage: str | None  # None: allowed in any log
    signer_roles: tuple[str, ...]  # every one must sign, each by a different person and key
    runtime_flags: Mapping[str, bool]  # values the entry must record
    requires_earlier: str | None  # a verified entry with this status must exist earlier (any log)


# Every promotion decision is signed by the product owner AND a compliance officer (two people); the
# engineer's and owner's work on the stage-1 demo checklist is carried by the signed checklist artefact.
# From the plan's "Bramki decyzyjne": paper and live
# decisions need the owner AND compliance. `revoked` re-locks the runtime and needs only the owner.
STATUS_RULES: dict[str, StatusRule] = {
    "demo_ready": StatusRule(
        "demo", ("compliance", "owner"), {FLAG_DEMO_MODE: True, FLAG_COMPLIANCE: False}, None
    ),
    "paper_ready": StatusRule("paper", ("compliance", "owner"), {FLAG_COMPLIANCE: False}, "demo_ready"),
    "live_ready": StatusRule(
        "live", ("compliance", "owner"), {FLAG_DEMO_MODE: False, FLAG_COMPLIANCE: True}, "paper_ready"
    ),
    "revoked": StatusRule(None, ("owner",), {FLAG_DEMO_MODE: True, FLAG_COMPLIANCE: False}, None),
}


class DecisionLogError(ValueError):
    """An append was refused or a log file cannot be used. One-line message; nothing was written."""


def log_name_of(log_path: Path) -> str:
    return Path(log_path).name.removesuffix(".jsonl")


def genesis_hash(log_name: str) -> str:
    """prev_hash of a log's first entry: bound to the log name so logs cannot be swapped wholesale."""
    return "sha384:" + sha384_bytes(domain_prefix(DOMAIN_DECISION_LOG) + b"genesis\x00" + log_name.encode())


def line_hash(line: bytes) -> str:
    return "sha384:" + sha384_bytes(line)


def unsigned_entry(entry: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k != "signatures"}


def signing_context(keyring: KeyRing, data_dir: Path | str | None) -> dict[str, str]:
    """{installation_id, deployment_id} of the evidence in `data_dir` (default: the installation's own)."""
    if keyring.installation is None:
        raise DecisionLogError("the key ring has no installation: run init_installation")
    return signature_context(keyring.installation, data_dir)


def entry_signing_input(
    entry: Mapping[str, Any], log_name: str, role: str, *, context: Mapping[str, str]
) -> bytes:
    """Bytes a role signs: binds the entry to its log, the role the signer acts in, the deployment and the
    installation (`context` from signing_context)."""
    return signing_input(
        DOMAIN_DECISION_LOG,
        {"entry": unsigned_entry(entry), "log": log_name, "role": role, **_context(context)},
    )


def _context(context: Mapping[str, str]) -> dict[str, str]:
    if not isinstance(context, Mapping) or set(context) != {"installation_id", "deployment_id"}:
        raise DecisionLogError("a signature context needs exactly installation_id and deployment_id")
    return {"installation_id": context["installation_id"], "deployment_id": context["deployment_id"]}


def witness_key(log_name: str, context: Mapping[str, str]) -> str:
    return f"decision_log:{context['deployment_id']}:{log_name}"


def artefact_file(path: str | Path, data_dir: Path | None = None) -> dict[str, str]:
    """A file artefact {path, sha384}; the path is stored relative to the data dir when it lies inside it."""
    base = (data_dir or paths.data_dir()).resolve()
    resolved = Path(path).resolve()
    if not resolved.is_file():
        raise DecisionLogError(f"artefact file {path} does not exist")
    try:
        stored = resolved.relative_to(base).as_posix()
    except ValueError:
        stored = str(resolved)
    return {"path": stored, "sha384": sha384_file(resolved)}


def resolve_artefact_path(stored: str, data_dir: Path) -> Path:
    candidate = Path(stored)
    return candidate if candidate.is_absolute() else data_dir / candidate


# ---- checkpoint ---------------------------------------------------------------------------------------
CHECKPOINT_KEYS = frozenset(
    {"log", "installation_id", "deployment_id", "count", "entry", "head", "signatures"}
)
LEGACY_CHECKPOINT_KEYS = frozenset({"log", "count", "head", "signature"})


def entry_digest(entry: Mapping[str, Any]) -> str:
    return "sha384:" + sha384_bytes(canonical_bytes(unsigned_entry(entry)))


def checkpoint_payload(entry: Mapping[str, Any], log_name: str, context: Mapping[str, str]) -> dict[str, Any]:
    """What the signers co-sign for the checkpoint after `entry`: fixed before any signature exists, so the
    console's signers (one at a time) sign it with the entry."""
    return {"log": log_name, "count": entry["seq"], "entry": entry_digest(entry), **_context(context)}


def checkpoint_signing_input(entry: Mapping[str, Any], log_name: str, context: Mapping[str, str]) -> bytes:
    return signing_input(DOMAIN_CHECKPOINT, checkpoint_payload(entry, log_name, context))


def sign_checkpoint(
    entry: Mapping[str, Any],
    log_name: str,
    signers: Mapping[str, Ed25519Signer],
    *,
    context: Mapping[str, str],
) -> dict[str, str]:
    message = checkpoint_signing_input(entry, log_name, context)
    return {role: signer.sign_bytes(message) for role, signer in signers.items()}


def checkpoint_document(
    signed: Mapping[str, Any], log_name: str, context: Mapping[str, str], signatures: Mapping[str, str]
) -> dict[str, Any]:
    return {
        **checkpoint_payload(signed, log_name, context),
        "head": line_hash(canonical_bytes(dict(signed))),
        "signatures": dict(signatures),
    }


def pending_checkpoint_path(log_path: Path) -> Path:
    return log_path.with_name(log_path.stem + ".checkpoint.pending.json")


def read_checkpoint(log_path: Path, path: Path | None = None) -> dict[str, Any] | None:
    """The checkpoint document (structure checked, signatures not), or None when there is none. A legacy
    HMAC-sealed checkpoint is returned as is; the verifier refuses it."""
    path = path or paths.checkpoint_path(log_path)
    if not path.exists():
        return None
    doc = strict_loads(read_regular_file(path, max_bytes=MAX_JSON_FILE, what="checkpoint"))
    if isinstance(doc, dict) and set(doc) == LEGACY_CHECKPOINT_KEYS:
        return doc
    if (
        not isinstance(doc, dict)
        or set(doc) != CHECKPOINT_KEYS
        or type(doc["count"]) is not int
        or not all(isinstance(doc[k], str) for k in CHECKPOINT_KEYS - {"count", "signatures"})
        or not isinstance(doc["signatures"], dict)
        or not all(isinstance(v, str) for v in doc["signatures"].values())
    ):
        raise StrictJSONError("checkpoint has an unexpected structure")
    return doc
