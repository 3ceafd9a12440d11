"""Paper Labs reads, filtered to what the user may see."""

from django.db.models import Q, QuerySet

from audit.selectors import deployment_list_visible

from .models import Dataset, LabRun


def dataset_list_visible(*, user) -> QuerySet[Dataset]:
    # Datasets are shared market data, not customer data: any signed-in role may pick one.
    return Dataset.objects.all() if user.is_authenticated else Dataset.objects.none()


def lab_run_list_visible(*, user) -> QuerySet[LabRun]:
    if not user.is_authenticated:
        return LabRun.objects.none()
    runs = LabRun.objects.select_related("deployment", "created_by", "assemble_job")
    if user.has_perm("risklab.view_labrun"):
        return runs
    visible = deployment_list_visible(user=user).values("pk")
    return runs.filter(Q(created_by=user) | Q(deployment__in=visible))


def lab_run_list_with_progress(*, user) -> QuerySet[LabRun]:
    """Visible runs with their units' mean progress computed by the database (one query per page)."""
    from django.db.models import Avg

    runs = lab_run_list_visible(user=user).annotate(unit_progress=Avg("units__job__progress"))
    return runs.order_by("-created_at", "-id")  # Meta.ordering is not applied to aggregating queries


def lab_run_progress(lab_run: LabRun) -> int:
    """0–100 over the unit jobs plus the assembly, so the bar only fills when the report exists."""
    if hasattr(lab_run, "unit_progress"):  # annotated by lab_run_list_with_progress
        units = lab_run.unit_progress
        if units is None:
            return 0
    else:
        progresses = list(lab_run.units.values_list("job__progress", flat=True))
        if not progresses:
            return 0
        units = sum(progresses) / len(progresses)
    if lab_run.status == "succeeded":
        return 100
    return int(units * 0.95)
