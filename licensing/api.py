"""Licensing API: customers, requests (list, multipart upload, approve, reject), licenses (list, detail,
revoke) and the registry's verification status. One view per operation; writes go through services.

Anonymous → 401; a role the rule refuses → 403 (licensing/rules.py, asked before any lookup); a customer (or
its request/license) the user does not manage → 404, the same answer as for one that does not exist.
Refusals are `audit.errors` (a `LicensingError` is 400, a mirror failure 500, a foreign request 400 with its
digest) and the API's exception handler answers them; nothing here maps them.
"""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.authorization import authorize
from audit.errors import NotFound
from licensing.core.request import MAX_REQUEST_BYTES

from . import selectors, services
from .serializers import (
    ApproveSerializer,
    CustomerDetailSerializer,
    CustomerSerializer,
    LicenseRequestSerializer,
    LicenseRequestUploadSerializer,
    LicenseSerializer,
    ReasonSerializer,
    RegistryStatusSerializer,
)


class CustomerListApi(generics.ListAPIView):
    serializer_class = CustomerSerializer

    def get_queryset(self):
        return selectors.customer_list_visible(user=self.request.user)


class CustomerDetailApi(generics.RetrieveAPIView):
    serializer_class = CustomerDetailSerializer

    def get_queryset(self):
        return selectors.customer_list_visible(user=self.request.user)


class LicenseRequestListApi(generics.ListAPIView):
    serializer_class = LicenseRequestSerializer

    def get_queryset(self):
        wanted = self.request.query_params.get("status") or None
        return selectors.license_request_list_visible(user=self.request.user, status=wanted)


class LicenseRequestUploadApi(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request=LicenseRequestUploadSerializer, responses={201: LicenseRequestSerializer})
    def post(self, request):
        authorize(request.user, "license_request.upload")
        payload = LicenseRequestUploadSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        customer = selectors.customer_list_visible(user=request.user).filter(pk=data["customer"]).first()
        if customer is None:
            raise NotFound("no such customer")  # a field of the body, not of the URL: named in the answer
        if data["file"].size > MAX_REQUEST_BYTES:
            raise ValidationError({"file": "request is too large"})
        req = services.license_request_upload(
            actor=request.user,
            request_bytes=data["file"].read(),
            customer=customer,
            confirm_digest=data["confirm_digest"],
            label=data["label"],
        )
        return Response(LicenseRequestSerializer(req).data, status=status.HTTP_201_CREATED)


class LicenseRequestApproveApi(APIView):
    @extend_schema(request=ApproveSerializer, responses={201: LicenseSerializer})
    def post(self, request, pk: int):
        authorize(request.user, "license.issue")
        req = get_object_or_404(selectors.license_request_list_visible(user=request.user), pk=pk)
        payload = ApproveSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        replaces = None
        if "replaces" in data:
            replaces = (
                selectors.license_list_visible(user=request.user).filter(serial=data["replaces"]).first()
            )
            if replaces is None:
                raise ValidationError({"replaces": "no such license"})
        lic = services.license_issue(
            actor=request.user,
            request=req,
            edition=data["edition"],
            features=data["features"],
            stages=data["stages"],
            valid_days=data["valid_days"],
            max_activations=data["max_activations"],
            allow_virtual=data["allow_virtual"],
            match_policy=data["match_policy"],
            replaces=replaces,
        )
        return Response(LicenseSerializer(lic).data, status=status.HTTP_201_CREATED)


class LicenseRequestRejectApi(APIView):
    @extend_schema(request=ReasonSerializer, responses={200: LicenseRequestSerializer})
    def post(self, request, pk: int):
        authorize(request.user, "license_request.reject")
        req = get_object_or_404(selectors.license_request_list_visible(user=request.user), pk=pk)
        payload = ReasonSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        req = services.license_request_reject(
            actor=request.user, request=req, reason=payload.validated_data["reason"]
        )
        return Response(LicenseRequestSerializer(req).data)


class LicenseListApi(generics.ListAPIView):
    serializer_class = LicenseSerializer

    def get_queryset(self):
        return selectors.license_list_visible(user=self.request.user).select_related("replaces")


class LicenseDetailApi(generics.RetrieveAPIView):
    serializer_class = LicenseSerializer
    lookup_field = "serial"

    def get_queryset(self):
        return selectors.license_list_visible(user=self.request.user).select_related("replaces")


class LicenseRevokeApi(APIView):
    @extend_schema(request=ReasonSerializer, responses={200: LicenseSerializer})
    def post(self, request, serial: int):
        authorize(request.user, "license.revoke")
        lic = get_object_or_404(selectors.license_list_visible(user=request.user), serial=serial)
        payload = ReasonSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        lic = services.license_revoke(
            actor=request.user, license=lic, reason=payload.validated_data["reason"]
        )
        return Response(LicenseSerializer(lic).data)


class RegistryStatusApi(APIView):
    @extend_schema(responses={200: RegistryStatusSerializer})
    def get(self, request):
        authorize(request.user, "license_registry.view")
        return Response(RegistryStatusSerializer(selectors.registry_status()).data)
