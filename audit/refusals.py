"""The one way a page answers a refusal, for every app: lives in the bottom layer so that licensing, delivery
and the rest can use it as well as the console does. The API's own handler (oemconsole.errors) answers with
the same error body."""

from django.contrib import messages
from django.http import JsonResponse
from django.shortcuts import redirect, render

from .errors import Refused

API_PREFIX = "/api/"


def error_body(code: str, message: str, **extra) -> dict:
    return {"error": {"code": code, "message": message, **extra}}


def _is_api(request) -> bool:
    return request.path.startswith(API_PREFIX)


_PAGE_TEMPLATES = {400: "errors/400.html", 403: "errors/403.html", 404: "errors/404.html"}


def refusal_response(request, exc: Refused, *, back: str | None = None, prefix: str = "", **back_kwargs):
    """The one way a page answers a service's refusal: with `back` (a URL name), the message is flashed
    (after `prefix`, e.g. "Cannot revoke") and the browser sent back to the form it came from; without, the
    refusal's status page with its message. Under /api/ it is the JSON error shape, whatever the caller
    asked."""
    if _is_api(request):
        return JsonResponse(error_body(exc.code, exc.message, **exc.extra), status=exc.status)
    if back is not None:
        text = f"{prefix}: {exc.message}" if prefix else exc.message[:1].upper() + exc.message[1:]
        messages.error(request, text)
        return redirect(back, **back_kwargs)
    template = _PAGE_TEMPLATES.get(exc.status, "errors/400.html")
    message = exc.message[:1].upper() + exc.message[1:]
    return render(request, template, {"message": message}, status=exc.status)


class RefusedMiddleware:
    """A refusal no view caught becomes its page (or its JSON under /api/), never a 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, Refused):
            return refusal_response(request, exception)
        return None
