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
