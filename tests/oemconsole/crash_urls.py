"""The console's URLs plus two that crash, to see what a 500 shows (tests only)."""

from django.urls import path

from oemconsole.urls import handler400, handler403, handler404, handler500  # noqa: F401
from oemconsole.urls import urlpatterns as console_urlpatterns

SECRET_IN_CRASH = "/srv/secret-path DATABASE_PASSWORD=hunter2"  # noqa: S105


def crash(request):
    raise RuntimeError(SECRET_IN_CRASH)


urlpatterns = [
    path("api/v1/crash/", crash),
    path("crash/", crash),
    *console_urlpatterns,
]
