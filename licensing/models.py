"""Offline licensing in the console: customers, their devices, license requests and issued licenses.

The signed registry `OEM_DATA_DIR/licenses/registry.jsonl` (licensing.core.registry) is the truth about
licenses; the License rows mirror it for display and permission filtering, and
`licensing.services.license_registry_reconcile` makes the mirror equal the registry again (for licenses
issued or revoked on the command line, or after a database failure that followed a registry append).

Who sees a customer: the admins it is assigned to (guardian object permission `licensing.view_customer`) and
roles holding the model-level `licensing.view_customer` (auditor). Devices, requests and licenses are seen
through their customer.
"""

from django.conf import settings
from django.db import models


class Customer(models.Model):
    name = models.CharField(max_length=200, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Device(models.Model):
    """One machine of a customer, identified by the digest of its licensed fingerprint components."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="devices")
    label = models.CharField(max_length=200, blank=True)
    device_digest = models.CharField(max_length=103)  # "sha384:" + hex, licensing.core.registry.device_digest
    fingerprint = models.JSONField(default=dict)  # the signed fingerprint record of its latest request
    request_digest = models.CharField(max_length=103, blank=True)  # of its latest request
    environment = models.CharField(max_length=16, blank=True)  # physical | vm | container
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["customer__name", "label", "id"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "device_digest"], name="licensing_device_unique")
        ]

    def __str__(self) -> str:
        return self.label or f"device {self.device_digest[7:19]}"


class RequestStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class LicenseRequest(models.Model):
    device = models.ForeignKey(Device, on_delete=models.PROTECT, related_name="requests")
    request_bytes = models.BinaryField(blank=True)  # empty for a request imported from the registry
    request_digest = models.CharField(max_length=103, unique=True)
    hostname = models.CharField(max_length=253, blank=True)
    foreign = models.BooleanField(default=False)  # device HMAC not checkable here; digest confirmed by admin
    status = models.CharField(max_length=16, choices=RequestStatus.choices, default=RequestStatus.PENDING)
    decision_reason = models.CharField(max_length=500, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"request {self.request_digest[7:19]} ({self.status})"

    @property
    def customer(self) -> Customer:
        return self.device.customer


class LicenseStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    REVOKED = "revoked", "Revoked"
    SUPERSEDED = "superseded", "Superseded"


class License(models.Model):
    """Mirror of one `issued`/`reissued` registry entry; the file is the signed document itself."""

    serial = models.PositiveBigIntegerField(unique=True)
    request = models.ForeignKey(
        LicenseRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="licenses"
    )
    device = models.ForeignKey(Device, on_delete=models.PROTECT, related_name="licenses")
    edition = models.CharField(max_length=64)
    features = models.JSONField(default=list)
    stages = models.JSONField(default=list)
    issued_at = models.DateTimeField()
    not_before = models.DateTimeField()
    expires_at = models.DateTimeField()
    max_activations = models.PositiveIntegerField(default=1)
    active_activations = models.PositiveIntegerField(default=0)
    allow_virtual = models.BooleanField(default=False)
    match_policy = models.CharField(max_length=40, default="3-of-5+machine_id")  # as signed in the license
    file_path = models.CharField(max_length=1000)  # OEM_DATA_DIR/licenses/issued/<serial>.json
    file_sha384 = models.CharField(max_length=96)
    signed_by = models.CharField(max_length=100, blank=True)  # kid of the vendor key
    replaces = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="replaced_by"
    )
    status = models.CharField(max_length=16, choices=LicenseStatus.choices, default=LicenseStatus.ACTIVE)
    revoked_reason = models.CharField(max_length=500, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    imported = models.BooleanField(default=False)  # created by reconcile from the registry

    class Meta:
        ordering = ["-serial"]

    def __str__(self) -> str:
        return f"license {self.serial} ({self.status})"

    @property
    def customer(self) -> Customer:
        return self.device.customer
