"""The decision-log page of a deployment: the timeline, the strict verifier's verdict and the gates."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import SuspiciousOperation
from django.shortcuts import get_object_or_404, render

from audit.authorization import authorize, may
from audit.trust.decision_rules import STATUS_RULES
from audit.trust.gates import GATES

from .evidence import deployment_evidence, trust_identity
from .selectors import deployment_list_visible
from .timeline import timeline_page


@login_required
def decision_log(request, pk: int):
    deployment = get_object_or_404(deployment_list_visible(user=request.user), pk=pk)
    state = deployment_evidence(deployment)
    timeline = timeline_page(
        state.report, log=request.GET.get("log"), page=request.GET.get("page"), seq=request.GET.get("seq")
    )
    gates = [
        {"gate": GATES[name], "evaluation": evaluation, "rule": STATUS_RULES[GATES[name].status]}
        for name, evaluation in state.gates.items()
    ]
    return render(
        request,
        "audit/decision_log.html",
        {
            "deployment": deployment,
            "state": state,
            "timeline": timeline,
            "gates": gates,
            "trust": trust_identity(deployment),
        },
    )


def _audit_trail_or_403(request):
    from .selectors import audit_event_list_visible

    authorize(request.user, "audit_trail.read")  # RefusedMiddleware answers the 403 page
    events = audit_event_list_visible(user=request.user)
    # PostgreSQL refuses NUL in a text parameter with an error, not a miss: a 400 before any query.
    if any("\x00" in request.GET.get(name, "") for name in ("action", "actor", "outcome")):
        raise SuspiciousOperation("NUL character in an audit trail filter")
    if request.GET.get("action"):
        events = events.filter(action__startswith=request.GET["action"])
    if request.GET.get("actor"):
        events = events.filter(actor=request.GET["actor"])
    if request.GET.get("outcome"):
        events = events.filter(outcome=request.GET["outcome"])
    return events


EVENTS_PER_PAGE = 100


def _seq_param(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


@login_required
def audit_trail(request):
    """Newest first, keyset-paginated on seq (`?before=N` older, `?after=N` newer): a deep page costs what
    the first does. The chain is re-checked from the last verified position (audit.services.trail_check)."""
    from .services.trail_check import audit_trail_status

    events = _audit_trail_or_403(request)
    before, after = _seq_param(request.GET.get("before")), _seq_param(request.GET.get("after"))
    if after is not None:
        rows = list(events.filter(seq__gt=after).order_by("seq")[: EVENTS_PER_PAGE + 1])
        newer = len(rows) > EVENTS_PER_PAGE
        rows = rows[:EVENTS_PER_PAGE][::-1]
        older = bool(rows) and events.filter(seq__lt=rows[-1].seq).exists()
    else:
        if before is not None:
            events = events.filter(seq__lt=before)
        rows = list(events.order_by("-seq")[: EVENTS_PER_PAGE + 1])
        older = len(rows) > EVENTS_PER_PAGE
        rows = rows[:EVENTS_PER_PAGE]
        newer = (
            before is not None
            and bool(rows)
            and _audit_trail_or_403(request).filter(seq__gt=rows[0].seq).exists()
        )
    filters = request.GET.copy()
    for key in ("before", "after"):
        filters.pop(key, None)
    return render(
        request,
        "audit/trail.html",
        {
            "events": rows,
            "older": rows[-1].seq if older and rows else None,
            "newer": rows[0].seq if newer and rows else None,
            "filters": request.GET,
            "query": filters.urlencode(),
            "status": audit_trail_status(),
            "can_recheck": may(request.user, "job.audit_trail_check"),
        },
    )


@login_required
def audit_trail_export(request):
    """JSONL, oldest first: the exact MACed bodies plus their MACs, then a head line signed with the audit key
    (trail head, count and digest of the lines): `manage.py verify_audit_trail --export FILE` re-checks it."""
    from django.conf import settings
    from django.http import JsonResponse, StreamingHttpResponse
    from django.utils import timezone

    from audit.chain import export_lines
    from audit.trust.installation import InstallationError, load_installation
    from audit.trust.keyring import KeyRing, KeyRingError, format_time

    from .services import stored_event_body
    from .services.trail import audit_trail_export_record, audit_trail_head

    events = _audit_trail_or_403(request)
    try:
        installation = load_installation(settings.OEM_DATA_DIR)
        signer = KeyRing.load(settings.OEM_DATA_DIR).hmac_signer("audit")
    except (InstallationError, KeyRingError, OSError) as exc:
        return JsonResponse({"detail": f"cannot sign the export: {' '.join(str(exc).split())}"}, status=409)
    filters = {k: v for k, v in request.GET.items() if k in ("action", "actor", "outcome") and v}
    audit_trail_export_record(actor=request.user, filters=filters)
    head = audit_trail_head()
    rows = (
        (stored_event_body(e), e.hash) for e in events.filter(seq__lte=head[0]).order_by("seq").iterator(500)
    )
    lines = export_lines(
        rows,
        signer=signer,
        trail_head=head,
        installation_id=installation.installation_id,
        deployment_id=installation.deployment_id,
        exported_at=format_time(timezone.now()),
        filters=filters,
    )
    response = StreamingHttpResponse(lines, content_type="application/x-ndjson")
    response["Content-Disposition"] = 'attachment; filename="audit_trail.jsonl"'
    return response
