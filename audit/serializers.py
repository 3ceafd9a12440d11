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
