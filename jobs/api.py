"""Job API: one view per operation; every queryset comes from a permission-filtered selector."""

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.selectors import deployment_list_visible
from audit.uploads import UploadRefused, upload_refused_response

from . import selectors, services
from .serializers import ArtefactHashRequestSerializer, JobDetailSerializer, JobSerializer


class JobListApi(generics.ListAPIView):
    serializer_class = JobSerializer

    def get_queryset(self):
        return selectors.job_list_visible(user=self.request.user)


class JobDetailApi(generics.RetrieveAPIView):
    serializer_class = JobDetailSerializer

    def get_queryset(self):
        return selectors.job_list_visible(user=self.request.user).prefetch_related(
            "log_lines", "result_files"
        )


class ArtefactHashCreateApi(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        request=ArtefactHashRequestSerializer, responses={201: JobSerializer, 413: OpenApiTypes.OBJECT}
    )
    def post(self, request):
        payload = ArtefactHashRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        deployment = None
        if "deployment" in payload.validated_data:
            deployment = (
                deployment_list_visible(user=request.user)
                .filter(pk=payload.validated_data["deployment"])
                .first()
            )
            if deployment is None:
                raise ValidationError({"deployment": "no such deployment"})
        try:
            job = services.artefact_hash_start(
                actor=request.user, uploaded_file=payload.validated_data["file"], deployment=deployment
            )
        except UploadRefused as exc:
            return upload_refused_response(request, str(exc))
        return Response(JobSerializer(job).data, status=status.HTTP_201_CREATED)


class JobCancelApi(APIView):
    @extend_schema(request=None, responses={200: JobSerializer})
    def post(self, request, pk: int):
        job = get_object_or_404(selectors.job_list_visible(user=request.user), pk=pk)
        if not services.job_cancel(actor=request.user, job=job):
            raise ValidationError({"status": f"a {job.status} job cannot be cancelled"})
        job.refresh_from_db()
        return Response(JobSerializer(job).data)
