from django.contrib import admin
from guardian.admin import GuardedModelAdmin

from .models import AuditEvent, Deployment


@admin.register(Deployment)
class DeploymentAdmin(GuardedModelAdmin):
    list_display = ("name", "customer", "stage", "created_at")
    search_fields = ("name", "customer")
    # The stage moves only through a verified gate decision.
    readonly_fields = ("stage", "created_at")


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
