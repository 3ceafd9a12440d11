"""Console pages. Thin: selectors for reads, services for writes."""

from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from audit.models import Deployment
from audit.selectors import audit_event_recent_for_dashboard, deployment_get_visible, deployment_list_visible
from audit.trust.hashing import sha384_file
from audit.uploads import UploadRefused, upload_refused_response
from jobs import selectors as job_selectors
from jobs import services as job_services
from jobs.models import Job, JobResultFile, JobStatus
from oemconsole.errors import refusal_response


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
            "can_start_jobs": user.has_perm("jobs.add_job"),
            "runbook_jobs": [
                ("smoke_demo", "Smoke demo strategies"),
                ("live_dry_run", "Live execution dry run"),
            ],
        },
    )


@login_required
def deployment_detail(request, pk: int):
    try:
        deployment = deployment_get_visible(user=request.user, pk=pk)
    except Deployment.DoesNotExist:
        raise Http404("no such deployment") from None
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
    if not request.user.has_perm("jobs.add_job") or not request.user.has_perm("audit.view_auditevent"):
        raise PermissionDenied
    job = job_services.audit_trail_check_start(user=request.user)
    messages.success(request, "Full re-check of the audit trail started.")
    return redirect("job-detail", pk=job.pk)


@login_required
def job_detail(request, pk: int):
    try:
        job = job_selectors.job_get_visible(user=request.user, pk=pk)
    except Job.DoesNotExist:
        raise Http404("no such job") from None
    return render(request, "oemconsole/job_detail.html", {"job": job})


@login_required
@require_POST
def artefact_hash_start(request):
    if not request.user.has_perm("jobs.add_job"):
        raise PermissionDenied
    uploaded = request.FILES.get("file")
    if uploaded is None:
        messages.error(request, "Choose a file to hash.")
        return redirect("dashboard")
    deployment = None
    if request.POST.get("deployment"):
        try:
            deployment = deployment_get_visible(user=request.user, pk=int(request.POST["deployment"]))
        except (Deployment.DoesNotExist, ValueError):
            messages.error(request, "No such deployment.")
            return redirect("dashboard")
    try:
        job = job_services.artefact_hash_start(
            uploaded_file=uploaded, user=request.user, deployment=deployment
        )
    except UploadRefused as exc:
        return upload_refused_response(request, str(exc))
    return redirect("job-detail", pk=job.pk)


def _result_file_path(result) -> Path:
    path = Path(result.path)
    return path if path.is_absolute() else Path(settings.MEDIA_ROOT) / path


@login_required
def checklist_pick_job_result(request, pk: int, checklist_id: str, step_id: str):
    """Attach a file a finished job produced (a hashed upload, a report) instead of uploading it again. The
    file is hashed again on arrival and must still match the hash its job recorded."""
    from django.core.files import File

    from audit.errors import Invalid, NotFound, Refused, TooLarge
    from audit.services import checklist_attach

    try:
        deployment = deployment_get_visible(user=request.user, pk=pk)
    except Deployment.DoesNotExist:
        raise Http404("no such deployment") from None
    name = request.GET.get("name") or request.POST.get("name", "")
    results = JobResultFile.objects.filter(
        job__in=job_selectors.job_list_visible(user=request.user), job__status=JobStatus.SUCCEEDED
    ).select_related("job")
    if request.method == "POST":
        result = results.filter(pk=request.POST.get("result")).first()
        if result is None:
            raise Http404("no such job result")
        path = _result_file_path(result)
        try:
            # The checklist.attach rule is asked first, inside the service: a refusal leaves no row, no event.
            if not path.is_file() or sha384_file(path) != result.sha384:
                raise Invalid(f"{result.name} no longer matches the SHA-384 its job recorded")
            with open(path, "rb") as handle:
                checklist_attach(
                    actor=request.user,
                    deployment=deployment,
                    checklist_id=checklist_id,
                    step_id=step_id,
                    name=name,
                    uploaded=File(handle, name=result.name),
                )
        except (NotFound, TooLarge) as exc:
            return refusal_response(request, exc)
        except Refused as exc:
            messages.error(request, f"Not attached: {exc}")
        else:
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
    if not request.user.has_perm("jobs.add_job"):
        raise PermissionDenied
    deployment = None
    if request.POST.get("deployment"):
        try:
            deployment = deployment_get_visible(user=request.user, pk=int(request.POST["deployment"]))
        except (Deployment.DoesNotExist, ValueError):
            raise Http404("no such deployment") from None
    job = starters[kind](user=request.user, deployment=deployment)
    return redirect("job-detail", pk=job.pk)


@login_required
def lockout_list(request):
    """Admins see who is locked out (login per address, signing per person) and unlock an account."""
    from .selectors import lockout_list_visible
    from .services import UnlockRefused, lockout_clear

    if not request.user.groups.filter(name="admin").exists():
        raise PermissionDenied
    if request.method == "POST":
        username = request.POST.get("username", "").strip()[:150]
        if not username:
            messages.error(request, "Choose an account to unlock.")
            return redirect("lockout-list")
        try:
            cleared = lockout_clear(username=username, actor=request.user)
        except UnlockRefused as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request,
                f"Unlocked {username}: {cleared['login_attempts']} login record(s) cleared"
                + (", signing unlocked." if cleared["signing"] else "."),
            )
        return redirect("lockout-list")
    return render(request, "oemconsole/lockouts.html", {"lockouts": lockout_list_visible(user=request.user)})
