"""Reads for deployments and audit events, filtered by what the user may see."""

from django.db.models import QuerySet
from guardian.shortcuts import get_objects_for_user

from .models import AuditEvent, Checklist, DecisionProposal, Deployment, StepAttachment, StepSignature
from .runbooks.model import checklist as checklist_definition
from .runbooks.model import load_runbooks
from .runbooks.model import version as checklist_version
from .trust.gates import GATES


def deployment_list_visible(*, user) -> QuerySet[Deployment]:
    """Model-level view permission (admin, auditor) sees all; everyone else only assigned deployments."""
    if not user.is_authenticated:
        return Deployment.objects.none()
    return get_objects_for_user(user, "audit.view_deployment", klass=Deployment, accept_global_perms=True)


def deployment_get_visible(*, user, pk) -> Deployment:
    """Raises Deployment.DoesNotExist for both missing and hidden deployments: no existence leak."""
    return deployment_list_visible(user=user).get(pk=pk)


def audit_event_list_visible(*, user) -> QuerySet[AuditEvent]:
    if not user.is_authenticated or not user.has_perm("audit.view_auditevent"):
        return AuditEvent.objects.none()
    return AuditEvent.objects.select_related("deployment")


def audit_event_recent_for_dashboard(*, user, limit: int = 10) -> QuerySet[AuditEvent]:
    """Users without the audit role still see events about deployments they can see."""
    if user.has_perm("audit.view_auditevent"):
        return AuditEvent.objects.all()[:limit]
    visible = deployment_list_visible(user=user).values("pk")
    return AuditEvent.objects.filter(deployment__in=visible)[:limit]


# ---- checklists and gates: what is on record now (the pages and the services read the same)
def current_attachments(
    checklist: Checklist, step_id: str | None = None
) -> dict[tuple[str, str], StepAttachment]:
    rows = checklist.attachments.filter(superseded_at__isnull=True).select_related("uploaded_by")
    if step_id is not None:
        rows = rows.filter(step_id=step_id)
    return {(a.step_id, a.name): a for a in rows}


def gate_checklist_ids(gate: str) -> list[str]:
    """Every checklist whose work feeds this gate: the gate's own and those of runbooks serving it."""
    ids = list(GATES[gate].checklists)
    for runbook in load_runbooks().values():
        ids += [c.id for c in runbook.checklists if c.gate == gate]
    return list(dict.fromkeys(ids))


def current_checklist(deployment: Deployment, checklist_id: str) -> Checklist | None:
    return Checklist.objects.filter(
        deployment=deployment,
        checklist_id=checklist_id,
        version=checklist_version(checklist_definition(checklist_id)),
    ).first()


def checklist_complete(checklist: Checklist) -> bool:
    signed = set(checklist.signatures.filter(voided_at__isnull=True).values_list("step_id", flat=True))
    return all(step.id in signed for step in checklist_definition(checklist.checklist_id).steps)


def gate_signers(deployment: Deployment, gate: str) -> dict[int, set[str]]:
    """user id -> console roles they signed in on this gate (active signatures only)."""
    signed: dict[int, set[str]] = {}
    rows = StepSignature.objects.filter(
        checklist__deployment=deployment, checklist__gate=gate, voided_at__isnull=True
    )
    for user_id, role in rows.values_list("user_id", "role"):
        signed.setdefault(user_id, set()).add(role)
    return signed


def decision_proposal_list_visible(*, user) -> QuerySet[DecisionProposal]:
    """Proposals of the deployments the user may see."""
    return DecisionProposal.objects.filter(deployment__in=deployment_list_visible(user=user))
