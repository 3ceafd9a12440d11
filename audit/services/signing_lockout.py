"""The e-signature lockout: consecutive wrong passwords at signing time lock the person's signing after
OEM_SIGNING_FAILURES (5), until an admin unlocks it. Kept apart from the login lockout on purpose: that one
is per (username, address) with a cool-off so nobody can lock someone else out of the console; this one is
per person without a cool-off, as the signature rules require. Each update is its own small transaction so
a refused signature still counts."""

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from audit.models import SigningLockout

from .trail import audit_event_record


def signing_locked(*, user) -> bool:
    return SigningLockout.objects.filter(user=user, locked_at__isnull=False).exists()


@transaction.atomic
def signing_failure_record(*, user) -> bool:
    """Count one wrong signing password; True when this failure locked the person's signing."""
    row, _ = SigningLockout.objects.select_for_update().get_or_create(user=user)
    SigningLockout.objects.filter(pk=row.pk).update(failures=F("failures") + 1)
    row.refresh_from_db()
    if row.locked_at is None and row.failures >= settings.OEM_SIGNING_FAILURES:
        row.locked_at = timezone.now()
        row.save(update_fields=["locked_at"])
        audit_event_record(
            action="esign.locked",
            actor=user,
            outcome="denied",
            object_type="user",
            object_id=user.pk,
            detail={"failures": row.failures},
        )
        return True
    return False


def signing_success_record(*, user) -> None:
    SigningLockout.objects.filter(user=user, locked_at__isnull=True).update(failures=0)
