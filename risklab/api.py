"""Paper Labs API: list datasets, start a lab, follow runs. Querysets from permission-filtered selectors."""

from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.selectors import deployment_list_visible
from risklab.engine.data import MarketDataError
from risklab.engine.lab import LabError, plan_tasks
from risklab.engine.profiles import ProfileError
from risklab.engine.scenarios import ScenarioError

from . import selectors, services
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

    def get_queryset(self):
        return selectors.lab_run_list_visible(user=self.request.user)


class LabRunStartApi(APIView):
    @extend_schema(request=LabRunStartSerializer, responses={201: LabRunSerializer})
    def post(self, request):
        payload = LabRunStartSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        deployment = None
        if "deployment" in data:
            deployment = deployment_list_visible(user=request.user).filter(pk=data["deployment"]).first()
            if deployment is None:
                raise ValidationError({"deployment": "no such deployment"})
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
        lab_run = services.lab_run_start(actor=request.user, plan=plan, deployment=deployment)
        return Response(LabRunSerializer(lab_run).data, status=status.HTTP_201_CREATED)
