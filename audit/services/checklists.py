"""Checklists signed in the console: attachments hashed on arrival, electronic signatures bound to the exact
step, checklist version and artefact hashes, the two-person rule, and voiding when evidence changes."""

import uuid
from pathlib import Path

from django.conf import settings
from django.contrib.auth import authenticate
from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from audit.authorization import authorize
from audit.errors import Conflict, Invalid, NotAllowed, Refused
from audit.models import Checklist, Deployment, SignatureMeaning, StepAttachment, StepSignature
from audit.runbooks.model import checklist as checklist_definition
from audit.runbooks.model import version as checklist_version
from audit.selectors import current_attachments, gate_signers
from audit.trust.canonical import DOMAIN_ESIG, signing_input
from audit.trust.hashing import sha384_bytes
from audit.trust.keyring import GROUP_TO_SIGNER_ROLE, KeyRing, KeyRingError, format_time
from audit.uploads import discard_upload, store_upload

from .signing_lockout import signing_failure_record, signing_locked, signing_success_record
from .trail import audit_event_record

ESIG_SCHEMA = "oem/esig/v1"
# What is signed must be exactly what was entered: longer text is refused, never cut to fit the column.
MAX_TEXT = 500


class SignatureRefused(NotAllowed):
    """A signature that will not be made (wrong password, signing locked, two-person rule, step already
    signed, evidence missing or changed); 403, and audited by the service. Who may sign at all is the
    `checklist.sign` / `gate.sign` rule's answer, a plain `NotAllowed`."""


def printed_name(user) -> str:
    return user.get_full_name().strip() or user.get_username()


def checklist_open(*, actor, deployment: Deployment, checklist_id: str) -> Checklist:
    """The deployment's instance of the current definition of a checklist (created on first use, audited)."""
    authorize(actor, "checklist.open", checklist_id=checklist_id, deployment=deployment)
    return _checklist_open(actor=actor, deployment=deployment, checklist_id=checklist_id)


@transaction.atomic
def _checklist_open(*, actor, deployment: Deployment, checklist_id: str) -> Checklist:
    definition = checklist_definition(checklist_id)
    instance, created = Checklist.objects.get_or_create(
        deployment=deployment,
        checklist_id=checklist_id,
        version=checklist_version(definition),
        defaults={"runbook_id": definition.runbook, "gate": definition.gate or ""},
    )
    if created:
        audit_event_record(
            action="checklist.open",
            actor=actor,
            deployment=deployment,
            object_type="checklist",
            object_id=instance.pk,
            detail={"checklist": checklist_id, "version": instance.version},
        )
    return instance


def _store_upload(deployment: Deployment, checklist_id: str, name: str, uploaded) -> tuple[str, str, int]:
    """Write the upload under the evidence dir within the cap and quota, hashing as it goes; returns
    (relative path, sha384, size)."""
    relative = (
        Path("audit")
        / "artefacts"
        / checklist_id
        / uuid.uuid4().hex
        / f"{name}{Path(uploaded.name).suffix[:16]}"
    )
    digest, size = store_upload(uploaded, deployment.evidence_dir / relative, deployment=deployment)
    return str(relative), digest, size


def checklist_attach(
    *,
    actor,
    deployment: Deployment,
    checklist_id: str,
    step_id: str,
    name: str,
    uploaded=None,
    value: str = "",
) -> StepAttachment:
    """Attach a file (hashed on arrival, within the upload cap and the deployment's quota) or a value to a
    step, opening the checklist on first use. Who may attach is decided first, then the artefact is checked,
    so a refusal leaves no checklist row, no event and no file. Replacing evidence of a signed step voids
    its signatures, visibly, and so re-opens the gate."""
    authorize(actor, "checklist.attach", checklist_id=checklist_id, step_id=step_id, deployment=deployment)
    step = checklist_definition(checklist_id).step(step_id)
    spec = next((a for a in step.artefacts if a.name == name), None)
    if spec is None:
        raise Invalid(f"step {step_id} has no artefact named {name}")
    if spec.hash and uploaded is None:
        raise Invalid(f"{name} is a file artefact: upload the file")
    if not spec.hash and not value.strip():
        raise Invalid(f"{name} needs a value")
    if len(value.strip()) > MAX_TEXT:
        raise Invalid(f"{name} is longer than {MAX_TEXT} characters")
    # Within the cap and the quota before anything is written: an oversize upload leaves no row either.
    stored = _store_upload(deployment, checklist_id, name, uploaded) if uploaded is not None else None
    try:
        with transaction.atomic():
            checklist = _checklist_open(actor=actor, deployment=deployment, checklist_id=checklist_id)
            now = timezone.now()
            previous = checklist.attachments.filter(step_id=step_id, name=name, superseded_at__isnull=True)
            replaced = list(previous.values_list("sha384", "value"))
            previous.update(superseded_at=now)
            attachment = StepAttachment.objects.create(
                checklist=checklist,
                step_id=step_id,
                name=name,
                uploaded_by=actor,
                path=stored[0] if stored else "",
                sha384=stored[1] if stored else "",
                size=stored[2] if stored else None,
                value="" if stored else value.strip(),
                original_name=(uploaded.name[:255] if uploaded is not None else ""),
            )
            audit_event_record(
                action="checklist.attach",
                actor=actor,
                deployment=deployment,
                object_type="checklist",
                object_id=checklist.pk,
                detail={
                    "step": step_id,
                    "artefact": name,
                    "sha384": attachment.sha384,
                    "value": attachment.value,
                    "replaced": bool(replaced),
                },
            )
            if replaced:
                _void_step(checklist, step_id, actor, f"artefact {name} replaced after signing")
            _void_exports(checklist)
    except BaseException:
        if stored:
            discard_upload(deployment.evidence_dir / stored[0])
        raise
    return attachment


def _void_step(checklist: Checklist, step_id: str, user, reason: str) -> None:
    active = checklist.signatures.filter(step_id=step_id, voided_at__isnull=True)
    for signature in active:
        audit_event_record(
            action="esign.void",
            actor=user,
            outcome="void",
            deployment=checklist.deployment,
            object_type="signature",
            object_id=signature.pk,
            detail={"step": step_id, "signer": signature.user.get_username(), "reason": reason},
        )
    active.update(voided_at=timezone.now(), void_reason=reason)


def _void_exports(checklist: Checklist) -> None:
    if checklist.exported_path:
        Checklist.objects.filter(pk=checklist.pk).update(exported_path="", exported_sha384="")
        checklist.exported_path = checklist.exported_sha384 = ""


def esign_payload(
    *, checklist: Checklist, step, attachments, user, role: str, meaning: str, reason: str, signed_at
) -> dict:
    from audit.evidence import trust_context

    deployment = checklist.deployment
    return {
        "schema": ESIG_SCHEMA,
        # The signature holds only inside this deployment of this installation (copied elsewhere: refused).
        **trust_context(deployment),
        "deployment": {"id": deployment.pk, "name": deployment.name},
        "gate": checklist.gate or None,
        "runbook": checklist.runbook_id,
        "checklist": checklist.checklist_id,
        "version": checklist.version,
        "step": {"id": step.id, "text": step.step, "acceptance": step.acceptance},
        "artefacts": [
            {"name": a.name, "sha384": a.sha384 or None, "path": a.path or None, "value": a.value or None}
            for a in sorted(attachments, key=lambda a: a.name)
        ],
        "signer": {"username": user.get_username(), "printed_name": printed_name(user), "role": role},
        "meaning": meaning,
        "reason": reason,
        "signed_at": format_time(signed_at),
    }


@sensitive_variables("password")
def reauthenticate(*, user, password: str, request, refuse) -> None:
    """The signer re-enters their password. Failures count towards both the login lockout (axes, through
    `authenticate`) and the signing lockout, which only an admin lifts."""
    if signing_locked(user=user):
        raise refuse("signing is locked after repeated wrong passwords: an admin must unlock it")
    if authenticate(request=request, username=user.get_username(), password=password) is None:
        locked = signing_failure_record(user=user)
        raise refuse("wrong password: nothing was signed" + ("; signing is now locked" if locked else ""))
    signing_success_record(user=user)


@sensitive_variables("password")
def step_sign(
    *,
    deployment: Deployment,
    checklist_id: str,
    step_id: str,
    actor,
    password: str,
    meaning: str,
    reason: str = "",
    request=None,
    keyring: KeyRing | None = None,
) -> StepSignature:
    """Sign one step. Who may sign is decided first (the `checklist.sign` rule; an unknown checklist or step,
    or a deployment the actor cannot see, is `NotFound`) and that refusal writes nothing at all, not even
    the checklist's row; every later refusal is audited and writes nothing else."""
    authorize(actor, "checklist.sign", checklist_id=checklist_id, step_id=step_id, deployment=deployment)
    definition = checklist_definition(checklist_id)
    step = definition.step(step_id)
    role = step.responsible
    checklist = _checklist_open(actor=actor, deployment=deployment, checklist_id=checklist_id)

    def refuse(message: str, error: type[Refused] = SignatureRefused, **detail) -> Refused:
        audit_event_record(
            action="esign.refused",
            actor=actor,
            outcome="denied",
            deployment=checklist.deployment,
            object_type="checklist",
            object_id=checklist.pk,
            detail={"step": step_id, "reason": message, **detail},
        )
        return error(message)

    if checklist.version != checklist_version(definition):
        raise refuse("this checklist's definition changed; open the current version to sign", Conflict)
    if meaning not in SignatureMeaning.values:
        raise refuse("choose what your signature means: performed, reviewed or approved", Invalid)
    if len(reason.strip()) > MAX_TEXT:
        raise refuse(f"the reason is longer than {MAX_TEXT} characters", Invalid)
    other_roles = gate_signers(checklist.deployment, checklist.gate).get(actor.pk, set()) - {role}
    if checklist.gate and other_roles:
        raise refuse(f"two-person rule: you already signed this gate as {', '.join(sorted(other_roles))}")
    if checklist.signatures.filter(step_id=step_id, voided_at__isnull=True).exists():
        raise refuse("this step is already signed")
    attachments = current_attachments(checklist, step_id)
    missing = [a.name for a in step.artefacts if (step_id, a.name) not in attachments]
    if missing:
        raise refuse(f"attach {', '.join(missing)} before signing")
    reauthenticate(user=actor, password=password, request=request, refuse=refuse)
    keyring = keyring or KeyRing.load(settings.OEM_DATA_DIR)
    try:
        signer = keyring.signer_for(actor.get_username(), password)
    except KeyRingError as exc:
        raise refuse(f"no usable signing key: {exc}") from None
    signed_at = timezone.now()
    payload = esign_payload(
        checklist=checklist,
        step=step,
        attachments=attachments.values(),
        user=actor,
        role=role,
        meaning=meaning,
        reason=reason.strip(),
        signed_at=signed_at,
    )
    signature = signer.sign(DOMAIN_ESIG, payload)
    with transaction.atomic():
        # Re-check under the transaction: a concurrent signature or attachment wins, this one is refused.
        if checklist.signatures.select_for_update().filter(step_id=step_id, voided_at__isnull=True).exists():
            raise refuse("this step is already signed")
        if {(a.name, a.sha384, a.value) for a in current_attachments(checklist, step_id).values()} != {
            (a.name, a.sha384, a.value) for a in attachments.values()
        }:
            raise refuse("an artefact changed while you were signing; review and sign again")
        row = StepSignature.objects.create(
            checklist=checklist,
            step_id=step_id,
            user=actor,
            role=role,
            printed_name=payload["signer"]["printed_name"],
            meaning=meaning,
            reason=payload["reason"],
            signed_at=signed_at,
            payload=payload,
            kid=signer.kid,
            signature=signature,
        )
        audit_event_record(
            action="esign.sign",
            actor=actor,
            deployment=checklist.deployment,
            object_type="signature",
            object_id=row.pk,
            detail={
                "checklist": checklist.checklist_id,
                "step": step_id,
                "role": role,
                "meaning": meaning,
                "kid": signer.kid,
                "payload_sha384": sha384_bytes(signing_input(DOMAIN_ESIG, payload)),
            },
        )
        _void_exports(checklist)
    return row


def signer_role_of(console_role: str) -> str | None:
    return GROUP_TO_SIGNER_ROLE.get(console_role)
