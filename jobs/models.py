"""Durable jobs. The row is the queue: a lost broker message delays a job, it never loses it."""

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


TERMINAL_STATUSES = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


class Job(models.Model):
    kind = models.CharField(max_length=64, db_index=True)
    status = models.CharField(
        max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED, db_index=True
    )
    progress = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(100)])
    params = models.JSONField(default=dict, blank=True)
    deployment = models.ForeignKey(
        "audit.Deployment", null=True, blank=True, on_delete=models.PROTECT, related_name="jobs"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The lease fences workers: only the holder of the current token may report progress or finish.
    lease_token = models.UUIDField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    worker = models.CharField(max_length=200, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=3)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(progress__lte=100), name="job_progress_at_most_100"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.status})"

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


class JobLogLine(models.Model):
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="log_lines")
    created_at = models.DateTimeField(auto_now_add=True)
    attempt = models.PositiveSmallIntegerField(default=0)
    message = models.CharField(max_length=1000)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.message


class JobResultFile(models.Model):
    """A file a job produced or examined, with the hash that evidence entries will cite."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="result_files")
    name = models.CharField(max_length=255)
    path = models.CharField(max_length=1000)
    size = models.PositiveBigIntegerField()
    sha384 = models.CharField(max_length=96)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["job", "name"], name="job_result_name_unique")]

    def __str__(self) -> str:
        return f"{self.name} sha384:{self.sha384}"


def new_lease_token() -> uuid.UUID:
    return uuid.uuid4()
