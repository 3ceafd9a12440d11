"""Deployment and audit-trail API; querysets come from permission-filtered selectors."""

from django.http import Http404
from rest_framework import generics
from rest_framework.permissions import BasePermission, IsAuthenticated

from . import selectors
from .models import Deployment
from .serializers import AuditEventSerializer, DeploymentSerializer


class DeploymentListApi(generics.ListAPIView):
    serializer_class = DeploymentSerializer

    def get_queryset(self):
        return selectors.deployment_list_visible(user=self.request.user)


class DeploymentDetailApi(generics.RetrieveAPIView):
    serializer_class = DeploymentSerializer

    def get_object(self):
        try:
            return selectors.deployment_get_visible(user=self.request.user, pk=self.kwargs["pk"])
        except Deployment.DoesNotExist:
            raise Http404 from None


class CanReadAuditTrail(BasePermission):
    message = "the audit trail is for auditors, compliance and admins"

    def has_permission(self, request, view) -> bool:
        return request.user.has_perm("audit.view_auditevent")


class AuditEventListApi(generics.ListAPIView):
    serializer_class = AuditEventSerializer
    permission_classes = [IsAuthenticated, CanReadAuditTrail]

    def get_queryset(self):
        return selectors.audit_event_list_visible(user=self.request.user)
