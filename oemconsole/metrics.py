"""/metrics: request latency and job counts in Prometheus format, for loopback scrapers or named roles."""

import ipaddress
import time

from django.conf import settings
from django.db.models import Count
from django.http import HttpResponse, HttpResponseForbidden
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

from audit.roles import roles_of

# auto_describe would call collect() at import time, i.e. query the database before migrations exist.
REGISTRY = CollectorRegistry(auto_describe=False)

REQUEST_LATENCY = Histogram(
    "oem_http_request_duration_seconds",
    "Console request latency by route, method and status class.",
    ["route", "method", "status"],
    registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


class JobStatusCollector:
    """Counted at scrape time from the Job table, so every process reports the same truth."""

    def collect(self):
        from jobs.models import Job, JobStatus

        family = GaugeMetricFamily("oem_jobs", "Jobs by status and kind.", labels=["status", "kind"])
        seen = set()
        for row in Job.objects.values("status", "kind").annotate(n=Count("id")):
            family.add_metric([row["status"], row["kind"]], row["n"])
            seen.add(row["status"])
        for status in JobStatus.values:
            if status not in seen:
                family.add_metric([status, ""], 0)
        yield family


REGISTRY.register(JobStatusCollector())


class RequestLatencyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        # The route pattern, never the raw path: ids in paths would explode label cardinality.
        route = match.route if match is not None else "unmatched"
        REQUEST_LATENCY.labels(
            route=route, method=request.method, status=f"{response.status_code // 100}xx"
        ).observe(time.perf_counter() - started)
        return response


def _is_loopback(request) -> bool:
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


def metrics_view(request):
    allowed_roles = set(settings.OEM_METRICS_ROLES)
    if not (_is_loopback(request) or allowed_roles.intersection(roles_of(request.user))):
        return HttpResponseForbidden(
            "metrics are served to loopback scrapers and the admin/auditor roles only"
        )
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)
