from django.contrib import admin
from guardian.admin import GuardedModelAdmin

from .models import Customer, Device, License, LicenseRequest


@admin.register(Customer)
class CustomerAdmin(GuardedModelAdmin):
    """Object permissions (which admin manages which customer) are edited here."""

    list_display = ("name", "created_at")
    search_fields = ("name",)


class _ReadOnly(admin.ModelAdmin):
    """Devices, requests and licenses change only through licensing.services (the registry is the truth)."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Device)
class DeviceAdmin(_ReadOnly):
    list_display = ("__str__", "customer", "environment", "device_digest")
    search_fields = ("label", "device_digest", "customer__name")


@admin.register(LicenseRequest)
class LicenseRequestAdmin(_ReadOnly):
    list_display = ("id", "device", "status", "foreign", "request_digest", "created_at")
    list_filter = ("status", "foreign")
    exclude = ("request_bytes",)


@admin.register(License)
class LicenseAdmin(_ReadOnly):
    list_display = ("serial", "device", "edition", "status", "expires_at", "active_activations")
    list_filter = ("status", "edition")
    search_fields = ("serial", "device__customer__name")
