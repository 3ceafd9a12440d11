"""Checklist and gate pages: attach evidence, sign steps, export, propose and sign gate decisions."""

from pathlib import Path

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from audit.runbooks.model import checklist as checklist_definition
from audit.runbooks.model import load_runbooks
from audit.trust.gates import GATES
from audit.trust.hashing import sha384_file

from .authorization import may
from .errors import NotFound, Refused, TooLarge
from .models import Deployment, SignatureMeaning
from .refusals import refusal_response
from .selectors import (
    checklist_complete,
    current_attachments,
    current_checklist,
    decision_proposal_list_visible,
    deployment_list_visible,
    gate_checklist_ids,
)
from .services import checklist_attach, checklist_export, decision_propose, decision_sign, step_sign
from .services.checklists import printed_name
from .services.gate_decisions import decision_missing, gate_artefacts, gate_evidence_verdicts


def _deployment(request, pk) -> Deployment:
    return get_object_or_404(deployment_list_visible(user=request.user), pk=pk)


def _definition(checklist_id: str):
    try:
        return checklist_definition(checklist_id)
    except (KeyError, ValueError):
        raise Http404("no such checklist") from None


@login_required
def checklist_page(request, pk: int, checklist_id: str):
    deployment = _deployment(request, pk)
    definition = _definition(checklist_id)
    instance = current_checklist(deployment, checklist_id)
    attachments = current_attachments(instance) if instance else {}
    signatures = list(instance.signatures.select_related("user")) if instance else []
    steps = []
    for step in definition.steps:
        step_signatures = [s for s in signatures if s.step_id == step.id]
        active = [s for s in step_signatures if not s.is_void]
        on_step = {"checklist_id": checklist_id, "step_id": step.id}  # the deployment is visible: fetched so
        steps.append(
            {
                "step": step,
                "artefacts": [
                    {"spec": a, "attachment": attachments.get((step.id, a.name))} for a in step.artefacts
                ],
                "signatures": step_signatures,
                "signed": bool(active),
                "can_sign": not active and may(request.user, "checklist.sign", **on_step),
                "can_attach": may(request.user, "checklist.attach", **on_step),
            }
        )
    return render(
        request,
        "audit/checklist.html",
        {
            "deployment": deployment,
            "definition": definition,
            "instance": instance,
            "steps": steps,
            "meanings": SignatureMeaning.choices,
            "printed_name": printed_name(request.user),
            "complete": bool(instance) and checklist_complete(instance),
            "can_export": bool(instance) and may(request.user, "checklist.export", checklist=instance),
        },
    )


def _refused(request, exc: Refused, back: str, prefix: str = "", **kwargs):
    """Back to the page with the reason. What is not there stays a 404 and a refused upload a 413 (the
    console's RefusedMiddleware answers them): going back to the form would not help either."""
    if isinstance(exc, NotFound | TooLarge):
        return refusal_response(request, exc)
    return refusal_response(request, exc, back=back, prefix=prefix, **kwargs)


@login_required
@require_POST
def checklist_attach_view(request, pk: int, checklist_id: str, step_id: str):
    deployment = _deployment(request, pk)
    try:
        checklist_attach(
            actor=request.user,
            deployment=deployment,
            checklist_id=checklist_id,
            step_id=step_id,
            name=request.POST.get("name", ""),
            uploaded=request.FILES.get("file"),
            value=request.POST.get("value", ""),
        )
    except Refused as exc:
        return _refused(request, exc, "checklist", pk=pk, checklist_id=checklist_id)
    messages.success(request, "Attached.")
    return redirect("checklist", pk=pk, checklist_id=checklist_id)


@sensitive_post_parameters("password")
@login_required
@require_POST
def checklist_sign_view(request, pk: int, checklist_id: str, step_id: str):
    deployment = _deployment(request, pk)
    try:
        step_sign(
            actor=request.user,
            deployment=deployment,
            checklist_id=checklist_id,
            step_id=step_id,
            password=request.POST.get("password", ""),
            meaning=request.POST.get("meaning", ""),
            reason=request.POST.get("reason", ""),
            request=request,
        )
    except Refused as exc:
        return _refused(request, exc, "checklist", "Not signed", pk=pk, checklist_id=checklist_id)
    messages.success(request, "Signed.")
    return redirect("checklist", pk=pk, checklist_id=checklist_id)


@login_required
@require_POST
def checklist_export_view(request, pk: int, checklist_id: str):
    deployment = _deployment(request, pk)
    instance = current_checklist(deployment, checklist_id)
    if instance is None:
        raise Http404("no such checklist")
    try:
        checklist_export(actor=request.user, checklist=instance)
    except Refused as exc:
        return _refused(request, exc, "checklist", pk=pk, checklist_id=checklist_id)
    messages.success(request, "Signed checklist exported.")
    return redirect("checklist", pk=pk, checklist_id=checklist_id)


@login_required
def checklist_download(request, pk: int, checklist_id: str, fmt: str):
    deployment = _deployment(request, pk)
    instance = current_checklist(deployment, checklist_id)
    if instance is None or not instance.exported_path or fmt not in {"json", "pdf"}:
        raise Http404("not exported")
    path = deployment.evidence_dir / instance.exported_path
    if fmt == "json" and sha384_file(path) != instance.exported_sha384:
        return HttpResponse("the exported checklist no longer matches its recorded SHA-384", status=409)
    target = path if fmt == "json" else Path(path).with_suffix(".pdf")
    return FileResponse(target.open("rb"), as_attachment=True, filename=target.name)


@login_required
def gate_page(request, pk: int, gate: str):
    deployment = _deployment(request, pk)
    if gate not in GATES:
        raise Http404("no such gate")
    runbooks = load_runbooks()
    checklists, read = [], {}
    for checklist_id in gate_checklist_ids(gate):
        instance = current_checklist(deployment, checklist_id)
        complete = bool(instance) and checklist_complete(instance)
        read[checklist_id] = (instance, complete)
        definition = checklist_definition(checklist_id, runbooks)
        checklists.append({"definition": definition, "instance": instance, "complete": complete})
    proposal = (
        decision_proposal_list_visible(user=request.user).filter(deployment=deployment, gate=gate).first()
    )
    # Read once, used three times: the list, the verdicts and what is missing.
    artefacts = gate_artefacts(deployment, gate, read)
    verdicts = gate_evidence_verdicts(deployment, gate, artefacts)
    return render(
        request,
        "audit/gate.html",
        {
            "deployment": deployment,
            "gate": GATES[gate],
            "checklists": checklists,
            "missing": decision_missing(deployment, gate, artefacts=artefacts, verdicts=verdicts),
            "artefacts": artefacts,
            "verdicts": verdicts,
            "proposal": proposal,
            "can_propose": may(request.user, "gate.propose"),
            "can_sign": bool(proposal) and may(request.user, "gate.sign", proposal=proposal),
            "printed_name": printed_name(request.user),
        },
    )


@login_required
@require_POST
def gate_propose_view(request, pk: int, gate: str):
    deployment = _deployment(request, pk)
    if gate not in GATES:
        raise Http404("no such gate")
    try:
        decision_propose(actor=request.user, deployment=deployment, gate=gate)
    except Refused as exc:
        return _refused(request, exc, "gate", pk=pk, gate=gate)
    return redirect("gate", pk=pk, gate=gate)


@sensitive_post_parameters("password")
@login_required
@require_POST
def gate_sign_view(request, pk: int, gate: str, proposal_id: int):
    proposal = get_object_or_404(
        decision_proposal_list_visible(user=request.user), deployment_id=pk, gate=gate, pk=proposal_id
    )
    try:
        decision_sign(
            actor=request.user, proposal=proposal, password=request.POST.get("password", ""), request=request
        )
    except Refused as exc:
        return _refused(request, exc, "gate", "Not signed", pk=pk, gate=gate)
    messages.success(request, "Decision signed.")
    return redirect("gate", pk=pk, gate=gate)
