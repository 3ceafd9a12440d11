"""Checklist and gate pages: attach evidence, sign steps, export, propose and sign gate decisions."""

from pathlib import Path

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from audit.runbooks.model import checklist as checklist_definition
from audit.runbooks.model import load_runbooks
from audit.trust.gates import GATES
from audit.trust.hashing import sha384_file

from .models import DecisionProposal, Deployment, SignatureMeaning
from .selectors import deployment_get_visible
from .services import (
    SignatureRefused,
    checklist_attach,
    checklist_export,
    checklist_open,
    decision_propose,
    decision_sign,
    step_sign,
)
from .services.checklists import checklist_may_attach, current_attachments, printed_name
from .services.gate_decisions import (
    checklist_complete,
    current_checklist,
    decision_missing,
    gate_artefacts,
    gate_checklist_ids,
    gate_evidence_verdicts,
)
from .uploads import UploadRefused, upload_refused_response


def _deployment(request, pk) -> Deployment:
    try:
        return deployment_get_visible(user=request.user, pk=pk)
    except Deployment.DoesNotExist:
        raise Http404("no such deployment") from None


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
    user_roles = set(request.user.groups.values_list("name", flat=True))
    steps = []
    for step in definition.steps:
        step_signatures = [s for s in signatures if s.step_id == step.id]
        active = [s for s in step_signatures if not s.is_void]
        steps.append(
            {
                "step": step,
                "artefacts": [
                    {"spec": a, "attachment": attachments.get((step.id, a.name))} for a in step.artefacts
                ],
                "signatures": step_signatures,
                "signed": bool(active),
                "can_sign": step.responsible in user_roles and not active,
                "can_attach": step.responsible in user_roles or "admin" in user_roles,
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
        },
    )


def may_attach(user, checklist_id: str, step_id: str) -> bool:
    return checklist_may_attach(user=user, checklist_id=_definition(checklist_id).id, step_id=step_id)


def _back(pk, checklist_id):
    return redirect("checklist", pk=pk, checklist_id=checklist_id)


@login_required
@require_POST
def checklist_attach_view(request, pk: int, checklist_id: str, step_id: str):
    deployment = _deployment(request, pk)
    _definition(checklist_id)
    try:
        step = _definition(checklist_id).step(step_id)
    except KeyError:
        raise Http404("no such step") from None
    if not may_attach(request.user, checklist_id, step_id):
        messages.error(request, f"Only the {step.responsible} role attaches evidence to this step.")
        return _back(pk, checklist_id)
    instance = checklist_open(deployment=deployment, checklist_id=checklist_id, user=request.user)
    try:
        checklist_attach(
            checklist=instance,
            step_id=step_id,
            name=request.POST.get("name", ""),
            user=request.user,
            uploaded=request.FILES.get("file"),
            value=request.POST.get("value", ""),
        )
    except UploadRefused as exc:
        return upload_refused_response(request, str(exc))
    except SignatureRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Attached.")
    return _back(pk, checklist_id)


@sensitive_post_parameters("password")
@login_required
@require_POST
def checklist_sign_view(request, pk: int, checklist_id: str, step_id: str):
    deployment = _deployment(request, pk)
    _definition(checklist_id)
    try:
        step_sign(
            deployment=deployment,
            checklist_id=checklist_id,
            step_id=step_id,
            user=request.user,
            password=request.POST.get("password", ""),
            meaning=request.POST.get("meaning", ""),
            reason=request.POST.get("reason", ""),
            request=request,
        )
    except SignatureRefused as exc:
        messages.error(request, f"Not signed: {exc}")
        return _back(pk, checklist_id)
    messages.success(request, "Signed.")
    return _back(pk, checklist_id)


@login_required
@require_POST
def checklist_export_view(request, pk: int, checklist_id: str):
    deployment = _deployment(request, pk)
    instance = current_checklist(deployment, checklist_id)
    if instance is None:
        raise Http404("no such checklist")
    try:
        checklist_export(checklist=instance, user=request.user)
    except SignatureRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Signed checklist exported.")
    return _back(pk, checklist_id)


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
    proposal = DecisionProposal.objects.filter(deployment=deployment, gate=gate).first()
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
        decision_propose(deployment=deployment, gate=gate, user=request.user)
    except SignatureRefused as exc:
        messages.error(request, str(exc))
    return redirect("gate", pk=pk, gate=gate)


@sensitive_post_parameters("password")
@login_required
@require_POST
def gate_sign_view(request, pk: int, gate: str, proposal_id: int):
    deployment = _deployment(request, pk)
    proposal = DecisionProposal.objects.filter(deployment=deployment, gate=gate, pk=proposal_id).first()
    if proposal is None:
        raise Http404("no such proposal")
    try:
        decision_sign(
            proposal=proposal, user=request.user, password=request.POST.get("password", ""), request=request
        )
    except SignatureRefused as exc:
        messages.error(request, f"Not signed: {exc}")
    else:
        messages.success(request, "Decision signed.")
    return redirect("gate", pk=pk, gate=gate)
