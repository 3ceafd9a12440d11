"""Per-address throttle of the anonymous authentication endpoints (the login page and the token API).
It bounds password guessing from one address without locking anyone's account; the (username, address)
lockout does the rest."""

import functools

from django.core.cache import caches
from django.http import HttpResponse
from rest_framework.throttling import SimpleRateThrottle

from .client_ip import client_ip


class AuthRateThrottle(SimpleRateThrottle):
    scope = "auth"
    cache = caches["auth_throttle"]

    def get_ident(self, request) -> str:
        return client_ip(request)

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


def throttled_page(wait: float | None):
    seconds = int(wait or 1) + 1
    response = HttpResponse(
        f"Too many sign-in attempts from this address: try again in {seconds} seconds.\n",
        status=429,
        content_type="text/plain; charset=utf-8",
    )
    response["Retry-After"] = str(seconds)
    return response


def throttle_login_posts(view):
    """Wrap the login view: each POST (a password attempt) counts against the address's rate."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        if request.method == "POST":
            throttle = AuthRateThrottle()
            if not throttle.allow_request(request, None):
                return throttled_page(throttle.wait())
        return view(request, *args, **kwargs)

    return wrapped
