"""The console's routes, walked from the URL conf, for the tests that must cover every one of them: the
permission table (every API route, every role) and the refusals (every state-changing route writes
nothing when refused). A new route fails those tests until it is added to their tables."""

from collections.abc import Iterator
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver

WRITE_METHODS = ("post", "put", "patch", "delete")
API_PREFIX = "api/"
# Authentication itself: its refusals are counted on purpose (lockout, throttle) and tested there.
AUTH_ROUTES = {"login", "logout", "api-token"}
# Page routes that only read (function views cannot be inspected for the methods they accept).
READ_ONLY_PAGES = {
    "dashboard",
    "deployment-detail",
    "decision-log",
    "audit-trail",
    "audit-trail-export",
    "gate",
    "checklist",
    "checklist-download",
    "job-detail",
    "lab-detail",
    "lab-download",
    "licensing-customer-detail",
    "licensing-request-list",
    "licensing-request-detail",
    "licensing-license-detail",
    "licensing-license-download",
    "licensing-license-qr",
    "licensing-registry",
    "bundle-detail",
    "bundle-download",
    "metrics",
}


@dataclass(frozen=True)
class Route:
    name: str
    path: str
    writes: bool | None  # None: a function view, whose methods the tables above must say

    @property
    def is_api(self) -> bool:
        return self.path.startswith(API_PREFIX)

    @property
    def changes_state(self) -> bool:
        if self.writes is None:
            return self.name not in READ_ONLY_PAGES
        return self.writes


def _walk(patterns, prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if pattern.app_name == "admin":
                continue  # Django's admin: its own permissions; what it may create is tested in audit
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern


def _writes(pattern: URLPattern) -> bool | None:
    """Class-based views: their handler methods say it. None: a function view."""
    view = getattr(pattern.callback, "cls", None) or getattr(pattern.callback, "view_class", None)
    if view is None:
        return None
    return any(hasattr(view, method) for method in WRITE_METHODS)


def routes() -> list[Route]:
    """Every named route of the console except authentication itself and Django's admin."""
    return [
        Route(pattern.name, path, _writes(pattern))
        for path, pattern in _walk(get_resolver().url_patterns)
        if pattern.name not in AUTH_ROUTES
    ]


def route_names() -> set[str]:
    return {pattern.name for _path, pattern in _walk(get_resolver().url_patterns)}
