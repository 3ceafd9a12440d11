"""Authentication outcomes become audit events: logins, failed logins, lockouts."""

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from audit.services import audit_event_record


def _client(request) -> dict:
    return {"ip": request.META.get("REMOTE_ADDR", "")} if request is not None else {}


@receiver(user_logged_in)
def _logged_in(sender, request, user, **kwargs):
    audit_event_record(
        action="auth.login", actor=user, object_type="user", object_id=user.pk, detail=_client(request)
    )


@receiver(user_logged_out)
def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        audit_event_record(action="auth.logout", actor=user, object_type="user", object_id=user.pk)


@receiver(user_login_failed)
def _login_failed(sender, credentials, request=None, **kwargs):
    # Never the password: only the name that was tried.
    audit_event_record(
        action="auth.login_failed",
        actor=str(credentials.get("username", ""))[:150],
        outcome="denied",
        detail=_client(request),
    )


@receiver(user_locked_out)
def _locked_out(sender, request, username, ip_address, **kwargs):
    audit_event_record(
        action="auth.locked_out",
        actor=str(username or "")[:150],
        outcome="denied",
        detail={"ip": ip_address or ""},
    )
