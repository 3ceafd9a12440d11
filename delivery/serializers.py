from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from audit.bounds import MAX_ROW_ID

from .models import BundleBuild
from .services import PLATFORMS


class BuildStepSerializer(serializers.Serializer):
    name = serializers.CharField()
    status = serializers.CharField(
        help_text="done, or placeholder: a step this machine cannot do (never passed)"
    )
    detail = serializers.CharField()
    artefact = serializers.CharField()
    sha384 = serializers.CharField()


class AcceptanceSectionSerializer(serializers.Serializer):
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=["passed", "failed", "placeholder"])
    reasons = serializers.ListField(child=serializers.CharField())


class BundleBuildSerializer(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    steps = serializers.SerializerMethodField()
    acceptance_sections = serializers.SerializerMethodField()

    class Meta:
        model = BundleBuild
        fields = [
            "id",
            "platform",
            "status",
            "bundle_version",
            "commit",
            "fingerprint",
            "steps",
            "acceptance_status",
            "acceptance_sha384",
            "acceptance_sections",
            "ci_run_sha384",
            "created_by",
            "created_at",
            "job",
            "acceptance_job",
            "error",
        ]
        read_only_fields = fields

    @extend_schema_field(BuildStepSerializer(many=True))
    def get_steps(self, obj) -> list[dict]:
        from .selectors import bundle_build_steps

        return bundle_build_steps(obj)

    @extend_schema_field(AcceptanceSectionSerializer(many=True))
    def get_acceptance_sections(self, obj) -> list[dict]:
        return [
            {"name": s["name"], "status": s["status"], "reasons": s["reasons"]}
            for s in obj.acceptance_report.get("sections", [])
        ]


class BundleBuildStartSerializer(serializers.Serializer):
    platform = serializers.ChoiceField(choices=list(PLATFORMS))


class BundleAcceptanceStartSerializer(serializers.Serializer):
    rebuild = serializers.BooleanField(
        default=False, help_text="also build again and compare the fingerprint"
    )
    allow_virtual = serializers.BooleanField(default=False, help_text="license this device even if virtual")


class BundleAttachSerializer(serializers.Serializer):
    deployment = serializers.IntegerField(min_value=1, max_value=MAX_ROW_ID)
    checklist = serializers.CharField(max_length=64)


class BundleAttachResultSerializer(serializers.Serializer):
    step = serializers.CharField()
    name = serializers.CharField()
    sha384 = serializers.CharField()
    value = serializers.CharField()
