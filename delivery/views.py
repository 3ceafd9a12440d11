"""Bundles pages: builds with their steps and acceptance, downloads checked against their hashes, starting a
build or an acceptance, attaching a build to a checklist. A role the rule ``bundle.view`` refuses gets 403, a
build that does not exist 404. The services ask the rules (delivery/rules.py) who may act; a refusal of the
actor becomes its page in the console's middleware, a `DeliveryRefused` is shown on the page it came from."""

from pathlib import Path

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from audit.authorization import authorize, may
from audit.refusals import refusal_response
from audit.selectors import deployment_list_visible
from audit.trust.hashing import sha384_file

from . import selectors, services
from .models import BundleBuild


def _visible(request, pk) -> BundleBuild:
    # A role that may not see bundles is told so (403) rather than shown an empty page of them.
    authorize(request.user, "bundle.view")
    return get_object_or_404(selectors.bundle_build_list_visible(user=request.user), pk=pk)


@login_required
def bundle_list(request):
    authorize(request.user, "bundle.view")
    if request.method == "POST":
        try:
            build = services.bundle_build_start(platform=request.POST.get("platform", ""), actor=request.user)
        except services.DeliveryRefused as exc:
            return refusal_response(request, exc, prefix="Cannot build", back="bundle-list")
        return redirect("bundle-detail", pk=build.pk)
    builds = list(selectors.bundle_build_list_visible(user=request.user)[:50])
    for build in builds:
        build.steps = selectors.bundle_build_steps(build)
    return render(
        request,
        "delivery/bundle_list.html",
        {
            "builds": builds,
            "platforms": services.PLATFORMS,
            "can_build": may(request.user, "bundle.build"),
        },
    )


@login_required
def bundle_detail(request, pk: int):
    build = _visible(request, pk)
    return render(
        request,
        "delivery/bundle_detail.html",
        {
            "build": build,
            "steps": selectors.bundle_build_steps(build),
            "files": sorted(selectors.bundle_build_files(build)),
            "sections": build.acceptance_report.get("sections", []),
            "can_accept": may(request.user, "bundle.accept", build=build),
            "deployments": deployment_list_visible(user=request.user),
            "checklists": selectors.bundle_evidence_checklists(),
        },
    )


@login_required
def bundle_download(request, pk: int, name: str):
    build = _visible(request, pk)
    entry = selectors.bundle_build_files(build).get(name)
    if entry is None:
        raise Http404("no such file")
    path = Path(entry["path"])
    if not path.is_file() or f"sha384:{sha384_file(path)}" != entry["sha384"]:
        # A file that no longer matches what was recorded is never served as if it did.
        return HttpResponse(f"{name} no longer matches its recorded SHA-384", status=409)
    return FileResponse(path.open("rb"), as_attachment=True, filename=path.name)


@login_required
@require_POST
def bundle_accept(request, pk: int):
    build = _visible(request, pk)
    try:
        job = services.bundle_acceptance_start(
            build=build,
            actor=request.user,
            rebuild=request.POST.get("rebuild") == "on",
            allow_virtual=request.POST.get("allow_virtual") == "on",
        )
    except services.DeliveryRefused as exc:
        return refusal_response(
            request, exc, prefix="Cannot start the acceptance", back="bundle-detail", pk=pk
        )
    return redirect("job-detail", pk=job.pk)


@login_required
@require_POST
def bundle_attach(request, pk: int):
    build = _visible(request, pk)
    checklist_id = request.POST.get("checklist", "")
    try:
        deployment_id = int(request.POST.get("deployment", ""))
        attached = services.bundle_build_attach(
            build=build, deployment_id=deployment_id, checklist_id=checklist_id, actor=request.user
        )
    except ValueError:
        messages.error(request, "Not attached: choose a deployment")
        return redirect("bundle-detail", pk=pk)
    except services.DeliveryRefused as exc:
        return refusal_response(request, exc, prefix="Not attached", back="bundle-detail", pk=pk)
    messages.success(request, f"Attached {', '.join(a.name for a in attached)} to {checklist_id}.")
    return redirect("checklist", pk=deployment_id, checklist_id=checklist_id)
