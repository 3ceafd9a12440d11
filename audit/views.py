"""The decision-log page of a deployment: the timeline, the strict verifier's verdict and the gates."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render

from audit.trust.decision_log import STATUS_RULES
from audit.trust.gates import GATES

from .evidence import deployment_evidence
from .models import Deployment
from .selectors import deployment_get_visible

# What a signature in a decision entry means, shown beside the signer's name.
ROLE_MEANINGS = {
    "owner": "approved as product owner",
    "compliance": "approved as compliance officer",
    "engineer": "performed as engineer",
}


@login_required
def decision_log(request, pk: int):
    try:
        deployment = deployment_get_visible(user=request.user, pk=pk)
    except Deployment.DoesNotExist:
        raise Http404("no such deployment") from None
    state = deployment_evidence(deployment)
    timeline = [
        {
            "log": entry.log,
            "line": entry.line,
            "seq": entry.entry["seq"],
            "timestamp": entry.timestamp,
            "stage": entry.stage,
            "status": entry.status,
            "artefacts": entry.entry["artefacts"],
            "flags": entry.entry["runtime_flags"],
            "signatures": [
                {
                    "role": role,
                    "user": user,
                    "meaning": ROLE_MEANINGS.get(role, role),
                    "kid": entry.signer_kids[role],
                }
                for role, user in sorted(entry.signers.items())
            ],
        }
        for entry in sorted(state.report.entries, key=lambda e: (e.timestamp, e.log, e.line))
    ]
    gates = [
        {"gate": GATES[name], "evaluation": evaluation, "rule": STATUS_RULES[GATES[name].status]}
        for name, evaluation in state.gates.items()
    ]
    return render(
        request,
        "audit/decision_log.html",
        {"deployment": deployment, "state": state, "timeline": timeline, "gates": gates},
    )


def _audit_trail_or_403(request):
    from django.core.exceptions import PermissionDenied

    from .selectors import audit_event_list_visible

    if not request.user.has_perm("audit.view_auditevent"):
        raise PermissionDenied
    events = audit_event_list_visible(user=request.user)
    if request.GET.get("action"):
        events = events.filter(action__startswith=request.GET["action"])
    if request.GET.get("actor"):
        events = events.filter(actor=request.GET["actor"])
    if request.GET.get("outcome"):
        events = events.filter(outcome=request.GET["outcome"])
    return events


@login_required
def audit_trail(request):
    from django.core.paginator import Paginator

    from .services import audit_trail_problems

    events = _audit_trail_or_403(request)
    page = Paginator(events, 100).get_page(request.GET.get("page"))
    return render(
        request,
        "audit/trail.html",
        {"page": page, "filters": request.GET, "problems": audit_trail_problems()},
    )


@login_required
def audit_trail_export(request):
    """JSONL, oldest first, exactly the hashed bodies plus their hashes: re-verifiable outside the console."""
    import json

    from django.http import StreamingHttpResponse

    from .services import audit_event_record, stored_event_body

    events = _audit_trail_or_403(request).order_by("seq")
    audit_event_record(
        action="audit.export", actor=request.user, detail={"filters": dict(request.GET.items())}
    )

    def lines():
        for event in events.iterator(chunk_size=500):
            yield json.dumps({**stored_event_body(event), "hash": event.hash}, sort_keys=True) + "\n"

    response = StreamingHttpResponse(lines(), content_type="application/x-ndjson")
    response["Content-Disposition"] = 'attachment; filename="audit_trail.jsonl"'
    return response
