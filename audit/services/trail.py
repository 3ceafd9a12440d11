"""The audit trail: one append-only event per security decision, MAC-chained with the audit key.

Before the installation is set up (no key ring yet) events are chained unkeyed (v1); from the first keyed
event on, an event that cannot be keyed is refused rather than written unkeyed. The head (seq, MAC) lives in
the AuditChainHead row and, after each commit, in the witness (audit/trust/witness.py): a deleted tail shows
against the head row, and a deleted tail with the head row rewound shows against the witness.
"""

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from audit.authorization import authorize
from audit.chain import (
    CHAIN_V1,
    CHAIN_V2,
    GENESIS_HASH,
    WITNESS_KEY,
    ChainReport,
    event_body,
    event_hash,
    event_mac,
    verify_chain,
)
from audit.models import AuditChainHead, AuditEvent, Deployment
from audit.trust.keyring import KeyRing, KeyRingError, format_time

User = get_user_model()
logger = logging.getLogger(__name__)


class AuditKeyUnavailable(RuntimeError):
    """The keyed chain has begun but the audit key cannot be loaded: nothing is recorded."""


def _audit_keyring() -> KeyRing | None:
    try:
        return KeyRing.load(settings.OEM_DATA_DIR)
    except (KeyRingError, OSError, ValueError) as exc:
        logger.debug("audit key unavailable: %s", exc)
        return None


def _witness():
    from audit.trust.witness import witness_for

    return witness_for(settings.OEM_DATA_DIR)


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
    keyring = _audit_keyring()
    if keyring is None and head.chain_version >= CHAIN_V2:
        raise AuditKeyUnavailable("the audit trail is keyed but the audit key cannot be loaded")
    version = CHAIN_V2 if keyring is not None else CHAIN_V1
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
        chain_version=version,
    )
    digest = event_mac(body, keyring.hmac_signer("audit")) if keyring is not None else event_hash(body)
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
        chain_version=version,
    )
    AuditChainHead.objects.filter(pk=1).update(seq=body["seq"], head_hash=digest, chain_version=version)
    if version == CHAIN_V2:
        start = (head.seq, head.head_hash) if head.chain_version < CHAIN_V2 else None
        # After commit only: a rolled-back event must never move the witness ahead of the database.
        transaction.on_commit(lambda: _witness_advance(body["seq"], digest, start=start))
    return event


def _head_at(seq: int) -> str | None:
    if seq == 0:
        return GENESIS_HASH
    return AuditEvent.objects.filter(seq=seq).values_list("hash", flat=True).first()


def _witness_advance(seq: int, digest: str, *, start: tuple[int, str] | None) -> None:
    """Move the witness to (seq, digest); the first keyed event first begins it at the unkeyed prefix's head.
    A witness already at or past `seq` (a later commit's callback ran first) is left alone. A refusal is
    logged, not raised: the commit is done, and audit_trail_problems reports the disagreement."""
    from audit.trust.witness import Mark, WitnessError

    try:
        witness = _witness()
        marks = [m for m in witness.marks(WITNESS_KEY).values() if m is not None]
        if any(m.seq >= seq for m in marks):
            return
        if start is not None and not marks:
            witness.begin(WITNESS_KEY, Mark(*start), label="audit trail")
        witness.advance(WITNESS_KEY, Mark(seq, digest), label="audit trail", head_at=_head_at)
    except (WitnessError, OSError) as exc:
        logger.error("audit trail witness not advanced: %s", " ".join(str(exc).split()))


def stored_event_body(event: AuditEvent) -> dict:
    """Rebuild exactly what was hashed or MACed, from the stored row."""
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
        chain_version=event.chain_version,
    )


def audit_trail_report(*, since: tuple[int, str] | None = None) -> tuple[ChainReport, list[str]]:
    """Re-check the stored chain, the head row and the witness: (chain report, every problem). With
    `since` = (seq, hash) of an event already verified, only the events after it are re-checked."""
    keyed = AuditEvent.objects.filter(chain_version=CHAIN_V2).exists()
    keyring = _audit_keyring() if keyed else None
    problems: list[str] = []
    if keyed and keyring is None:
        problems.append("audit key unavailable: keyed events cannot be verified")
    first_seq, prev = (since[0] + 1, since[1]) if since else (1, GENESIS_HASH)
    events = AuditEvent.objects.filter(seq__gte=first_seq).order_by("seq").iterator(chunk_size=1000)
    report = verify_chain(
        ((stored_event_body(e), e.hash) for e in events), keyring, first_seq=first_seq, prev=prev
    )
    problems += [f"event {p.seq}: {p.reason}" for p in report.problems]
    head = AuditChainHead.objects.filter(pk=1).first()
    head_seq, head_hash = (head.seq, head.head_hash) if head else (0, GENESIS_HASH)
    if (head_seq, head_hash) != (report.last_seq, report.last_hash):
        problems.append(
            f"stored head is at event {head_seq} but the trail ends at event {report.last_seq}"
            + (" (tail deleted?)" if head_seq > report.last_seq else "")
        )
    # Also when no row is keyed but a mark exists: a trail rewritten unkeyed (a downgrade) differs from it.
    from audit.trust.witness import Mark, WitnessError

    try:
        witness = _witness()
        if keyed or any(mark is not None for mark in witness.marks(WITNESS_KEY).values()):
            witness.check(
                WITNESS_KEY, Mark(report.last_seq, report.last_hash), label="audit trail", head_at=_head_at
            )
    except (WitnessError, OSError) as exc:
        problems.append(" ".join(str(exc).split()))
    return report, problems


def audit_trail_problems() -> list[str]:
    """Every break in the chain, the head row or the witness; empty means intact."""
    return audit_trail_report()[1]


def audit_trail_head() -> tuple[int, str]:
    """(seq, hash) of the stored head row."""
    head = AuditChainHead.objects.filter(pk=1).first()
    return (head.seq, head.head_hash) if head else (0, GENESIS_HASH)


def audit_trail_export_record(*, actor, filters: dict) -> None:
    """Record that `actor` exports the trail (with these filters) before a line of it leaves the server."""
    authorize(actor, "audit_trail.export")
    audit_event_record(action="audit.export", actor=actor, detail={"filters": filters})
