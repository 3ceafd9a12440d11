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
    # The installation's own deployment keeps its evidence in OEM_DATA_DIR itself (its daemon reads it
    # there); every other one under deployments/<id>/. No path is stored, so none can be edited to point
    # outside the data directory.
    local = models.BooleanField(default=False, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.stage})"

    @property
    def evidence_dir(self) -> Path:
        root = Path(settings.OEM_DATA_DIR)
        if self.local:
            return root
        if self.pk is None:
            raise ValueError("an unsaved deployment has no evidence directory")
        return root / "deployments" / str(int(self.pk))


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
    """Single row locked while appending, so concurrent writers cannot fork the chain. Every verification
    compares it with the last event (a deleted tail shows), and the witness keeps a copy outside the
    database (a deleted tail with this row rewound shows too). `chain_version` is the head event's."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.PositiveBigIntegerField(default=0)
    head_hash = models.CharField(max_length=160)
    chain_version = models.PositiveSmallIntegerField(default=1)

    def __str__(self) -> str:
        return f"audit chain head #{self.seq}"


class AuditEvent(models.Model):
    """A security decision. Rows are never updated or deleted; each MACs (v2) or hashes (v1, rows written
    before the keyed chain) its predecessor: audit/chain.py."""

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
    prev_hash = models.CharField(max_length=160)
    hash = models.CharField(max_length=160, unique=True)
    chain_version = models.PositiveSmallIntegerField(default=1)
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


class Checklist(models.Model):
    """One runbook checklist (audit/runbooks/data) being worked through for one deployment. `version` pins
    the exact checklist definition every signature on it is bound to."""

    deployment = models.ForeignKey(Deployment, on_delete=models.PROTECT, related_name="checklists")
    checklist_id = models.CharField(max_length=64)
    runbook_id = models.CharField(max_length=64)
    gate = models.CharField(max_length=16, blank=True)
    version = models.CharField(max_length=104)
    created_at = models.DateTimeField(auto_now_add=True)
    exported_path = models.CharField(max_length=1000, blank=True)
    exported_sha384 = models.CharField(max_length=96, blank=True)

    class Meta:
        ordering = ["deployment", "checklist_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["deployment", "checklist_id", "version"], name="checklist_unique_version"
            )
        ]

    def __str__(self) -> str:
        return f"{self.checklist_id} for {self.deployment.name}"


class StepAttachment(models.Model):
    """An artefact attached to a step: a file hashed with SHA-384 on arrival, or a recorded value (a config
    hash, a CI run id). A newer attachment of the same name supersedes the older one."""

    checklist = models.ForeignKey(Checklist, on_delete=models.CASCADE, related_name="attachments")
    step_id = models.CharField(max_length=64)
    name = models.CharField(max_length=64)
    path = models.CharField(max_length=1000, blank=True)  # relative to the deployment's evidence dir
    sha384 = models.CharField(max_length=96, blank=True)
    size = models.PositiveBigIntegerField(null=True, blank=True)
    value = models.CharField(max_length=500, blank=True)
    original_name = models.CharField(max_length=255, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    superseded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.sha384[:12] or self.value})"

    @property
    def is_file(self) -> bool:
        return bool(self.path)


class SignatureMeaning(models.TextChoices):
    PERFORMED = "performed", "Performed"
    REVIEWED = "reviewed", "Reviewed"
    APPROVED = "approved", "Approved"


class StepSignature(models.Model):
    """An electronic signature (21 CFR Part 11 style): who, printed name, when, meaning and reason are all
    inside the Ed25519-signed payload, which also binds the step, the checklist version and the artefact
    hashes. A signature is never edited; when its evidence changes it is voided, visibly."""

    checklist = models.ForeignKey(Checklist, on_delete=models.PROTECT, related_name="signatures")
    step_id = models.CharField(max_length=64)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    role = models.CharField(max_length=20)
    printed_name = models.CharField(max_length=300)
    meaning = models.CharField(max_length=12, choices=SignatureMeaning.choices)
    reason = models.CharField(max_length=500, blank=True)
    signed_at = models.DateTimeField()
    payload = models.JSONField()
    kid = models.CharField(max_length=100)
    signature = models.CharField(max_length=200)
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["signed_at", "id"]

    def __str__(self) -> str:
        return f"{self.printed_name} {self.meaning} {self.step_id}"

    @property
    def is_void(self) -> bool:
        return self.voided_at is not None


class DecisionProposal(models.Model):
    """A gate decision being signed: the unsigned entry is fixed when proposed (seq, prev_hash, time), each
    required signer adds their signature over those exact bytes, and the last one appends it."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        APPENDED = "appended", "Appended"
        STALE = "stale", "Stale"

    deployment = models.ForeignKey(Deployment, on_delete=models.PROTECT, related_name="decision_proposals")
    gate = models.CharField(max_length=16)
    log = models.CharField(max_length=20)
    entry = models.JSONField()
    signatures = models.JSONField(default=dict)  # role -> signature string
    signers = models.JSONField(default=dict)  # role -> username
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.gate} proposal #{self.pk} ({self.status})"


class SigningLockout(models.Model):
    """Wrong passwords re-entered to sign, per person. The e-signature rule: after `OEM_SIGNING_FAILURES`
    (5) in a row the person cannot sign until an admin unlocks them; no cool-off, no per-address count,
    independent of the login lockout."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    failures = models.PositiveSmallIntegerField(default=0)
    locked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"signing lockout of user {self.user_id} ({self.failures} failures)"
