"""Bundles API: list and read builds, start a build or an acceptance, attach a build to a checklist.
Reads come from the permission-filtered selectors; writes call the services, which decide who may act."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

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


def _require_view(request) -> None:
    if not request.user.has_perm(services.VIEW_PERMISSION):
        raise PermissionDenied("your role may not see bundles")


def _visible(request, pk) -> BundleBuild:
    _require_view(request)
    try:
        return selectors.bundle_build_get_visible(user=request.user, pk=pk)
    except BundleBuild.DoesNotExist:
        raise Http404 from None


def _refusals(call):
    try:
        return call()
    except DjangoPermissionDenied as exc:
        raise PermissionDenied(str(exc)) from None
    except services.DeliveryRefused as exc:
        raise ValidationError({"detail": str(exc)}) from None


class BundleBuildListApi(generics.ListAPIView):
    serializer_class = BundleBuildSerializer

    def get_queryset(self):
        _require_view(self.request)
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
        build = _refusals(
            lambda: services.bundle_build_start(
                platform=payload.validated_data["platform"], actor=request.user
            )
        )
        return Response(BundleBuildSerializer(build).data, status=status.HTTP_201_CREATED)


class BundleAcceptanceStartApi(APIView):
    @extend_schema(request=BundleAcceptanceStartSerializer, responses={201: JobSerializer})
    def post(self, request, pk: int):
        build = _visible(request, pk)
        payload = BundleAcceptanceStartSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        job = _refusals(
            lambda: services.bundle_acceptance_start(
                build=build, actor=request.user, **payload.validated_data
            )
        )
        return Response(JobSerializer(job).data, status=status.HTTP_201_CREATED)


class BundleAttachApi(APIView):
    @extend_schema(request=BundleAttachSerializer, responses={201: BundleAttachResultSerializer(many=True)})
    def post(self, request, pk: int):
        build = _visible(request, pk)
        payload = BundleAttachSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        attached = _refusals(
            lambda: services.bundle_build_attach(
                build=build,
                deployment_id=payload.validated_data["deployment"],
                checklist_id=payload.validated_data["checklist"],
                actor=request.user,
            )
        )
        rows = [{"step": a.step_id, "name": a.name, "sha384": a.sha384, "value": a.value} for a in attached]
        return Response(BundleAttachResultSerializer(rows, many=True).data, status=status.HTTP_201_CREATED)
