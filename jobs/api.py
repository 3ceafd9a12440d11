"""Job API: one view per operation; every queryset comes from a permission-filtered selector."""

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.models import Deployment
from audit.selectors import deployment_get_visible
from audit.uploads import UploadRefused, upload_refused_response

from . import selectors, services
from .models import Job
from .serializers import ArtefactHashRequestSerializer, JobDetailSerializer, JobSerializer


class JobListApi(generics.ListAPIView):
    serializer_class = JobSerializer

    def get_queryset(self):
        return selectors.job_list_visible(user=self.request.user)


class JobDetailApi(generics.RetrieveAPIView):
    serializer_class = JobDetailSerializer

    def get_object(self):
        try:
            return selectors.job_get_visible(user=self.request.user, pk=self.kwargs["pk"])
        except Job.DoesNotExist:
            raise Http404 from None


class ArtefactHashCreateApi(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        request=ArtefactHashRequestSerializer, responses={201: JobSerializer, 413: OpenApiTypes.OBJECT}
    )
    def post(self, request):
        if not request.user.has_perm("jobs.add_job"):
            raise PermissionDenied("your role may not start jobs")
        payload = ArtefactHashRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        deployment = None
        if "deployment" in payload.validated_data:
            try:
                deployment = deployment_get_visible(
                    user=request.user, pk=payload.validated_data["deployment"]
                )
            except Deployment.DoesNotExist:
                raise ValidationError({"deployment": "no such deployment"}) from None
        try:
            job = services.artefact_hash_start(
                uploaded_file=payload.validated_data["file"], user=request.user, deployment=deployment
            )
        except UploadRefused as exc:
            return upload_refused_response(request, str(exc))
        return Response(JobSerializer(job).data, status=status.HTTP_201_CREATED)


class JobCancelApi(APIView):
    @extend_schema(request=None, responses={200: JobSerializer})
    def post(self, request, pk: int):
        try:
            job = selectors.job_get_visible(user=request.user, pk=pk)
        except Job.DoesNotExist:
            raise Http404 from None
        if not (request.user.has_perm("jobs.change_job") or job.created_by_id == request.user.pk):
            raise PermissionDenied("only the job's creator or an admin may cancel it")
        if not services.job_cancel(job=job, actor=request.user):
            raise ValidationError({"status": f"a {job.status} job cannot be cancelled"})
        job.refresh_from_db()
        return Response(JobSerializer(job).data)
