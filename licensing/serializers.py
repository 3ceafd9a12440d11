from rest_framework import serializers

from audit.bounds import MAX_ROW_ID
from licensing.core.fingerprint import DEFAULT_POLICY, POLICIES
from licensing.core.license_file import STAGES

from .models import Customer, License, LicenseRequest


class CustomerSerializer(serializers.ModelSerializer):
    devices = serializers.IntegerField(source="devices.count", read_only=True)

    class Meta:
        model = Customer
        fields = ["id", "name", "devices", "created_at"]
        read_only_fields = fields


class LicenseSerializer(serializers.ModelSerializer):
    customer = serializers.CharField(source="device.customer.name", read_only=True)
    customer_id = serializers.IntegerField(source="device.customer_id", read_only=True)
    device = serializers.CharField(source="device.__str__", read_only=True)
    request = serializers.IntegerField(source="request_id", read_only=True, allow_null=True)
    replaces = serializers.IntegerField(
        source="replaces.serial", read_only=True, allow_null=True, default=None
    )
    features = serializers.ListField(child=serializers.CharField(), read_only=True)
    stages = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = License
        fields = [
            "serial",
            "customer",
            "customer_id",
            "device",
            "request",
            "edition",
            "features",
            "stages",
            "issued_at",
            "not_before",
            "expires_at",
            "max_activations",
            "active_activations",
            "allow_virtual",
            "match_policy",
            "file_sha384",
            "signed_by",
            "replaces",
            "status",
            "revoked_reason",
            "revoked_at",
            "imported",
        ]
        read_only_fields = fields


class CustomerDetailSerializer(CustomerSerializer):
    licenses = serializers.SerializerMethodField()

    class Meta(CustomerSerializer.Meta):
        fields = [*CustomerSerializer.Meta.fields, "licenses"]
        read_only_fields = fields

    def get_licenses(self, obj) -> list[int]:
        return list(License.objects.filter(device__customer=obj).values_list("serial", flat=True))


class LicenseRequestSerializer(serializers.ModelSerializer):
    customer = serializers.CharField(source="device.customer.name", read_only=True)
    customer_id = serializers.IntegerField(source="device.customer_id", read_only=True)
    device = serializers.CharField(source="device.__str__", read_only=True)
    environment = serializers.CharField(source="device.environment", read_only=True)

    class Meta:
        model = LicenseRequest
        fields = [
            "id",
            "customer",
            "customer_id",
            "device",
            "hostname",
            "environment",
            "request_digest",
            "foreign",
            "status",
            "decision_reason",
            "created_at",
            "decided_at",
        ]
        read_only_fields = fields


class LicenseRequestUploadSerializer(serializers.Serializer):
    customer = serializers.IntegerField(min_value=1, max_value=MAX_ROW_ID)
    file = serializers.FileField()
    label = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    confirm_digest = serializers.CharField(max_length=103, required=False, allow_blank=True, default="")


class ApproveSerializer(serializers.Serializer):
    edition = serializers.RegexField(r"^[a-z0-9][a-z0-9_.-]{0,63}$", default="standard")
    features = serializers.ListField(child=serializers.CharField(max_length=64), default=list)
    stages = serializers.ListField(child=serializers.ChoiceField(choices=list(STAGES)), allow_empty=False)
    valid_days = serializers.IntegerField(min_value=1, max_value=3650)
    max_activations = serializers.IntegerField(min_value=1, max_value=1000, default=1)
    allow_virtual = serializers.BooleanField(default=False)
    match_policy = serializers.ChoiceField(choices=list(POLICIES), default=DEFAULT_POLICY.name)
    replaces = serializers.IntegerField(
        min_value=1, max_value=MAX_ROW_ID, required=False, help_text="serial of the license to reissue"
    )


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class RegistryStatusSerializer(serializers.Serializer):
    path = serializers.CharField()
    exists = serializers.BooleanField()
    ok = serializers.BooleanField()
    problems = serializers.ListField(child=serializers.CharField())
    entries = serializers.IntegerField()
    licenses = serializers.IntegerField()
    live = serializers.IntegerField()
    next_serial = serializers.IntegerField()
    head = serializers.CharField()
    crl_number = serializers.IntegerField(allow_null=True)
    crl_serials = serializers.ListField(child=serializers.IntegerField())
    missing_in_console = serializers.ListField(child=serializers.IntegerField())
    differs_in_console = serializers.ListField(child=serializers.IntegerField())
    mirror_ok = serializers.BooleanField()
