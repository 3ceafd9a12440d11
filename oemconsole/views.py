"""Console pages. Thin: selectors for reads, services for writes."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from audit.models import Deployment
from audit.selectors import audit_event_recent_for_dashboard, deployment_get_visible, deployment_list_visible
from jobs import selectors as job_selectors
from jobs import services as job_services
from jobs.models import Job


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
    job = job_services.artefact_hash_start(uploaded_file=uploaded, user=request.user, deployment=deployment)
    return redirect("job-detail", pk=job.pk)
