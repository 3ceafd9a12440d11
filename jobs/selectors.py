"""Reads for jobs, filtered to what the user may see."""

from django.db.models import Q, QuerySet

from audit.selectors import deployment_list_visible

from .models import Job, JobResultFile, JobStatus


def job_list_visible(*, user) -> QuerySet[Job]:
    """Global view permission sees every job; others see their own and those of their deployments."""
    if not user.is_authenticated:
        return Job.objects.none()
    jobs = Job.objects.select_related("deployment", "created_by")
    if user.has_perm("jobs.view_job"):
        return jobs
    visible = deployment_list_visible(user=user).values("pk")
    return jobs.filter(Q(created_by=user) | Q(deployment__in=visible))


def job_result_list_visible(*, user) -> QuerySet[JobResultFile]:
    """Result files of the succeeded jobs the user may see (what a checklist step may pick as evidence)."""
    jobs = job_list_visible(user=user)
    return JobResultFile.objects.filter(job__in=jobs, job__status=JobStatus.SUCCEEDED).select_related("job")
