"""Licensing API: customers, requests (list, multipart upload, approve, reject), licenses (list, detail,
revoke) and the registry's verification status. One view per operation; writes go through services.

Anonymous → 401; a role without the model permission → 403; a customer (or its request/license) the user
does not manage → 404, the same answer as for one that does not exist.
"""

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import APIException, NotFound, PermissionDenied, ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from licensing.core.request import MAX_REQUEST_BYTES

from . import selectors, services
from .models import Customer, License, LicenseRequest
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


class MirrorFailed(APIException):
    """The registry holds the entry; the console mirror failed (reconcile repairs it)."""

    status_code = 500
    default_code = "mirror_failed"


class ForeignRequestRefused(APIException):
    """Not an error the admin fixes by editing: they compare the digest with the device and resend."""

    status_code = 400
    default_code = "foreign_request"

    def __init__(self, exc: services.ForeignRequestError):
        super().__init__(str(exc))
        self.error_extra = {"foreign": True, "request_digest": exc.digest}


def _refuse(exc: services.LicensingError):
    if isinstance(exc, services.LicenseMirrorError):
        raise MirrorFailed(str(exc))
    raise ValidationError({"detail": str(exc)})


def _require(allowed: bool, message: str) -> None:
    if not allowed:
        raise PermissionDenied(message)


def _request_for(user, pk) -> LicenseRequest:
    try:
        return selectors.license_request_get_visible(user=user, pk=pk)
    except LicenseRequest.DoesNotExist:
        raise Http404 from None


def _license_for(user, serial) -> License:
    try:
        return selectors.license_get_visible(user=user, serial=serial)
    except License.DoesNotExist:
        raise Http404 from None


class CustomerListApi(generics.ListAPIView):
    serializer_class = CustomerSerializer

    def get_queryset(self):
        return selectors.customer_list_visible(user=self.request.user)


class CustomerDetailApi(generics.RetrieveAPIView):
    serializer_class = CustomerDetailSerializer

    def get_object(self):
        try:
            return selectors.customer_get_visible(user=self.request.user, pk=self.kwargs["pk"])
        except Customer.DoesNotExist:
            raise Http404 from None


class LicenseRequestListApi(generics.ListAPIView):
    serializer_class = LicenseRequestSerializer

    def get_queryset(self):
        wanted = self.request.query_params.get("status") or None
        return selectors.license_request_list_visible(user=self.request.user, status=wanted)


class LicenseRequestUploadApi(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request=LicenseRequestUploadSerializer, responses={201: LicenseRequestSerializer})
    def post(self, request):
        _require(selectors.can_upload_requests(request.user), "your role may not upload license requests")
        payload = LicenseRequestUploadSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        try:
            customer = selectors.customer_get_visible(user=request.user, pk=data["customer"])
        except Customer.DoesNotExist:
            raise NotFound("no such customer") from None
        if data["file"].size > MAX_REQUEST_BYTES:
            raise ValidationError({"file": "request is too large"})
        try:
            req = services.license_request_upload(
                request_bytes=data["file"].read(),
                customer=customer,
                user=request.user,
                confirm_digest=data["confirm_digest"],
                label=data["label"],
            )
        except services.ForeignRequestError as exc:
            raise ForeignRequestRefused(exc) from None
        except services.LicensingError as exc:
            _refuse(exc)
        return Response(LicenseRequestSerializer(req).data, status=status.HTTP_201_CREATED)


class LicenseRequestApproveApi(APIView):
    @extend_schema(request=ApproveSerializer, responses={201: LicenseSerializer})
    def post(self, request, pk: int):
        _require(selectors.can_approve(request.user), "your role may not approve license requests")
        req = _request_for(request.user, pk)
        payload = ApproveSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        replaces = None
        if "replaces" in data:
            try:
                replaces = selectors.license_get_visible(user=request.user, serial=data["replaces"])
            except License.DoesNotExist:
                raise ValidationError({"replaces": "no such license"}) from None
        try:
            lic = services.license_issue(
                request=req,
                edition=data["edition"],
                features=data["features"],
                stages=data["stages"],
                valid_days=data["valid_days"],
                max_activations=data["max_activations"],
                allow_virtual=data["allow_virtual"],
                match_policy=data["match_policy"],
                replaces=replaces,
                user=request.user,
            )
        except services.LicensingError as exc:
            _refuse(exc)
        return Response(LicenseSerializer(lic).data, status=status.HTTP_201_CREATED)


class LicenseRequestRejectApi(APIView):
    @extend_schema(request=ReasonSerializer, responses={200: LicenseRequestSerializer})
    def post(self, request, pk: int):
        _require(selectors.can_reject(request.user), "your role may not reject license requests")
        req = _request_for(request.user, pk)
        payload = ReasonSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            req = services.license_request_reject(
                request=req, reason=payload.validated_data["reason"], user=request.user
            )
        except services.LicensingError as exc:
            _refuse(exc)
        return Response(LicenseRequestSerializer(req).data)


class LicenseListApi(generics.ListAPIView):
    serializer_class = LicenseSerializer

    def get_queryset(self):
        return selectors.license_list_visible(user=self.request.user).select_related("replaces")


class LicenseDetailApi(generics.RetrieveAPIView):
    serializer_class = LicenseSerializer

    def get_object(self):
        return _license_for(self.request.user, self.kwargs["serial"])


class LicenseRevokeApi(APIView):
    @extend_schema(request=ReasonSerializer, responses={200: LicenseSerializer})
    def post(self, request, serial: int):
        _require(selectors.can_revoke(request.user), "your role may not revoke licenses")
        lic = _license_for(request.user, serial)
        payload = ReasonSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            lic = services.license_revoke(
                license=lic, reason=payload.validated_data["reason"], user=request.user
            )
        except services.LicensingError as exc:
            _refuse(exc)
        return Response(LicenseSerializer(lic).data)


class RegistryStatusApi(APIView):
    @extend_schema(responses={200: RegistryStatusSerializer})
    def get(self, request):
        _require(selectors.can_view_registry(request.user), "your role may not read the license registry")
        return Response(RegistryStatusSerializer(selectors.registry_status()).data)
