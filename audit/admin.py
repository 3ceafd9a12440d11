from django.contrib import admin
from guardian.admin import GuardedModelAdmin

from .models import AuditEvent, Deployment
from .services import deployment_create


@admin.register(Deployment)
class DeploymentAdmin(GuardedModelAdmin):
    """Creation goes through `deployment_create` (its audit event, its own evidence directory); afterwards
    the row is read-only here: the stage moves only through a verified gate decision, and a rename would
    change what signed evidence names. Object permissions are still managed from this page."""

    list_display = ("name", "customer", "stage", "local", "created_at")
    search_fields = ("name", "customer")
    fields = ("name", "customer", "description", "stage", "local", "created_at")

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ("stage", "local", "created_at")
        return self.fields

    def save_model(self, request, obj, form, change):
        if change:
            return  # every field is read-only once created: there is nothing to write
        created = deployment_create(
            name=obj.name, customer=obj.customer, description=obj.description, actor=request.user
        )
        obj.pk, obj.stage, obj.local, obj.created_at = (
            created.pk,
            created.stage,
            created.local,
            created.created_at,
        )
        obj._state.adding = False
        obj._state.db = created._state.db

    def has_delete_permission(self, request, obj=None) -> bool:
        # Audit events and checklists point at the deployment: its history is never deleted.
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("seq", "timestamp", "actor", "action", "outcome", "object_type", "object_id")
    list_filter = ("action", "outcome")
    search_fields = ("actor", "action", "object_id")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
