"""The display mirror of the signed decision logs."""

from django.db import transaction

from audit.models import Deployment

from .trail import audit_event_record


@transaction.atomic
def decision_log_reconcile(*, deployment: Deployment) -> list[str]:
    """Make the display mirror equal the verified files; returns every divergence found (the file wins).
    When the logs do not verify, the mirror is left as it was and the problems are returned instead."""
    from audit.evidence import deployment_evidence
    from audit.models import DecisionEntry

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
