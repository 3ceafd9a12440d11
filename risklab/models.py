"""Paper Labs in the console: registered datasets and lab runs fanned out as one job per unit."""

from django.conf import settings
from django.db import models


class Dataset(models.Model):
    """A validated Parquet file known by its SHA-384; reports cite the hash, not the path."""

    name = models.CharField(max_length=200)
    path = models.CharField(max_length=1000)
    sha384 = models.CharField(max_length=96)
    rows = models.PositiveBigIntegerField()
    bar_seconds = models.FloatField()
    first_timestamp = models.DateTimeField()
    last_timestamp = models.DateTimeField()
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "-created_at"]
        constraints = [models.UniqueConstraint(fields=["path", "sha384"], name="dataset_path_hash_unique")]

    def __str__(self) -> str:
        return f"{self.name} ({self.rows} rows)"


class LabRunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    ASSEMBLING = "assembling", "Assembling"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class LabRun(models.Model):
    plan = models.JSONField()
    status = models.CharField(max_length=16, choices=LabRunStatus.choices, default=LabRunStatus.RUNNING)
    deployment = models.ForeignKey(
        "audit.Deployment", null=True, blank=True, on_delete=models.PROTECT, related_name="lab_runs"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    assemble_job = models.OneToOneField(
        "jobs.Job", null=True, blank=True, on_delete=models.PROTECT, related_name="assembled_lab_run"
    )
    run_id = models.CharField(max_length=32, blank=True)
    verdict = models.CharField(max_length=8, blank=True)
    json_path = models.CharField(max_length=1000, blank=True)
    json_sha384 = models.CharField(max_length=96, blank=True)
    pdf_path = models.CharField(max_length=1000, blank=True)
    pdf_sha384 = models.CharField(max_length=96, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"lab run #{self.pk} ({self.status})"


class LabRunUnit(models.Model):
    """One (profile × scenario) of a run, computed by its own job so workers share the lab."""

    lab_run = models.ForeignKey(LabRun, on_delete=models.CASCADE, related_name="units")
    unit_id = models.CharField(max_length=100)
    job = models.OneToOneField("jobs.Job", on_delete=models.PROTECT, related_name="lab_unit")

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["lab_run", "unit_id"], name="lab_unit_unique")]

    def __str__(self) -> str:
        return f"{self.lab_run_id}:{self.unit_id}"
