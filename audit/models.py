"""Deployments and the append-only, hash-chained audit trail."""

from django.conf import settings
from django.db import models


class Stage(models.TextChoices):
    DEMO = "demo", "Demo"
    PAPER = "paper", "Paper"
    LIVE = "live", "Live"


class Deployment(models.Model):
    """One OEM installation. Visible only to users given object permission on it (guardian)."""

    name = models.CharField(max_length=120, unique=True)
    customer = models.CharField(max_length=200)
    # Changed only by a verified gate decision, never edited by hand (read-only in admin and API).
    stage = models.CharField(max_length=8, choices=Stage.choices, default=Stage.DEMO)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.stage})"


class AuditChainHead(models.Model):
    """Single row locked while appending, so concurrent writers cannot fork the chain."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.PositiveBigIntegerField(default=0)
    head_hash = models.CharField(max_length=104)

    def __str__(self) -> str:
        return f"audit chain head #{self.seq}"


class AuditEvent(models.Model):
    """A security decision. Rows are never updated or deleted; each hashes its predecessor."""

    seq = models.PositiveBigIntegerField(unique=True)
    timestamp = models.DateTimeField(db_index=True)
    actor = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=80, db_index=True)
    outcome = models.CharField(max_length=16, default="ok")
    object_type = models.CharField(max_length=80, blank=True)
    object_id = models.CharField(max_length=80, blank=True)
    deployment = models.ForeignKey(
        Deployment, null=True, blank=True, on_delete=models.PROTECT, related_name="audit_events"
    )
    detail = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=104)
    hash = models.CharField(max_length=104, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-seq"]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.outcome} by {self.actor or '-'}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("audit events are append-only")
