from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from guardian.admin import GuardedModelAdmin

from .errors import LicensingError
from .models import Customer, Device, License, LicenseRequest
from .services import customer_create


class CustomerAdminForm(forms.ModelForm):
    """Refuses on the form what `customer_create` would refuse, so the admin shows it next to the field."""

    class Meta:
        model = Customer
        fields = ("name",)

    def clean_name(self):
        name = " ".join((self.cleaned_data.get("name") or "").split())
        if self.instance.pk is None and Customer.objects.filter(name=name).exists():
            raise ValidationError(f"customer {name!r} already exists")
        return name


@admin.register(Customer)
class CustomerAdmin(GuardedModelAdmin):
    """Object permissions (which admin manages which customer) are edited here. Creation goes through
    `customer_create` (its audit event, the creator manages the customer); afterwards the row is read-only."""

    list_display = ("name", "created_at")
    search_fields = ("name",)
    fields = ("name",)
    form = CustomerAdminForm

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else ("name",)

    def save_model(self, request, obj, form, change):
        if change:
            return  # nothing is editable once created
        try:
            created = customer_create(actor=request.user, name=obj.name)
        except LicensingError as exc:
            raise ValidationError(str(exc)) from None
        obj.pk, obj.created_by_id, obj.created_at = created.pk, created.created_by_id, created.created_at
        obj._state.adding = False
        obj._state.db = created._state.db

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


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
