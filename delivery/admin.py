from django.contrib import admin

from .models import BundleBuild


@admin.register(BundleBuild)
class BundleBuildAdmin(admin.ModelAdmin):
    """Read-only: builds change only through the delivery services (which audit every change)."""

    list_display = ("id", "platform", "bundle_version", "commit", "status", "acceptance_status", "created_at")
    list_filter = ("platform", "status", "acceptance_status")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
