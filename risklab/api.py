"""Paper Labs API: list datasets, start a lab, follow runs. Querysets from permission-filtered selectors."""

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.models import Deployment
from audit.selectors import deployment_get_visible
from risklab.engine.data import MarketDataError
from risklab.engine.lab import LabError, plan_tasks
from risklab.engine.profiles import ProfileError
from risklab.engine.scenarios import ScenarioError

from . import selectors, services
from .models import LabRun
from .serializers import DatasetSerializer, LabRunSerializer, LabRunStartSerializer


class DatasetListApi(generics.ListAPIView):
    serializer_class = DatasetSerializer

    def get_queryset(self):
        return selectors.dataset_list_visible(user=self.request.user)


class LabRunListApi(generics.ListAPIView):
    serializer_class = LabRunSerializer

    def get_queryset(self):
        return selectors.lab_run_list_with_progress(user=self.request.user)


class LabRunDetailApi(generics.RetrieveAPIView):
    serializer_class = LabRunSerializer

    def get_object(self):
        try:
            return selectors.lab_run_get_visible(user=self.request.user, pk=self.kwargs["pk"])
        except LabRun.DoesNotExist:
            raise Http404 from None


class LabRunStartApi(APIView):
    @extend_schema(request=LabRunStartSerializer, responses={201: LabRunSerializer})
    def post(self, request):
        if not request.user.has_perm("risklab.add_labrun"):
            raise PermissionDenied("your role may not start Paper Labs runs")
        payload = LabRunStartSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        deployment = None
        if "deployment" in data:
            try:
                deployment = deployment_get_visible(user=request.user, pk=data["deployment"])
            except Deployment.DoesNotExist:
                raise ValidationError({"deployment": "no such deployment"}) from None
        datasets = list(
            selectors.dataset_list_visible(user=request.user).filter(pk__in=data.get("datasets", []))
        )
        if len(datasets) != len(set(data.get("datasets", []))):
            raise ValidationError({"datasets": "no such dataset"})
        try:
            plan = plan_tasks(
                profiles=data.get("profiles", "all"),
                strategies=data.get("strategies", "all"),
                scenarios=data.get("scenarios", "all"),
                data_paths=[d.path for d in datasets] or None,
                seed=data["seed"],
            )
        except (MarketDataError, ProfileError, ScenarioError, LabError) as exc:
            raise ValidationError({"detail": str(exc)}) from None
        lab_run = services.lab_run_start(plan=plan, user=request.user, deployment=deployment)
        return Response(LabRunSerializer(lab_run).data, status=status.HTTP_201_CREATED)
