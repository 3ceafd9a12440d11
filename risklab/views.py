"""Paper Labs pages: launch a lab, follow its progress, read and download its report."""

from pathlib import Path

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render

from audit.models import Deployment
from audit.selectors import deployment_get_visible, deployment_list_visible
from audit.trust.canonical import strict_loads
from audit.trust.hashing import sha384_file
from risklab.engine.data import MarketDataError
from risklab.engine.lab import LabError, plan_tasks
from risklab.engine.profiles import PROFILE_NAMES, ProfileError
from risklab.engine.report_json import upgrade_report
from risklab.engine.scenarios import SCENARIOS, ScenarioError
from risklab.engine.strategies import STRATEGIES

from . import selectors, services
from .charts import line_chart_svg
from .forms import LabStartForm
from .models import LabRun

RUNS_PER_PAGE = 30


@login_required
def lab_list(request):
    user = request.user
    if request.method == "POST":
        return _lab_start(request)
    from django.core.paginator import Paginator

    page = Paginator(selectors.lab_run_list_with_progress(user=user), RUNS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    for run in page.object_list:
        run.progress = selectors.lab_run_progress(run)
    return render(
        request,
        "risklab/lab_list.html",
        {
            "runs": page.object_list,
            "page": page,
            "datasets": selectors.dataset_list_visible(user=user),
            "deployments": deployment_list_visible(user=user),
            "profiles": PROFILE_NAMES,
            "scenarios": list(SCENARIOS),
            "strategies": list(STRATEGIES),
            "can_start": user.has_perm("risklab.add_labrun"),
        },
    )


def _lab_start(request):
    if not request.user.has_perm("risklab.add_labrun"):
        raise PermissionDenied
    post = request.POST
    form = LabStartForm(post, user=request.user)
    if not form.is_valid():
        messages.error(request, f"Cannot start the lab: {form.one_line_errors()}")
        return redirect("lab-list")
    dataset_ids = form.cleaned_data["dataset"]
    datasets = list(selectors.dataset_list_visible(user=request.user).filter(pk__in=dataset_ids))
    deployment = None
    try:
        if form.cleaned_data["deployment"] is not None:
            deployment = deployment_get_visible(user=request.user, pk=form.cleaned_data["deployment"])
        plan = plan_tasks(
            profiles=post.getlist("profile") or "all",
            strategies=post.getlist("strategy") or "all",
            scenarios=post.getlist("scenario") or "all",
            data_paths=[d.path for d in datasets] or None,
            seed=form.cleaned_data["seed"] or 0,
        )
    except Deployment.DoesNotExist as exc:
        messages.error(request, f"Cannot start the lab: {exc}")
        return redirect("lab-list")
    except (MarketDataError, ProfileError, ScenarioError, LabError) as exc:
        messages.error(request, f"Cannot start the lab: {exc}")
        return redirect("lab-list")
    lab_run = services.lab_run_start(plan=plan, user=request.user, deployment=deployment)
    return redirect("lab-detail", pk=lab_run.pk)


def _visible_run(request, pk) -> LabRun:
    try:
        return selectors.lab_run_get_visible(user=request.user, pk=pk)
    except LabRun.DoesNotExist:
        raise Http404("no such lab run") from None


def _chart_picks(request, gathered: list[dict]) -> dict:
    """The reader's choice of profile / scenario / strategy (a GET form), defaulting to the first chart."""
    picks = {}
    for key in ("profile", "scenario", "strategy"):
        options = list(dict.fromkeys(c[key] for c in gathered))
        wanted = request.GET.get(key, "all" if key == "profile" else (options[0] if options else ""))
        picks[key] = {
            "options": options,
            "selected": wanted if wanted in options or wanted == "all" else "all",
        }
    return picks


def _charts_for(gathered: list[dict], picks: dict) -> list[dict]:
    groups: dict[tuple, list[dict]] = {}
    for chart in gathered:
        if any(picks[k]["selected"] not in ("all", chart[k]) for k in picks):
            continue
        groups.setdefault((chart["dataset"], chart["scenario"], chart["strategy"]), []).append(chart)
    out = []
    for (dataset, scenario, strategy), members in groups.items():
        first = members[0]
        times = first.get("time_s") or list(range(len(first["equity"])))
        label = f"{scenario} / {strategy} / {dataset}"
        common = {"times": times, "window": first.get("window")}
        out.append(
            {
                "label": label,
                "equity_svg": line_chart_svg(
                    title=f"Equity: {label}", series=[(c["profile"], c["equity"]) for c in members], **common
                ),
                "drawdown_svg": line_chart_svg(
                    title=f"Drawdown: {label}",
                    series=[(c["profile"], c["drawdown"]) for c in members],
                    percent=True,
                    **common,
                ),
            }
        )
    return out


@login_required
def lab_detail(request, pk: int):
    run = _visible_run(request, pk)
    report, charts, picks = None, [], {}
    if run.status == "succeeded":
        report = upgrade_report(strict_loads(Path(run.json_path).read_bytes()))
        gathered = [c for result in services.gathered_unit_results(run) for c in result["charts"]]
        picks = _chart_picks(request, gathered)
        charts = _charts_for(gathered, picks)
    return render(
        request,
        "risklab/lab_detail.html",
        {
            "run": run,
            "progress": selectors.lab_run_progress(run),
            "units": run.units.select_related("job"),
            "report": report,
            "charts": charts,
            "picks": picks,
        },
    )


@login_required
def lab_download(request, pk: int, fmt: str):
    run = _visible_run(request, pk)
    if run.status != "succeeded" or fmt not in {"json", "pdf"}:
        raise Http404("no report")
    path = Path(run.json_path if fmt == "json" else run.pdf_path)
    recorded = run.json_sha384 if fmt == "json" else run.pdf_sha384
    if not path.is_file() or sha384_file(path) != recorded:
        # Evidence that no longer matches its recorded hash is never served as if it did.
        return HttpResponse("the report file no longer matches its recorded SHA-384", status=409)
    return FileResponse(path.open("rb"), as_attachment=True, filename=path.name)


@login_required
def lab_attach(request, pk: int):
    from audit.errors import Refused

    if request.method != "POST":
        raise Http404
    run = _visible_run(request, pk)
    try:
        services.lab_report_attach(
            lab_run=run, checklist_id=request.POST.get("checklist", ""), user=request.user
        )
    except (Refused, ValueError) as exc:
        messages.error(request, f"Not attached: {exc}")
        return redirect("lab-detail", pk=pk)
    messages.success(request, "Report attached to the checklist.")
    return redirect("checklist", pk=run.deployment_id, checklist_id=request.POST["checklist"])
