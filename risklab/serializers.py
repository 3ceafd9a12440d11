from rest_framework import serializers

from audit.bounds import MAX_ROW_ID, MAX_SEED
from risklab.engine.profiles import PROFILE_NAMES
from risklab.engine.scenarios import SCENARIOS
from risklab.engine.strategies import STRATEGIES

from .models import Dataset, LabRun


class DatasetSerializer(serializers.ModelSerializer):
    class Meta:
        model = Dataset
        fields = ["id", "name", "sha384", "rows", "bar_seconds", "first_timestamp", "last_timestamp"]
        read_only_fields = fields


class LabRunSerializer(serializers.ModelSerializer):
    progress = serializers.SerializerMethodField()
    units = serializers.SerializerMethodField()

    class Meta:
        model = LabRun
        fields = [
            "id",
            "status",
            "progress",
            "units",
            "deployment",
            "created_at",
            "finished_at",
            "run_id",
            "verdict",
            "json_sha384",
            "pdf_sha384",
            "error",
        ]
        read_only_fields = fields

    def get_progress(self, obj) -> int:
        from .selectors import lab_run_progress

        return lab_run_progress(obj)

    def get_units(self, obj) -> int:
        return len(obj.plan.get("units", []))


class LabRunStartSerializer(serializers.Serializer):
    profiles = serializers.ListField(
        child=serializers.ChoiceField(choices=list(PROFILE_NAMES)), required=False, allow_empty=False
    )
    scenarios = serializers.ListField(
        child=serializers.ChoiceField(choices=list(SCENARIOS)), required=False, allow_empty=False
    )
    strategies = serializers.ListField(
        child=serializers.ChoiceField(choices=list(STRATEGIES)), required=False, allow_empty=False
    )
    datasets = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ROW_ID), required=False, max_length=100
    )
    seed = serializers.IntegerField(min_value=0, max_value=MAX_SEED, default=0)
    deployment = serializers.IntegerField(min_value=1, max_value=MAX_ROW_ID, required=False)
