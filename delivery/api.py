"""Bundles API: list and read builds, start a build or an acceptance, attach a build to a checklist.
Reads come from the permission-filtered selectors; writes call the services, which ask the rules
(delivery/rules.py) who may act. Refusals are `audit.errors` (a `DeliveryRefused` is 400, a role the rule
refuses 403) and the API's exception handler answers them."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.authorization import authorize
from jobs.serializers import JobSerializer

from . import selectors, services
from .models import BundleBuild
from .serializers import (
    BundleAcceptanceStartSerializer,
    BundleAttachResultSerializer,
    BundleAttachSerializer,
    BundleBuildSerializer,
    BundleBuildStartSerializer,
)


def _visible(request, pk) -> BundleBuild:
    # A role that may not see bundles is told so (403) rather than shown an empty page of them.
    authorize(request.user, "bundle.view")
    return get_object_or_404(selectors.bundle_build_list_visible(user=request.user), pk=pk)


class BundleBuildListApi(generics.ListAPIView):
    serializer_class = BundleBuildSerializer

    def get_queryset(self):
        authorize(self.request.user, "bundle.view")
        return selectors.bundle_build_list_visible(user=self.request.user)


class BundleBuildDetailApi(generics.RetrieveAPIView):
    serializer_class = BundleBuildSerializer

    def get_object(self):
        return _visible(self.request, self.kwargs["pk"])


class BundleBuildStartApi(APIView):
    @extend_schema(request=BundleBuildStartSerializer, responses={201: BundleBuildSerializer})
    def post(self, request):
        payload = BundleBuildStartSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        build = services.bundle_build_start(platform=payload.validated_data["platform"], actor=request.user)
        return Response(BundleBuildSerializer(build).data, status=status.HTTP_201_CREATED)


class BundleAcceptanceStartApi(APIView):
    @extend_schema(request=BundleAcceptanceStartSerializer, responses={201: JobSerializer})
    def post(self, request, pk: int):
        build = _visible(request, pk)
        payload = BundleAcceptanceStartSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        job = services.bundle_acceptance_start(build=build, actor=request.user, **payload.validated_data)
        return Response(JobSerializer(job).data, status=status.HTTP_201_CREATED)


class BundleAttachApi(APIView):
    @extend_schema(request=BundleAttachSerializer, responses={201: BundleAttachResultSerializer(many=True)})
    def post(self, request, pk: int):
        build = _visible(request, pk)
        payload = BundleAttachSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        attached = services.bundle_build_attach(
            build=build,
            deployment_id=payload.validated_data["deployment"],
            checklist_id=payload.validated_data["checklist"],
            actor=request.user,
        )
        rows = [{"step": a.step_id, "name": a.name, "sha384": a.sha384, "value": a.value} for a in attached]
        return Response(BundleAttachResultSerializer(rows, many=True).data, status=status.HTTP_201_CREATED)
