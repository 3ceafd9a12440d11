"""Reads of console-level records, filtered by who asks."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.utils import timezone

from audit.authorization import is_admin
from audit.models import SigningLockout

from .models import ApiToken


def _is_admin(user) -> bool:
    return user.is_authenticated and is_admin(user)


def api_token_list_visible(*, user) -> QuerySet[ApiToken]:
    if not user.is_authenticated:
        return ApiToken.objects.none()
    tokens = ApiToken.objects.select_related("user")
    return tokens if _is_admin(user) else tokens.filter(user=user)


def lockout_list_visible(*, user) -> list[dict]:
    """Accounts locked out now, for admins: the login lockout per (username, address) within its cool-off,
    and the signing lockout per person."""
    from axes.models import AccessAttempt

    if not _is_admin(user):
        return []
    attempts = AccessAttempt.objects.filter(failures_since_start__gte=settings.AXES_FAILURE_LIMIT)
    if settings.AXES_COOLOFF_TIME is not None:
        attempts = attempts.filter(attempt_time__gte=timezone.now() - settings.AXES_COOLOFF_TIME)
    rows: dict[str, dict] = {}
    for attempt in attempts.order_by("username", "ip_address"):
        row = rows.setdefault(
            attempt.username, {"username": attempt.username, "addresses": [], "signing": False}
        )
        row["addresses"].append(attempt.ip_address or "")
    signing = SigningLockout.objects.filter(locked_at__isnull=False).values_list("user_id", flat=True)
    for username in get_user_model().objects.filter(pk__in=signing).values_list("username", flat=True):
        rows.setdefault(username, {"username": username, "addresses": [], "signing": False})["signing"] = True
    return sorted(rows.values(), key=lambda r: r["username"])
