from rest_framework import serializers

from audit.bounds import MAX_ROW_ID

from .models import Job, JobLogLine, JobResultFile


class JobResultFileSerializer(serializers.ModelSerializer):
    class Meta:
        model = JobResultFile
        fields = ["name", "path", "size", "sha384", "created_at"]
        read_only_fields = fields


class JobLogLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = JobLogLine
        fields = ["created_at", "attempt", "message"]
        # Read-only also keeps the schema free of database-specific integer ranges (SQLite vs PostgreSQL).
        read_only_fields = fields


class JobSerializer(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Job
        fields = [
            "id",
            "kind",
            "status",
            "progress",
            "deployment",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
            "attempts",
            "max_attempts",
            "error",
        ]
        read_only_fields = fields


class JobDetailSerializer(JobSerializer):
    log_lines = JobLogLineSerializer(many=True, read_only=True)
    result_files = JobResultFileSerializer(many=True, read_only=True)

    class Meta(JobSerializer.Meta):
        fields = [*JobSerializer.Meta.fields, "params", "log_lines", "result_files"]
        read_only_fields = fields


class ArtefactHashRequestSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True)
    deployment = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ROW_ID)
