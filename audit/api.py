"""Deployment and audit-trail API; querysets come from permission-filtered selectors."""

from django.shortcuts import get_object_or_404
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.authorization import authorize

from . import selectors
from .evidence import deployment_evidence
from .pagination import SeqKeysetPagination, paginate_sequence
from .serializers import (
    AuditEventSerializer,
    DecisionLogSerializer,
    DeploymentSerializer,
    GateStatusSerializer,
    StepSignatureSerializer,
    StepSignRequestSerializer,
)


class DeploymentListApi(generics.ListAPIView):
    serializer_class = DeploymentSerializer

    def get_queryset(self):
        return selectors.deployment_list_visible(user=self.request.user)


class DeploymentDetailApi(generics.RetrieveAPIView):
    serializer_class = DeploymentSerializer

    def get_queryset(self):
        return selectors.deployment_list_visible(user=self.request.user)


class AuditEventListApi(generics.ListAPIView):
    # Newest first, keyset-paginated on seq (`next` is a cursor), so every page costs the same.
    serializer_class = AuditEventSerializer
    pagination_class = SeqKeysetPagination

    def get_queryset(self):
        authorize(self.request.user, "audit_trail.read")
        return selectors.audit_event_list_visible(user=self.request.user)


class _DeploymentEvidenceApi(APIView):
    def evidence(self, pk):
        return deployment_evidence(
            get_object_or_404(selectors.deployment_list_visible(user=self.request.user), pk=pk)
        )


class DecisionLogApi(_DeploymentEvidenceApi):
    # Verified entries (logs in stage order, lines in order), `limit` (max 500) from `offset`.
    @extend_schema(
        responses=DecisionLogSerializer,
        parameters=[
            OpenApiParameter("limit", int, description="entries per page (default 50, at most 500)"),
            OpenApiParameter("offset", int, description="index of the first entry returned"),
        ],
    )
    def get(self, request, pk: int):
        state = self.evidence(pk)
        entries, count, limit, offset = paginate_sequence(request, state.report.entries)
        data = {
            "verified": state.report.ok,
            "problems": [vars(p) for p in state.report.problems],
            "count": count,
            "limit": limit,
            "offset": offset,
            "entries": [
                {
                    "log": e.log,
                    "line": e.line,
                    "line_hash": e.line_hash,
                    "timestamp": e.timestamp,
                    "stage": e.stage,
                    "status": e.status,
                    "signers": e.signers,
                    "signer_kids": e.signer_kids,
                    "entry": e.entry,
                }
                for e in entries
            ],
        }
        return Response(DecisionLogSerializer(data).data)


class GateStatusApi(_DeploymentEvidenceApi):
    @extend_schema(responses=GateStatusSerializer)
    def get(self, request, pk: int):
        state = self.evidence(pk)
        data = {
            "verified": state.report.ok,
            "gates": [
                {"gate": g.gate, "passed": g.passed, "missing": g.missing} for g in state.gates.values()
            ],
            "require_demo_mode": state.runtime.require_demo_mode,
            "compliance_confirmed": state.runtime.compliance_confirmed,
            "config_sha384": state.config_sha384,
        }
        return Response(GateStatusSerializer(data).data)


@method_decorator(sensitive_post_parameters("password"), name="dispatch")
class StepSignApi(APIView):
    """Sign a checklist step: the password is re-entered. Who may sign is the `checklist.sign` rule (403; an
    unknown checklist or step is 404); a refused signature is 403 with the reason, and audited."""

    @extend_schema(request=StepSignRequestSerializer, responses={201: StepSignatureSerializer})
    @sensitive_variables("payload")
    def post(self, request, pk: int, checklist_id: str, step_id: str):
        from .services import step_sign

        payload = StepSignRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        deployment = get_object_or_404(selectors.deployment_list_visible(user=request.user), pk=pk)
        signature = step_sign(
            actor=request.user,
            deployment=deployment,
            checklist_id=checklist_id,
            step_id=step_id,
            password=payload.validated_data["password"],
            meaning=payload.validated_data["meaning"],
            reason=payload.validated_data.get("reason", ""),
            request=request._request,
        )
        return Response(StepSignatureSerializer(signature).data, status=201)
