"""Verifiers of the evidence kinds the trust core itself produces or can read without a producer package:
config_hash, config_signature, bundle_commit, bundle_fingerprint, mtls_fingerprint, signed_checklist,
ci_run and artefact_index. Registered at import (audit.trust.evidence imports this module by name).

Each returns one-line problems; [] = the artefact proves what its name says.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from audit.trust.artefact_archive import INDEX_SCHEMA
from audit.trust.canonical import (
    DOMAIN_CONFIG,
    DOMAIN_ESIG,
    StrictJSONError,
    canonical_bytes,
    signing_input,
    strict_loads,
)
from audit.trust.evidence import (
    MAX_ARTEFACT_BYTES,
    ArtefactInput,
    EvidenceContext,
    read_capped,
    register_verifier,
    resolve_inside,
)
from audit.trust.fsutil import read_regular_file
from audit.trust.hashing import sha384_bytes
from audit.trust.keyring import GROUP_TO_SIGNER_ROLE, PURPOSE_SIGNER, KeyRingError, parse_time
from audit.trust.signatures import SignatureError

SHA384_REF = re.compile(r"sha384:[0-9a-f]{96}")
HEX96 = re.compile(r"[0-9a-f]{96}")
COMMIT = re.compile(r"[0-9a-f]{40}")
UTC_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?Z")
CI_RUN_SCHEMA = "oem/ci-run/v1"
ESIG_SCHEMA = "oem/esig/v1"
SIGNED_CHECKLIST_SCHEMA = "oem/signed-checklist/v1"


def json_document(data: bytes | None, what: str) -> tuple[Any, list[str]]:
    """Strictly parsed JSON, or a one-line problem (a truncated file fails here)."""
    if data is None:
        return None, [f"{what} is missing"]
    try:
        return strict_loads(data), []
    except StrictJSONError as exc:
        return None, [f"{what} is not strict JSON: {exc}"]


# ---- config ------------------------------------------------------------------------------------------
def signed_config(data: bytes | None, ctx: EvidenceContext) -> tuple[str | None, list[str]]:
    """(sha384 hex of the config the .sig file signs, problems) - the HMAC must verify with the key ring."""
    doc, problems = json_document(data, "config signature file")
    if problems:
        return None, problems
    if not isinstance(doc, dict) or set(doc) != {"file", "sha384", "signature"}:
        return None, ["not a config signature file (expected {file, sha384, signature})"]
    if (
        not isinstance(doc["file"], str)
        or not isinstance(doc["sha384"], str)
        or not HEX96.fullmatch(doc["sha384"])
    ):
        return None, ["config signature file has a malformed file name or sha384"]
    if ctx.keyring is None:
        return None, ["no key ring to verify the config signature with"]
    try:
        ctx.keyring.verify(
            doc["signature"],
            signing_input(DOMAIN_CONFIG, {"file": doc["file"], "sha384": doc["sha384"]}),
            purpose="config",
        )
    except (SignatureError, KeyRingError) as exc:
        return None, [f"config signature does not verify: {exc}"]
    return doc["sha384"], []


def verify_config_signature(artefact: ArtefactInput, ctx: EvidenceContext) -> list[str]:
    signed, problems = signed_config(artefact.data, ctx)
    if problems:
        return problems
    if ctx.config_sha384 is None:
        return ["the entry records no config_hash for this signature to prove"]
    if signed != ctx.config_sha384:
        return [
            f"signs config sha384:{signed[:16]}..., "
            f"not the entry's config_hash sha384:{ctx.config_sha384[:16]}..."
        ]
    doc = strict_loads(artefact.data)
    beside = artefact.path.with_name(doc["file"]) if artefact.path else None
    if beside is not None and beside.is_file():
        copy = read_capped(beside)
        if copy is None or sha384_bytes(copy) != signed:
            return [f"{doc['file']} beside the signature is not the signed config"]
    return []


def verify_config_hash(artefact: ArtefactInput, ctx: EvidenceContext) -> list[str]:
    if not isinstance(artefact.value, str) or not SHA384_REF.fullmatch(artefact.value):
        return ["must be sha384:<96 hex>"]
    sig_path = ctx.file_of("config_signature")
    if sig_path is None:
        return ["no config_signature file artefact proves this hash"]
    signed, problems = signed_config(read_capped(sig_path), ctx)
    if problems:
        return [f"config_signature: {p}" for p in problems]
    if artefact.value != f"sha384:{signed}":
        return [f"is not the hash of the config whose signature verifies (sha384:{signed[:16]}...)"]
    return _config_unchanged_since_prerequisite(artefact.value, sig_path, ctx)


def _config_unchanged_since_prerequisite(value: str, sig_path: Path, ctx: EvidenceContext) -> list[str]:
    from audit.trust.gates import GATES

    gate = GATES.get(ctx.gate or "")
    if gate is None or not gate.compare_config_with_prerequisite or not ctx.earlier:
        return []
    before = ctx.earlier[-1]
    previous = before.get("artefacts", {}).get("config_hash")
    if previous == value:
        return []
    changed = config_difference(before, sig_path, ctx.data_dir)
    return [
        f"differs from the {before.get('status')} entry's config_hash {str(previous)[:23]}...; "
        f"changed: {changed}"
    ]


def config_difference(before: dict, sig_path: Path, data_dir: Path) -> str:
    """Dotted keys that differ between the archived configs of two entries (both beside their .sig)."""
    from audit.trust.core_config import ConfigError, parse_yaml

    other = before.get("artefacts", {}).get("config_signature")
    if not isinstance(other, dict):
        return "(the earlier entry has no archived config)"
    other_sig = resolve_inside(other["path"], data_dir)
    configs = []
    for path in (other_sig, sig_path):
        try:
            doc = strict_loads(read_regular_file(path, max_bytes=MAX_ARTEFACT_BYTES, what="config signature"))
            beside = path.with_name(doc["file"])
            configs.append(parse_yaml(read_regular_file(beside, max_bytes=MAX_ARTEFACT_BYTES, what="config")))
        except (OSError, ValueError, ConfigError, KeyError, TypeError, AttributeError):
            return "(an archived config copy is not available to compare)"
    keys = sorted(_diff(configs[0], configs[1], ""))
    return (
        ", ".join(keys[:10]) + (f" (+{len(keys) - 10} more)" if len(keys) > 10 else "") or "(formatting only)"
    )


def _diff(a: Any, b: Any, where: str) -> set[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out: set[str] = set()
        for key in set(a) | set(b):
            out |= _diff(a.get(key), b.get(key), f"{where}.{key}" if where else str(key))
        return out
    return set() if a == b else {where or "(root)"}


# ---- values bound to another artefact ----------------------------------------------------------------
def _fingerprint_of(other: str):
    def verify(artefact: ArtefactInput, ctx: EvidenceContext) -> list[str]:
        if not isinstance(artefact.value, str) or not SHA384_REF.fullmatch(artefact.value):
            return ["must be sha384:<96 hex>"]
        path = ctx.file_of(other)
        if path is None:
            return [f"no {other} file artefact to take the fingerprint of"]
        data = read_capped(path)
        if data is None:
            return [f"{other} file is missing"]
        if artefact.value != f"sha384:{sha384_bytes(data)}":
            return [f"is not the SHA-384 of the recorded {other}"]
        return []

    return verify


def bundle_manifest_commit(ctx: EvidenceContext) -> tuple[str | None, list[str]]:
    """The commit named by the entry's bundle manifest (None when the entry records no bundle)."""
    path = ctx.file_of("bundle")
    if path is None:
        return None, []
    doc, problems = json_document(read_capped(path), "bundle manifest")
    if problems:
        return None, problems
    commit = doc.get("commit") if isinstance(doc, dict) else None
    if not isinstance(commit, str) or not COMMIT.fullmatch(commit):
        return None, ["bundle manifest names no commit"]
    return commit, []


def verify_bundle_commit(artefact: ArtefactInput, ctx: EvidenceContext) -> list[str]:
    if not isinstance(artefact.value, str) or not COMMIT.fullmatch(artefact.value):
        return ["must be a 40-character lowercase hex commit"]
    commit, problems = bundle_manifest_commit(ctx)
    if problems:
        return problems
    if commit is not None and commit != artefact.value:
        return [f"is not the bundle manifest's commit {commit[:12]}"]
    return []


# ---- CI run record (docs/schemas/ci_run_v1.json) ------------------------------------------------------
def ci_run_problems(data: bytes | None) -> tuple[dict | None, list[str]]:
    doc, problems = json_document(data, "CI run record")
    if problems:
        return None, problems
    keys = {"schema", "job", "run_id", "commit", "started", "finished", "outputs"}
    if not isinstance(doc, dict) or set(doc) != keys:
        return None, [
            "not a CI run record (expected schema, job, run_id, commit, started, finished, outputs)"
        ]
    if data.rstrip(b"\n") != canonical_bytes(doc):
        return None, ["CI run record is not canonical JSON"]
    if doc["schema"] != CI_RUN_SCHEMA:
        return None, [f"schema must be {CI_RUN_SCHEMA}"]
    for key in ("job", "run_id"):
        if not isinstance(doc[key], str) or not 1 <= len(doc[key]) <= 200 or not doc[key].isprintable():
            return None, [f"{key} must be 1-200 printable characters"]
    if not isinstance(doc["commit"], str) or not COMMIT.fullmatch(doc["commit"]):
        return None, ["commit must be 40 lowercase hex characters"]
    try:
        for key in ("started", "finished"):
            if not isinstance(doc[key], str) or not UTC_TIME.fullmatch(doc[key]):
                raise ValueError(key)
        if parse_time(doc["finished"]) < parse_time(doc["started"]):
            return None, ["finished before it started"]
    except ValueError:
        return None, ["started and finished must be UTC times ending in Z"]
    outputs = doc["outputs"]
    if not isinstance(outputs, list) or not outputs:
        return None, ["outputs must list at least one output"]
    for number, output in enumerate(outputs, 1):
        if (
            not isinstance(output, dict)
            or set(output) != {"name", "path", "sha384"}
            or not all(isinstance(output[k], str) and output[k] for k in ("name", "path"))
            or not isinstance(output["sha384"], str)
            or not SHA384_REF.fullmatch(output["sha384"])
        ):
            return None, [f"output {number} must be {{name, path, sha384: sha384:<96 hex>}}"]
    return doc, []


def verify_ci_run(artefact: ArtefactInput, ctx: EvidenceContext) -> list[str]:
    doc, problems = ci_run_problems(artefact.data)
    if problems:
        return problems
    commit, problems = bundle_manifest_commit(ctx)
    if problems:
        return [f"bundle: {p}" for p in problems]
    if commit is not None and doc["commit"] != commit:
        return [f"commit {doc['commit'][:12]} is not the bundle's commit {commit[:12]}"]
    recorded = ctx.artefact("bundle_commit")
    if isinstance(recorded, str) and recorded and doc["commit"] != recorded:
        return [f"commit {doc['commit'][:12]} is not the recorded bundle_commit {recorded[:12]}"]
    return []


# ---- signed checklist (docs/schemas/signed_checklist_v1.json) -----------------------------------------
def verify_signed_checklist(artefact: ArtefactInput, ctx: EvidenceContext) -> list[str]:
    from audit.runbooks.model import RunbookError, version
    from audit.runbooks.model import checklist as checklist_definition

    doc, problems = json_document(artefact.data, "signed checklist")
    if problems:
        return problems
    if not isinstance(doc, dict) or doc.get("schema") != SIGNED_CHECKLIST_SCHEMA:
        return ["not a signed checklist export (schema oem/signed-checklist/v1)"]
    expected_id = artefact.name.removeprefix("checklist_")
    if doc.get("checklist") != expected_id:
        return [f"is the checklist {str(doc.get('checklist'))[:40]!r}, not {expected_id}"]
    if doc.get("gate") != ctx.gate:
        return [f"was signed for gate {doc.get('gate')}, not {ctx.gate}"]
    if ctx.installation_id is None or ctx.deployment_id is None:
        return ["no installation to check the checklist's signatures against"]
    # The step signatures bind installation_id and deployment_id too; naming them here gives the reason.
    if (doc.get("installation_id"), doc.get("deployment_id")) != (ctx.installation_id, ctx.deployment_id):
        return [
            f"belongs to deployment {str(doc.get('deployment_id'))[:60]!r} of installation "
            f"{str(doc.get('installation_id'))[:60]!r}: "
            "evidence copied from another deployment or installation"
        ]
    try:
        definition = checklist_definition(expected_id)
    except RunbookError as exc:
        return [str(exc)]
    if doc.get("version") != version(definition):
        return ["was signed against another version of the checklist"]
    if not isinstance(doc.get("deployment_pk"), int) or isinstance(doc.get("deployment_pk"), bool):
        return ["the export does not name its console deployment id, so its signatures cannot be checked"]
    steps = {s.get("id"): s for s in doc.get("steps", []) if isinstance(s, dict)}
    for step in definition.steps:
        recorded = steps.get(step.id)
        if recorded is None:
            return [f"step {step.id} is missing"]
        problem = _step_problem(doc, step, recorded, ctx)
        if problem:
            return [f"step {step.id}: {problem}"]
    return []


def _step_problem(doc: dict, step, recorded: dict, ctx: EvidenceContext) -> str | None:
    attachments = recorded.get("artefacts")
    if not isinstance(attachments, list):
        return "artefacts must be a list"
    for spec in step.artefacts:
        if not any(isinstance(a, dict) and a.get("name") == spec.name for a in attachments):
            return f"artefact {spec.name} is not attached"
    for attachment in attachments:
        problem = _attachment_problem(attachment, ctx)
        if problem:
            return problem
    active = [s for s in recorded.get("signatures", []) if isinstance(s, dict) and s.get("void") is None]
    if not active:
        return "not signed"
    for signature in active:
        if signature.get("role") != step.responsible:
            return f"signed as {signature.get('role')}, the step is signed by the {step.responsible} role"
        problem = _esig_problem(doc, step, attachments, signature, ctx)
        if problem:
            return problem
    return None


def _attachment_problem(attachment: Any, ctx: EvidenceContext) -> str | None:
    if not isinstance(attachment, dict) or not isinstance(attachment.get("name"), str):
        return "malformed attachment"
    name = attachment["name"]
    if attachment.get("sha384") is not None:
        path = resolve_inside(str(attachment.get("path")), ctx.data_dir)
        data = read_capped(path) if path is not None else None
        if data is None:
            return f"attachment {name} is not in this deployment's data directory"
        if sha384_bytes(data) != attachment["sha384"]:
            return f"attachment {name} changed since it was signed"
    recorded = ctx.artefact(name)
    if isinstance(recorded, dict) and recorded.get("sha384") != attachment.get("sha384"):
        return f"attachment {name} is not the file the entry records"
    if isinstance(recorded, str) and attachment.get("sha384") is None and recorded != attachment.get("value"):
        return f"attachment {name} is not the value the entry records"
    return None


def _esig_problem(doc: dict, step, attachments: list, signature: dict, ctx: EvidenceContext) -> str | None:
    payload = {
        "schema": ESIG_SCHEMA,
        "installation_id": ctx.installation_id,
        "deployment_id": ctx.deployment_id,
        "deployment": {"id": doc["deployment_pk"], "name": doc.get("deployment")},
        "gate": doc.get("gate"),
        "runbook": doc.get("runbook"),
        "checklist": doc.get("checklist"),
        "version": doc.get("version"),
        "step": {"id": step.id, "text": step.step, "acceptance": step.acceptance},
        "artefacts": [
            {"name": a["name"], "sha384": a.get("sha384"), "path": a.get("path"), "value": a.get("value")}
            for a in sorted(attachments, key=lambda a: a["name"])
        ],
        "signer": {
            "username": signature.get("username"),
            "printed_name": signature.get("printed_name"),
            "role": signature.get("role"),
        },
        "meaning": signature.get("meaning"),
        "reason": signature.get("reason"),
        "signed_at": signature.get("signed_at"),
    }
    if ctx.keyring is None:
        return "no key ring to verify signatures with"
    try:
        at = parse_time(str(signature.get("signed_at")))
        record = ctx.keyring.verify(
            str(signature.get("signature")),
            signing_input(DOMAIN_ESIG, payload),
            purpose=PURPOSE_SIGNER,
            at=at,
        )
    except (SignatureError, KeyRingError, ValueError) as exc:
        return f"signature by {str(signature.get('username'))[:60]} does not verify: {exc}"
    if record.owner != signature.get("username"):
        return f"signed with {record.owner}'s key, not {signature.get('username')}'s"
    signer_role = GROUP_TO_SIGNER_ROLE.get(str(signature.get("role")))
    if signer_role is not None and signer_role not in record.roles:
        return f"{record.owner} does not hold the {signer_role} signer role"
    return None


# ---- archive index ------------------------------------------------------------------------------------
def verify_artefact_index(artefact: ArtefactInput, ctx: EvidenceContext) -> list[str]:
    from audit.trust.gates import declared_kinds

    doc, problems = json_document(artefact.data, "artefact index")
    if problems:
        return problems
    if not isinstance(doc, dict) or set(doc) != {"schema", "gate", "created", "artefacts"}:
        return ["not an artefact index (schema, gate, created, artefacts)"]
    if doc["schema"] != INDEX_SCHEMA or doc["gate"] != ctx.gate:
        return [f"is not the {INDEX_SCHEMA} index of gate {ctx.gate}"]
    rows = doc["artefacts"]
    if not isinstance(rows, list):
        return ["artefacts must be a list"]
    kinds = declared_kinds(str(ctx.entry.get("status")))
    indexed: dict[str, dict] = {}
    folder = artefact.path.parent if artefact.path else None
    for row in rows:
        if not isinstance(row, dict) or set(row) != {"name", "kind", "sha384", "path", "source"}:
            return ["index rows must be {name, kind, sha384, path, source}"]
        indexed[row["name"]] = row
    for name, value in ctx.entry.get("artefacts", {}).items():
        if name == artefact.name or name not in kinds or value is None:
            continue
        row = indexed.get(name)
        if row is None:
            return [f"{name} is not in the index"]
        if row["kind"] != kinds[name]:
            return [f"{name} is indexed as {row['kind']}, declared as {kinds[name]}"]
        if isinstance(value, dict):
            path = resolve_inside(value["path"], ctx.data_dir)
            if row["path"] != value["path"] or row["sha384"] != value["sha384"]:
                return [f"{name}: the entry does not record the archived copy"]
            if folder is None or path is None or folder not in path.parents:
                return [f"{name}: the archived copy is not in the index's folder"]
        elif row["sha384"] != sha384_bytes(value.encode()) or row["path"] is not None:
            return [f"{name}: the indexed value is not the recorded one"]
    extra = sorted(set(indexed) - set(ctx.entry.get("artefacts", {})))
    if extra:
        return [f"the index lists {', '.join(extra)[:80]} that the entry does not record"]
    return []


register_verifier("config_signature", verify_config_signature)
register_verifier("config_hash", verify_config_hash)
register_verifier("bundle_commit", verify_bundle_commit)
register_verifier("bundle_fingerprint", _fingerprint_of("bundle"))
register_verifier("mtls_fingerprint", _fingerprint_of("mtls_bundle"))
register_verifier("ci_run", verify_ci_run)
register_verifier("signed_checklist", verify_signed_checklist)
register_verifier("artefact_index", verify_artefact_index)
