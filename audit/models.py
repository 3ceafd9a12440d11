"""Deployments and the append-only, hash-chained audit trail."""

from pathlib import Path

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
    # Where this deployment's evidence (decision logs, artefacts) lives, relative to OEM_DATA_DIR.
    # Blank: the installation's own data directory, the one its daemon reads.
    evidence_subdir = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.stage})"

    @property
    def evidence_dir(self) -> Path:
        root = Path(settings.OEM_DATA_DIR)
        return root / self.evidence_subdir if self.evidence_subdir else root


class DecisionEntry(models.Model):
    """Display mirror of one verified decision-log line. The signed file is the truth; the reconcile
    command reports and repairs any divergence."""

    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="decision_entries")
    log = models.CharField(max_length=20)
    seq = models.PositiveIntegerField()
    timestamp = models.DateTimeField()
    stage = models.CharField(max_length=8)
    status = models.CharField(max_length=20)
    line_hash = models.CharField(max_length=104)
    signers = models.JSONField(default=dict)  # role -> username
    entry = models.JSONField()

    class Meta:
        ordering = ["timestamp", "log", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["deployment", "log", "seq"], name="decision_entry_unique")
        ]

    def __str__(self) -> str:
        return f"{self.log}#{self.seq} {self.status}"


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
