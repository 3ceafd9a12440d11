"""Reads for deployments and audit events, filtered by what the user may see."""

from django.db.models import QuerySet
from guardian.shortcuts import get_objects_for_user

from .models import AuditEvent, Deployment


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
