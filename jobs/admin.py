from django.contrib import admin

from .models import Job, JobLogLine, JobResultFile


class JobLogLineInline(admin.TabularInline):
    model = JobLogLine
    extra = 0
    can_delete = False
    readonly_fields = ("created_at", "attempt", "message")


class JobResultFileInline(admin.TabularInline):
    model = JobResultFile
    extra = 0
    can_delete = False
    readonly_fields = ("name", "path", "size", "sha384", "created_at")


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "status", "progress", "attempts", "deployment", "created_by", "created_at")
    list_filter = ("status", "kind")
    inlines = [JobResultFileInline, JobLogLineInline]
    readonly_fields = [f.name for f in Job._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False
