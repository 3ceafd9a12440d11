"""Console-wide response headers and the session idle timeout.

A signed-in page can carry signatures, evidence and licence data: it is never stored by a browser or a proxy
(`Cache-Control: no-store`), and a session left alone for `OEM_SESSION_IDLE_MINUTES` is ended server-side,
whatever the cookie says. `SESSION_COOKIE_AGE` stays the absolute limit.
"""

import time
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.contrib.auth import logout
from django.utils.cache import add_never_cache_headers

# The console uses none of these; an injected script or frame gets none of them either.
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "fullscreen",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "picture-in-picture",
        "publickey-credentials-get",
        "screen-wake-lock",
        "usb",
        "xr-spatial-tracking",
    )
)
LAST_SEEN_KEY = "oem_last_seen"
# Writing the session on every request would turn each page view into a database write; a minute of slack on
# a thirty-minute timeout is not worth that.
_TOUCH_EVERY_SECONDS = 60


class SessionIdleTimeoutMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        now = int(time.time())
        if _signed_in(request):
            last_seen = request.session.get(LAST_SEEN_KEY)
            # A session without a stamp was opened outside a request (a test client): it starts now.
            if isinstance(last_seen, int) and now - last_seen > settings.OEM_SESSION_IDLE_SECONDS:
                logout(request)
        response = self.get_response(request)
        # After the view: a login in this very request starts the clock.
        if _signed_in(request):
            last_seen = request.session.get(LAST_SEEN_KEY)
            if not isinstance(last_seen, int):
                # Pinned once: the regular touches below would otherwise slide the absolute limit too.
                expires = datetime.fromtimestamp(now, UTC) + timedelta(seconds=settings.SESSION_COOKIE_AGE)
                request.session.set_expiry(expires)
            if not isinstance(last_seen, int) or now - last_seen >= _TOUCH_EVERY_SECONDS:
                request.session[LAST_SEEN_KEY] = now
        return response


def _signed_in(request) -> bool:
    user = getattr(request, "user", None)
    return user is not None and user.is_authenticated


class ConsoleHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        user = getattr(request, "user", None)
        if (user is not None and user.is_authenticated) or request.path.startswith("/api/"):
            add_never_cache_headers(response)
        return response
