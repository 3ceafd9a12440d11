"""One error shape for the API, plain pages for the console, and no internals in either.

Everything under /api/ answers errors as `{"error": {"code": "...", "message": "..."}}`; validation errors
add `fields` (the per-field messages) and an exception may add its own keys as `error_extra`. DRF's own
exceptions pass through `api_exception_handler`; what DRF never sees (an unknown URL, a crash, a request
refused by Django before routing) goes through the handlers below, which choose JSON or a page by path. An
exception the handler does not know stays a 500: the message of an unexpected exception may carry paths or
values, so only its status leaves the server.
"""

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import requires_csrf_token
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from audit.errors import Refused
from audit.refusals import API_PREFIX, RefusedMiddleware, error_body, refusal_response

__all__ = ["API_PREFIX", "RefusedMiddleware", "api_exception_handler", "error_body", "refusal_response"]


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "the request body is larger than this server accepts"
    default_code = "payload_too_large"


def _flatten(detail, prefix: str = "") -> list[str]:
    if isinstance(detail, dict):
        lines = []
        for key, value in detail.items():
            label = "" if key in {"detail", "non_field_errors"} else f"{prefix}{key}"
            lines += _flatten(value, f"{label}." if label else "")
        return lines
    if isinstance(detail, list):
        return [line for item in detail for line in _flatten(item, prefix)]
    text = " ".join(str(detail).split())  # one line, whatever the message held
    return [f"{prefix[:-1]}: {text}" if prefix else text]


def _code_of(exc: exceptions.APIException) -> str:
    if isinstance(exc, exceptions.ValidationError):
        return "invalid"
    codes = exc.get_codes()
    return codes if isinstance(codes, str) else exc.default_code


def api_exception_handler(exc, context):
    if isinstance(exc, Refused):
        # A service's refusal: what it audited about the refusal was committed by the service itself.
        return Response(error_body(exc.code, exc.message, **exc.extra), status=exc.status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    elif isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    if not isinstance(exc, exceptions.APIException):
        return None
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = f"{int(exc.wait)}"
    extra = dict(getattr(exc, "error_extra", {}))
    if isinstance(exc.detail, dict) and set(exc.detail) - {"detail", "non_field_errors"}:
        extra["fields"] = exc.detail
    message = "; ".join(_flatten(exc.detail)) or str(exc.default_detail)
    set_rollback()
    return Response(error_body(_code_of(exc), message, **extra), status=exc.status_code, headers=headers)


def _is_api(request) -> bool:
    return request.path.startswith(API_PREFIX)


def _answer(request, status_code: int, code: str, message: str, template: str):
    if _is_api(request):
        return JsonResponse(error_body(code, message), status=status_code)
    return render(request, template, {"message": message}, status=status_code)


@requires_csrf_token
def bad_request(request, exception=None):
    if isinstance(exception, RequestDataTooBig):
        message = str(PayloadTooLarge.default_detail).capitalize() + "."
        return _answer(request, 413, PayloadTooLarge.default_code, message, "errors/400.html")
    return _answer(request, 400, "bad_request", "The request could not be understood.", "errors/400.html")


@requires_csrf_token
def permission_denied(request, exception=None):
    return _answer(request, 403, "permission_denied", "You may not open this page.", "errors/403.html")


@requires_csrf_token
def page_not_found(request, exception=None):
    return _answer(request, 404, "not_found", "There is nothing at this address.", "errors/404.html")


def server_error(request):
    if _is_api(request):
        body = error_body("server_error", "The server failed to answer; the error was logged.")
        return JsonResponse(body, status=500)
    # No request context: whatever broke the view may break a context processor too.
    return render(None, "errors/500.html", status=500)
