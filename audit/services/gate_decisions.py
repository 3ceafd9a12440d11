"""Closing a gate from the console: export the signed checklists, propose the decision entry when nothing is
missing, collect the owner's and compliance's signatures, append, then run the strict verifier."""

import json
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from audit.authorization import authorize
from audit.errors import Conflict
from audit.models import Checklist, DecisionProposal, Deployment, Stage
from audit.roles import roles_of
from audit.runbooks.model import checklist as checklist_definition
from audit.runbooks.pdf import render_checklist_pdf
from audit.selectors import checklist_complete, current_attachments, current_checklist, gate_checklist_ids
from audit.trust import paths as trust_paths
from audit.trust.artefact_archive import ArchiveError, archive_artefacts, discard_archive
from audit.trust.decision_log import append_signed_entry, prepare_entry
from audit.trust.decision_rules import (
    DEFAULT_RUNTIME_FLAGS,
    STATUS_RULES,
    DecisionLogError,
    entry_signing_input,
    sign_checkpoint,
    signing_context,
)
from audit.trust.evidence import entry_artefact_verdicts
from audit.trust.fsutil import atomic_write_bytes
from audit.trust.gates import GATES, proposal_missing
from audit.trust.hashing import sha384_bytes
from audit.trust.keyring import GROUP_TO_SIGNER_ROLE, KeyRing, KeyRingError, format_time

from .checklists import SignatureRefused, reauthenticate
from .decisions import decision_log_reconcile
from .trail import audit_event_record

SIGNED_CHECKLIST_SCHEMA = "oem/signed-checklist/v1"
STAGE_AFTER_GATE = {"demo_exit": Stage.PAPER, "live_go": Stage.LIVE}


def checklist_document(checklist: Checklist) -> dict:
    definition = checklist_definition(checklist.checklist_id)
    attachments = current_attachments(checklist)
    signatures = list(checklist.signatures.select_related("user"))
    from audit.evidence import trust_context

    return {
        "schema": SIGNED_CHECKLIST_SCHEMA,
        **trust_context(checklist.deployment),
        "deployment": checklist.deployment.name,
        "deployment_pk": checklist.deployment.pk,
        "gate": checklist.gate or None,
        "runbook": checklist.runbook_id,
        "checklist": checklist.checklist_id,
        "version": checklist.version,
        "steps": [
            {
                "id": step.id,
                "step": step.step,
                "responsible": step.responsible,
                "acceptance": step.acceptance,
                "artefacts": [
                    {
                        "name": a.name,
                        "path": a.path or None,
                        "sha384": a.sha384 or None,
                        "value": a.value or None,
                    }
                    for (step_id, _), a in sorted(attachments.items())
                    if step_id == step.id
                ],
                "signatures": [
                    {
                        "username": s.user.get_username(),
                        "printed_name": s.printed_name,
                        "role": s.role,
                        "meaning": s.meaning,
                        "reason": s.reason,
                        "signed_at": format_time(s.signed_at),
                        "kid": s.kid,
                        "signature": s.signature,
                        "void": {"at": format_time(s.voided_at), "reason": s.void_reason}
                        if s.voided_at
                        else None,
                    }
                    for s in signatures
                    if s.step_id == step.id
                ],
            }
            for step in definition.steps
        ],
        "exported_at": format_time(timezone.now()),
    }


def checklist_export(*, actor, checklist: Checklist) -> Checklist:
    """Write the signed checklist (JSON, the gate artefact) and its PDF beside it under the evidence dir.
    The roles that work on checklists export them (the `checklist.export` rule); auditors and operators
    change nothing."""
    authorize(actor, "checklist.export", checklist=checklist)
    if not checklist_complete(checklist):
        raise Conflict("every step must be signed before the checklist can be exported")
    document = checklist_document(checklist)
    data = json.dumps(document, sort_keys=True, indent=1, ensure_ascii=True).encode() + b"\n"
    relative = (
        Path("audit") / "artefacts" / (checklist.gate or "none") / f"checklist_{checklist.checklist_id}.json"
    )
    target = checklist.deployment.evidence_dir / relative
    atomic_write_bytes(target, data)
    atomic_write_bytes(
        target.with_suffix(".pdf"), render_checklist_pdf({**document, "sha384": sha384_bytes(data)})
    )
    with transaction.atomic():
        Checklist.objects.filter(pk=checklist.pk).update(
            exported_path=str(relative), exported_sha384=sha384_bytes(data)
        )
        audit_event_record(
            action="checklist.export",
            actor=actor,
            deployment=checklist.deployment,
            object_type="checklist",
            object_id=checklist.pk,
            detail={"path": str(relative), "sha384": sha384_bytes(data)},
        )
    checklist.refresh_from_db()
    return checklist


def gate_artefacts(deployment: Deployment, gate: str, checklists: dict | None = None) -> dict:
    """The artefacts a decision for this gate would record, gathered from the signed checklists.
    `checklists`: {checklist id: (instance or None, complete)} already read by the caller."""
    names = {a.name: a.file for a in GATES[gate].artefacts}
    artefacts: dict = {}
    for checklist_id in gate_checklist_ids(gate):
        if checklists is not None:
            checklist, complete = checklists[checklist_id]
        else:
            checklist = current_checklist(deployment, checklist_id)
            complete = checklist is not None and checklist_complete(checklist)
        if checklist is None:
            continue
        for (_, name), attachment in current_attachments(checklist).items():
            if name in names and complete:
                if attachment.is_file:
                    artefacts[name] = {"path": attachment.path, "sha384": attachment.sha384}
                else:
                    artefacts[name] = attachment.value
        if checklist_id in GATES[gate].checklists and checklist.exported_path:
            artefacts[f"checklist_{checklist_id}"] = {
                "path": checklist.exported_path,
                "sha384": checklist.exported_sha384,
            }
    return artefacts


def gate_evidence_verdicts(deployment: Deployment, gate: str, artefacts: dict | None = None):
    """Each gathered artefact checked by its kind's verifier: the verdicts the gate page shows, and the
    same checks the strict verifier repeats when the entry is appended."""
    definition = GATES[gate]
    try:
        keyring = KeyRing.load(settings.OEM_DATA_DIR)
    except KeyRingError:
        keyring = None
    entry = {
        "status": definition.status,
        "artefacts": gate_artefacts(deployment, gate) if artefacts is None else artefacts,
    }
    return entry_artefact_verdicts(
        entry, log_name=definition.log, data_dir=deployment.evidence_dir, keyring=keyring
    )


def decision_missing(
    deployment: Deployment, gate: str, *, artefacts: dict | None = None, verdicts: list | None = None
) -> list[str]:
    """Everything that stops a decision for `gate` now; the gate page passes what it has already read."""
    from audit.evidence import deployment_evidence

    state = deployment_evidence(deployment)
    artefacts = gate_artefacts(deployment, gate) if artefacts is None else artefacts
    missing = proposal_missing(gate, artefacts, state.report)
    if verdicts is None:
        verdicts = gate_evidence_verdicts(deployment, gate, artefacts)
    for verdict in verdicts:
        missing.extend(f"artefact {verdict.name} ({verdict.kind}): {p}" for p in verdict.problems)
    config_hash = artefacts.get("config_hash")
    if state.config_sha384 and config_hash and config_hash != f"sha384:{state.config_sha384}":
        missing.append("the recorded config_hash is not the hash of the current config/core.yaml")
    return missing


def decision_propose(*, actor, deployment: Deployment, gate: str) -> DecisionProposal:
    """Propose the gate's decision. Who may propose is decided first (the `gate.propose` rule): that refusal
    writes nothing. A gate that cannot close yet is refused with what is missing, and that is audited."""
    authorize(actor, "gate.propose", deployment=deployment)
    missing = decision_missing(deployment, gate)
    if missing:
        audit_event_record(
            action="gate.propose",
            actor=actor,
            outcome="denied",
            deployment=deployment,
            object_type="gate",
            object_id=gate,
            detail={"missing": missing[:20]},
        )
        raise Conflict("the gate cannot be closed yet: " + "; ".join(missing))
    definition = GATES[gate]
    flags = {**DEFAULT_RUNTIME_FLAGS, **STATUS_RULES[definition.status].runtime_flags}
    keyring = KeyRing.load(settings.OEM_DATA_DIR)
    created = None
    try:  # the entry records archived copies, so later work on the files cannot void the decision
        artefacts, created = archive_artefacts(
            gate_artefacts(deployment, gate), gate=gate, data_dir=deployment.evidence_dir
        )
        entry = prepare_entry(
            trust_paths.decision_log_path(definition.log, deployment.evidence_dir),
            status=definition.status,
            artefacts=artefacts,
            runtime_flags=flags,
            keyring=keyring,
            data_dir=deployment.evidence_dir,
        )
    except (ArchiveError, DecisionLogError) as exc:
        discard_archive(created)
        raise Conflict(str(exc)) from None
    with transaction.atomic():
        DecisionProposal.objects.filter(
            deployment=deployment, gate=gate, status=DecisionProposal.Status.OPEN
        ).update(
            status=DecisionProposal.Status.STALE,
            closed_at=timezone.now(),
            note="superseded by a newer proposal",
        )
        proposal = DecisionProposal.objects.create(
            deployment=deployment, gate=gate, log=definition.log, entry=entry, created_by=actor
        )
        audit_event_record(
            action="gate.propose",
            actor=actor,
            deployment=deployment,
            object_type="decision_proposal",
            object_id=proposal.pk,
            detail={"gate": gate, "seq": entry["seq"]},
        )
    return proposal


@sensitive_variables("password")
def decision_sign(*, actor, proposal: DecisionProposal, password: str, request=None) -> DecisionProposal:
    """Add the actor's signature; the last required signature appends the entry and runs the verifier.
    Someone with none of the required signer roles is refused first (the `gate.sign` rule), before anything
    is written (no event); every later refusal is audited."""
    authorize(actor, "gate.sign", proposal=proposal)
    deployment = proposal.deployment
    required = STATUS_RULES[proposal.entry["status"]].signer_roles
    candidates = [GROUP_TO_SIGNER_ROLE[g] for g in roles_of(actor) if g in GROUP_TO_SIGNER_ROLE]

    def refuse(message: str):
        audit_event_record(
            action="gate.sign_refused",
            actor=actor,
            outcome="denied",
            deployment=deployment,
            object_type="decision_proposal",
            object_id=proposal.pk,
            detail={"reason": message},
        )
        return SignatureRefused(message)

    if proposal.status != DecisionProposal.Status.OPEN:
        raise refuse(f"this proposal is {proposal.status}; propose the decision again")
    open_roles = [r for r in required if r in candidates and r not in proposal.signatures]
    if actor.get_username() in proposal.signers.values():
        raise refuse("two-person rule: you already signed this decision")
    if not open_roles:
        raise refuse(
            f"this decision is signed by {' and '.join(required)}; your roles cannot add a signature"
        )
    role = open_roles[0]
    reauthenticate(user=actor, password=password, request=request, refuse=refuse)
    keyring = KeyRing.load(settings.OEM_DATA_DIR)
    try:
        signer = keyring.signer_for(actor.get_username(), password, role=role)
    except KeyRingError as exc:
        raise refuse(f"no usable signing key: {exc}") from None
    context = signing_context(keyring, deployment.evidence_dir)
    signature = signer.sign_bytes(entry_signing_input(proposal.entry, proposal.log, role, context=context))
    # The checkpoint after this entry is co-signed in the same ceremony, so no box secret can re-seal it.
    checkpoint_signature = sign_checkpoint(proposal.entry, proposal.log, {role: signer}, context=context)[
        role
    ]
    with transaction.atomic():
        locked = DecisionProposal.objects.select_for_update().get(pk=proposal.pk)
        if locked.status != DecisionProposal.Status.OPEN or role in locked.signatures:
            raise refuse("someone signed this role first; reload the page")
        locked.signatures = {
            **locked.signatures,
            role: signature,
            f"{CHECKPOINT_PREFIX}{role}": checkpoint_signature,
        }
        locked.signers = {**locked.signers, role: actor.get_username()}
        locked.save(update_fields=["signatures", "signers"])
        audit_event_record(
            action="gate.sign",
            actor=actor,
            deployment=deployment,
            object_type="decision_proposal",
            object_id=proposal.pk,
            detail={"role": role, "kid": signer.kid, "gate": proposal.gate},
        )
    proposal.refresh_from_db()
    if all(r in proposal.signatures for r in required):
        _append(proposal, keyring, actor)
    return proposal


# DecisionProposal.signatures holds each role's entry signature under the role and its checkpoint
# co-signature under "checkpoint:<role>".
CHECKPOINT_PREFIX = "checkpoint:"


def split_signatures(signatures: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    entry = {k: v for k, v in signatures.items() if not k.startswith(CHECKPOINT_PREFIX)}
    checkpoint = {
        k.removeprefix(CHECKPOINT_PREFIX): v for k, v in signatures.items() if k.startswith(CHECKPOINT_PREFIX)
    }
    return entry, checkpoint


def _append(proposal: DecisionProposal, keyring: KeyRing, actor) -> None:
    from audit.evidence import deployment_evidence

    deployment = proposal.deployment
    log_path = trust_paths.decision_log_path(proposal.log, deployment.evidence_dir)
    try:
        entry_signatures, checkpoint_signatures = split_signatures(proposal.signatures)
        append_signed_entry(
            log_path,
            {**proposal.entry, "signatures": entry_signatures},
            keyring=keyring,
            data_dir=deployment.evidence_dir,
            checkpoint_signatures=checkpoint_signatures,
        )
    except DecisionLogError as exc:
        DecisionProposal.objects.filter(pk=proposal.pk).update(
            status=DecisionProposal.Status.STALE, closed_at=timezone.now(), note=str(exc)[:300]
        )
        audit_event_record(
            action="gate.decision",
            actor=actor,
            outcome="error",
            deployment=deployment,
            object_type="decision_proposal",
            object_id=proposal.pk,
            detail={"error": str(exc)[:300]},
        )
        raise Conflict(f"the decision was not appended: {exc}") from None
    state = deployment_evidence(deployment)
    passed = state.gates[proposal.gate].passed
    with transaction.atomic():
        DecisionProposal.objects.filter(pk=proposal.pk).update(
            status=DecisionProposal.Status.APPENDED, closed_at=timezone.now()
        )
        new_stage = STAGE_AFTER_GATE.get(proposal.gate)
        if passed and new_stage:
            Deployment.objects.filter(pk=deployment.pk).update(stage=new_stage)
        audit_event_record(
            action="gate.decision",
            actor=actor,
            outcome="ok" if state.report.ok else "error",
            deployment=deployment,
            object_type="gate",
            object_id=proposal.gate,
            detail={
                "status": proposal.entry["status"],
                "seq": proposal.entry["seq"],
                "verified": state.report.ok,
                "gate_passed": passed,
            },
        )
    decision_log_reconcile(deployment=deployment)
