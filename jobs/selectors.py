"""Reads for jobs, filtered to what the user may see."""

from django.db.models import Q, QuerySet

from audit.selectors import deployment_list_visible

from .models import Job


def job_list_visible(*, user) -> QuerySet[Job]:
    """Global view permission sees every job; others see their own and those of their deployments."""
    if not user.is_authenticated:
        return Job.objects.none()
    jobs = Job.objects.select_related("deployment", "created_by")
    if user.has_perm("jobs.view_job"):
        return jobs
    visible = deployment_list_visible(user=user).values("pk")
    return jobs.filter(Q(created_by=user) | Q(deployment__in=visible))


def job_get_visible(*, user, pk) -> Job:
    return job_list_visible(user=user).prefetch_related("log_lines", "result_files").get(pk=pk)
