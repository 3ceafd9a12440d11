"""The audit trail: one append-only, hash-chained event per security decision."""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from audit.chain import GENESIS_HASH, event_body, event_hash
from audit.models import AuditChainHead, AuditEvent, Deployment
from audit.trust.keyring import format_time

User = get_user_model()


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
        timestamp=format_time(now),
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
        timestamp=format_time(event.timestamp),
        actor=event.actor,
        action=event.action,
        outcome=event.outcome,
        object_type=event.object_type,
        object_id=event.object_id,
        deployment_id=event.deployment_id,
        detail=event.detail,
        prev_hash=event.prev_hash,
    )


def audit_trail_problems() -> list[str]:
    """Re-check the whole stored chain; empty means intact."""
    from audit.chain import verify_chain

    events = AuditEvent.objects.order_by("seq").iterator(chunk_size=1000)
    return [
        f"event {p.seq}: {p.reason}" for p in verify_chain((stored_event_body(e), e.hash) for e in events)
    ]
