from rest_framework import serializers

from .models import AuditEvent, Deployment


class DeploymentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Deployment
        fields = ["id", "name", "customer", "stage", "description", "created_at"]
        read_only_fields = fields


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = [
            "seq",
            "timestamp",
            "actor",
            "action",
            "outcome",
            "object_type",
            "object_id",
            "deployment",
            "detail",
            "prev_hash",
            "hash",
        ]
        read_only_fields = fields


class ProblemSerializer(serializers.Serializer):
    file = serializers.CharField()
    line = serializers.IntegerField()
    reason = serializers.CharField()


class DecisionEntrySerializer(serializers.Serializer):
    log = serializers.CharField()
    line = serializers.IntegerField()
    line_hash = serializers.CharField()
    timestamp = serializers.DateTimeField()
    stage = serializers.CharField()
    status = serializers.CharField()
    signers = serializers.DictField(child=serializers.CharField())
    signer_kids = serializers.DictField(child=serializers.CharField())
    entry = serializers.DictField()


class DecisionLogSerializer(serializers.Serializer):
    verified = serializers.BooleanField()
    problems = ProblemSerializer(many=True)
    count = serializers.IntegerField(help_text="verified entries in every log")
    limit = serializers.IntegerField()
    offset = serializers.IntegerField()
    entries = DecisionEntrySerializer(many=True)


class GateEvaluationSerializer(serializers.Serializer):
    gate = serializers.CharField()
    passed = serializers.BooleanField()
    missing = serializers.ListField(child=serializers.CharField())


class GateStatusSerializer(serializers.Serializer):
    verified = serializers.BooleanField()
    gates = GateEvaluationSerializer(many=True)
    require_demo_mode = serializers.BooleanField()
    compliance_confirmed = serializers.BooleanField()
    config_sha384 = serializers.CharField(allow_null=True)


class StepSignRequestSerializer(serializers.Serializer):
    password = serializers.CharField(write_only=True, trim_whitespace=False)
    meaning = serializers.ChoiceField(choices=["performed", "reviewed", "approved"])
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500)


class StepSignatureSerializer(serializers.Serializer):
    step_id = serializers.CharField()
    printed_name = serializers.CharField()
    role = serializers.CharField()
    meaning = serializers.CharField()
    reason = serializers.CharField()
    signed_at = serializers.DateTimeField()
    kid = serializers.CharField()
    signature = serializers.CharField()
