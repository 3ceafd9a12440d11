"""Writes for deployments and the audit trail. Every write records its audit event in the same transaction."""

from datetime import UTC

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from guardian.shortcuts import assign_perm, remove_perm

from .chain import GENESIS_HASH, event_body, event_hash
from .models import AuditChainHead, AuditEvent, Deployment, Stage

User = get_user_model()


def _iso(ts) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@transaction.atomic
def audit_event_record(
    *,
    action: str,
    actor=None,
    outcome: str = "ok",
    object_type: str = "",
    object_id: str | int = "",
    deployment: Deployment | None = None,
    detail: dict | None = None,
) -> AuditEvent:
    """Append one event to the chain. The head row lock serialises writers on every database."""
    head = AuditChainHead.objects.select_for_update().filter(pk=1).first()
    if head is None:  # a flushed database (transactional tests, a fresh restore) restarts the chain
        AuditChainHead.objects.get_or_create(pk=1, defaults={"seq": 0, "head_hash": GENESIS_HASH})
        head = AuditChainHead.objects.select_for_update().get(pk=1)
    now = timezone.now()
    user = actor if isinstance(actor, User) else None
    actor_name = actor.get_username() if user is not None else (actor or "")
    body = event_body(
        seq=head.seq + 1,
        timestamp=_iso(now),
        actor=actor_name,
        action=action,
        outcome=outcome,
        object_type=object_type,
        object_id=str(object_id),
        deployment_id=deployment.pk if deployment else None,
        detail=detail or {},
        prev_hash=head.head_hash,
    )
    digest = event_hash(body)
    event = AuditEvent.objects.create(
        seq=body["seq"],
        timestamp=now,
        actor=actor_name,
        user=user,
        action=action,
        outcome=outcome,
        object_type=object_type,
        object_id=body["object_id"],
        deployment=deployment,
        detail=body["detail"],
        prev_hash=head.head_hash,
        hash=digest,
    )
    AuditChainHead.objects.filter(pk=1).update(seq=body["seq"], head_hash=digest)
    return event


def stored_event_body(event: AuditEvent) -> dict:
    """Rebuild exactly what was hashed, from the stored row."""
    return event_body(
        seq=event.seq,
        timestamp=_iso(event.timestamp),
        actor=event.actor,
        action=event.action,
        outcome=event.outcome,
        object_type=event.object_type,
        object_id=event.object_id,
        deployment_id=event.deployment_id,
        detail=event.detail,
        prev_hash=event.prev_hash,
    )


@transaction.atomic
def deployment_create(
    *, name: str, customer: str, description: str = "", local: bool = False, actor=None
) -> Deployment:
    """`local`: this is the installation the console runs on; its evidence is OEM_DATA_DIR itself, which
    its daemon reads. Other deployments keep theirs under deployments/<id>/."""
    deployment = Deployment.objects.create(
        name=name, customer=customer, description=description, stage=Stage.DEMO
    )
    if not local:
        deployment.evidence_subdir = f"deployments/{deployment.pk}"
        deployment.save(update_fields=["evidence_subdir"])
    audit_event_record(
        action="deployment.create",
        actor=actor,
        object_type="deployment",
        object_id=deployment.pk,
        deployment=deployment,
        detail={"name": name, "customer": customer},
    )
    return deployment


@transaction.atomic
def deployment_assign_user(*, deployment: Deployment, user, actor=None) -> None:
    """Grant one user access to one deployment (object permission, not a global one)."""
    assign_perm("audit.view_deployment", user, deployment)
    audit_event_record(
        action="deployment.assign",
        actor=actor,
        object_type="deployment",
        object_id=deployment.pk,
        deployment=deployment,
        detail={"user": user.get_username()},
    )


@transaction.atomic
def deployment_unassign_user(*, deployment: Deployment, user, actor=None) -> None:
    remove_perm("audit.view_deployment", user, deployment)
    audit_event_record(
        action="deployment.unassign",
        actor=actor,
        object_type="deployment",
        object_id=deployment.pk,
        deployment=deployment,
        detail={"user": user.get_username()},
    )


def signer_key_create(*, user, password: str):
    """A new Ed25519 signer key for `user`, encrypted under the password they just re-entered. The
    signer roles come from the user's groups at this moment (product_owner → owner, …)."""
    from django.conf import settings

    from audit.trust.keyring import KeyRing, roles_from_groups

    if not user.check_password(password):
        audit_event_record(
            action="signing_key.create",
            actor=user,
            outcome="denied",
            object_type="user",
            object_id=user.pk,
            detail={"reason": "wrong password"},
        )
        raise PermissionError("the password does not match this user")
    roles = roles_from_groups(list(user.groups.values_list("name", flat=True)))
    keyring = KeyRing.load(settings.OEM_DATA_DIR)
    record = keyring.create_signer_key(user.get_username(), roles, password)
    audit_event_record(
        action="signing_key.create",
        actor=user,
        object_type="signing_key",
        object_id=record.kid,
        detail={"roles": list(record.roles)},
    )
    return record


@transaction.atomic
def decision_log_reconcile(*, deployment: Deployment) -> list[str]:
    """Make the display mirror equal the verified files; returns every divergence found (the file wins).
    When the logs do not verify, the mirror is left as it was and the problems are returned instead."""
    from audit.evidence import deployment_evidence

    from .models import DecisionEntry

    state = deployment_evidence(deployment)
    if not state.report.ok:
        return [f"decision logs do not verify: {problem}" for problem in state.report.problems]
    divergences: list[str] = []
    stored = {(e.log, e.seq): e for e in DecisionEntry.objects.filter(deployment=deployment)}
    seen = set()
    for verified in state.report.entries:
        key = (verified.log, verified.entry["seq"])
        seen.add(key)
        row = stored.get(key)
        if row is not None and row.line_hash == verified.line_hash:
            continue
        divergences.append(
            f"{verified.log}#{key[1]}: {'missing from' if row is None else 'differs in'} the database mirror"
        )
        DecisionEntry.objects.update_or_create(
            deployment=deployment,
            log=verified.log,
            seq=key[1],
            defaults={
                "timestamp": verified.timestamp,
                "stage": verified.stage,
                "status": verified.status,
                "line_hash": verified.line_hash,
                "signers": verified.signers,
                "entry": verified.entry,
            },
        )
    for key in set(stored) - seen:
        divergences.append(f"{key[0]}#{key[1]}: in the database mirror but not in the file; removed")
        stored[key].delete()
    if divergences:
        audit_event_record(
            action="decision_log.reconcile",
            deployment=deployment,
            object_type="deployment",
            object_id=deployment.pk,
            detail={"divergences": len(divergences)},
        )
    return divergences
