"""Looking up a runbook checklist for a deployment from a URL: unknown ids are 404, not errors."""

from django.http import Http404

from audit.runbooks.model import RunbookError

from .services import checklist_open


def open_checklist_or_404(deployment, checklist_id: str, user):
    try:
        return checklist_open(deployment=deployment, checklist_id=checklist_id, user=user)
    except (KeyError, RunbookError):
        raise Http404("no such checklist") from None
