"""Console pages. Thin: selectors for reads, services for writes."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from audit.authorization import authorize, may
from audit.bounds import MAX_ROW_ID
from audit.errors import NotFound, Refused
from audit.refusals import refusal_response
from audit.selectors import audit_event_recent_for_dashboard, deployment_list_visible
from audit.uploads import UploadRefused, upload_refused_response
from jobs import selectors as job_selectors
from jobs import services as job_services


@login_required
def dashboard(request):
    user = request.user
    deployments = deployment_list_visible(user=user)
    return render(
        request,
        "oemconsole/dashboard.html",
        {
            "deployments": deployments,
            "jobs": job_selectors.job_list_visible(user=user)[:15],
            "events": audit_event_recent_for_dashboard(user=user, limit=15),
            "can_start_jobs": may(user, "runbook_job.start"),
            "can_hash_artefacts": may(user, "job.hash_artefact"),
            "runbook_jobs": [
                ("smoke_demo", "Smoke demo strategies"),
                ("live_dry_run", "Live execution dry run"),
            ],
        },
    )


@login_required
def deployment_detail(request, pk: int):
    deployment = get_object_or_404(deployment_list_visible(user=request.user), pk=pk)
    return render(
        request,
        "oemconsole/deployment_detail.html",
        {
            "deployment": deployment,
            "jobs": job_selectors.job_list_visible(user=request.user).filter(deployment=deployment)[:50],
            "events": deployment.audit_events.all()[:50],
        },
    )


@login_required
@require_POST
def audit_trail_recheck(request):
    """Start the full audit-trail re-check now; its verdict shows on /audit/ when the job is done."""
    job = job_services.audit_trail_check_start(actor=request.user)
    messages.success(request, "Full re-check of the audit trail started.")
    return redirect("job-detail", pk=job.pk)


@login_required
def job_detail(request, pk: int):
    jobs = job_selectors.job_list_visible(user=request.user).prefetch_related("log_lines", "result_files")
    job = get_object_or_404(jobs, pk=pk)
    return render(request, "oemconsole/job_detail.html", {"job": job})


@login_required
@require_POST
def artefact_hash_start(request):
    uploaded = request.FILES.get("file")
    if uploaded is None:
        messages.error(request, "Choose a file to hash.")
        return redirect("dashboard")
    deployment = None
    if request.POST.get("deployment"):
        deployment = _visible_deployment(request, request.POST["deployment"])
        if deployment is None:
            messages.error(request, "No such deployment.")
            return redirect("dashboard")
    try:
        job = job_services.artefact_hash_start(
            actor=request.user, uploaded_file=uploaded, deployment=deployment
        )
    except UploadRefused as exc:
        return upload_refused_response(request, str(exc))
    return redirect("job-detail", pk=job.pk)


def _visible_deployment(request, pk: str):
    """The deployment a form names, or None when there is none the user may see (or the id is not one)."""
    if not pk.isdigit() or int(pk) > MAX_ROW_ID:
        return None
    return deployment_list_visible(user=request.user).filter(pk=int(pk)).first()


@login_required
def checklist_pick_job_result(request, pk: int, checklist_id: str, step_id: str):
    """Attach a file a finished job produced (a hashed upload, a report) instead of uploading it again."""
    deployment = get_object_or_404(deployment_list_visible(user=request.user), pk=pk)
    name = request.GET.get("name") or request.POST.get("name", "")
    results = job_selectors.job_result_list_visible(user=request.user)
    if request.method == "POST":
        result_id = request.POST.get("result", "")
        if not result_id.isdigit() or int(result_id) > MAX_ROW_ID:
            raise Http404("no such job result")
        result = get_object_or_404(results, pk=int(result_id))
        try:
            job_services.job_result_attach(
                actor=request.user,
                deployment=deployment,
                checklist_id=checklist_id,
                step_id=step_id,
                name=name,
                result=result,
            )
        except UploadRefused as exc:
            return upload_refused_response(request, str(exc))
        except NotFound:
            raise  # an unknown step is the 404 page, like an unknown deployment
        except Refused as exc:
            return refusal_response(
                request, exc, prefix="Not attached", back="checklist", pk=pk, checklist_id=checklist_id
            )
        messages.success(request, f"Attached {result.name} from job {result.job_id}.")
        return redirect("checklist", pk=pk, checklist_id=checklist_id)
    return render(
        request,
        "oemconsole/pick_job_result.html",
        {
            "deployment": deployment,
            "checklist_id": checklist_id,
            "step_id": step_id,
            "name": name,
            "results": results.order_by("-created_at")[:100],
        },
    )


@login_required
@require_POST
def runbook_job_start(request, kind: str):
    """Start a runbook step that runs the real daemon (smoke demo, live dry run) as a job."""
    from execution import services as execution_services

    starters = {
        execution_services.SMOKE_KIND: execution_services.smoke_demo_start,
        execution_services.DRY_RUN_KIND: execution_services.live_dry_run_start,
    }
    if kind not in starters:
        raise Http404("no such runbook job")
    deployment = None
    if request.POST.get("deployment"):
        deployment = _visible_deployment(request, request.POST["deployment"])
        if deployment is None:
            raise Http404("no such deployment")
    job = starters[kind](actor=request.user, deployment=deployment)
    return redirect("job-detail", pk=job.pk)


@login_required
def lockout_list(request):
    """Admins see who is locked out (login per address, signing per person) and unlock an account."""
    from .selectors import lockout_list_visible
    from .services import lockout_clear

    # The page exists only to unlock: who may see it is who may unlock.
    authorize(request.user, "account.unlock")
    if request.method == "POST":
        username = request.POST.get("username", "").strip()[:150]
        if not username:
            messages.error(request, "Choose an account to unlock.")
            return redirect("lockout-list")
        cleared = lockout_clear(actor=request.user, username=username)
        messages.success(
            request,
            f"Unlocked {username}: {cleared['login_attempts']} login record(s) cleared"
            + (", signing unlocked." if cleared["signing"] else "."),
        )
        return redirect("lockout-list")
    return render(request, "oemconsole/lockouts.html", {"lockouts": lockout_list_visible(user=request.user)})
