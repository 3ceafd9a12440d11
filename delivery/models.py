"""A bundle build known to the console: where its files are, what its build report and acceptance said.

The files are the truth: the fingerprint is the SHA-384 of the bundle's manifest.json, re-checked before a
file is served or attached; the row only remembers where to look and what was found there.
"""

from django.conf import settings
from django.db import models


class BuildStatus(models.TextChoices):
    BUILDING = "building", "Building"
    BUILT = "built", "Built"
    FAILED = "failed", "Failed"


class AcceptanceStatus(models.TextChoices):
    NONE = "", "Not run"
    RUNNING = "running", "Running"
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"


class BundleBuild(models.Model):
    platform = models.CharField(max_length=32)
    status = models.CharField(max_length=16, choices=BuildStatus.choices, default=BuildStatus.BUILDING)
    bundle_version = models.CharField(max_length=64, blank=True)
    commit = models.CharField(max_length=40, blank=True)
    fingerprint = models.CharField(max_length=103, blank=True)  # sha384:<96 hex> of manifest.json
    bundle_dir = models.CharField(max_length=1000, blank=True)
    build_report = models.JSONField(default=dict, blank=True)
    # SHA-384 of manifest.sig and manifest.asc when the build was recorded (they cannot be in the manifest).
    signatures = models.JSONField(default=dict, blank=True)
    # The CI run record (docs/schemas/ci_run_v1.json) of the pipeline run that built it, if registered.
    ci_run_path = models.CharField(max_length=1000, blank=True)
    ci_run_sha384 = models.CharField(max_length=103, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    acceptance_status = models.CharField(
        max_length=16, choices=AcceptanceStatus.choices, default=AcceptanceStatus.NONE, blank=True
    )
    acceptance_path = models.CharField(max_length=1000, blank=True)
    acceptance_sha384 = models.CharField(max_length=103, blank=True)
    acceptance_report = models.JSONField(default=dict, blank=True)
    acceptance_job = models.ForeignKey(
        "jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.platform} {self.bundle_version or '?'} {self.fingerprint[:19] or self.status}"
