"""Licensing pages: customers, their devices and licenses, requests waiting for approval, a license with its
file and QR code, the registry's verification status. Writes go through licensing.services, which decide who
may act (licensing/rules.py); a refusal (`NotAllowed` 403, `NotFound` 404) becomes its page in the console's
middleware, and a licensing error (`LicensingError`) is shown on the form it came from.

Order on every write: the rule's role answer first (403), then the object through the visibility selectors
(404), so a role that may never act learns nothing and an admin never learns about customers they do not
manage; the service then asks the same rule again with the object, for every caller.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from audit.authorization import authorize, may
from audit.refusals import refusal_response
from audit.trust.fsutil import read_regular_file
from audit.trust.hashing import sha384_bytes
from licensing.core import qr
from licensing.core.fingerprint import DEFAULT_POLICY
from licensing.core.license_file import MAX_LICENSE_BYTES, parse_license, to_qr_text
from licensing.core.request import MAX_REQUEST_BYTES

from . import selectors, services
from .errors import LicensingError
from .forms import ApproveForm, AssignAdminForm, CustomerForm, ReasonForm, UploadForm
from .models import License, LicenseRequest, RequestStatus


def _customer(request, pk):
    return get_object_or_404(selectors.customer_list_visible(user=request.user), pk=pk)


def _license_request(request, pk) -> LicenseRequest:
    return get_object_or_404(selectors.license_request_list_visible(user=request.user), pk=pk)


def _license(request, serial) -> License:
    return get_object_or_404(selectors.license_list_visible(user=request.user), serial=serial)


def _first_error(form: forms.Form) -> str:
    for field_name, errors in form.errors.items():
        return f"{field_name}: {errors[0]}" if field_name != "__all__" else errors[0]
    return "invalid input"


def _license_file_bytes(lic: License) -> bytes | None:
    """The issued file, only while it still matches its recorded SHA-384."""
    try:
        data = read_regular_file(lic.file_path, max_bytes=MAX_LICENSE_BYTES, what="issued license")
    except OSError:
        return None
    return data if sha384_bytes(data) == lic.file_sha384 else None


# ---- customers --------------------------------------------------------------------------------------------
@login_required
def customer_list(request):
    user = request.user
    if request.method == "POST":
        authorize(user, "customer.create")
        form = CustomerForm(request.POST)
        if not form.is_valid():
            messages.error(request, f"Cannot create the customer: {_first_error(form)}")
            return redirect("licensing-customer-list")
        try:
            customer = services.customer_create(actor=user, name=form.cleaned_data["name"])
        except LicensingError as exc:
            return refusal_response(
                request, exc, prefix="Cannot create the customer", back="licensing-customer-list"
            )
        return redirect("licensing-customer-detail", pk=customer.pk)
    customers = selectors.customer_list_visible(user=user)
    return render(
        request,
        "licensing/customer_list.html",
        {
            "customers": customers,
            "pending": selectors.license_request_pending(user=user).count(),
            "can_create": may(user, "customer.create"),
            "can_view_registry": may(user, "license_registry.view"),
        },
    )


@login_required
def customer_detail(request, pk: int):
    customer = _customer(request, pk)
    user = request.user
    return render(
        request,
        "licensing/customer_detail.html",
        {
            "customer": customer,
            "devices": customer.devices.all(),
            "requests": selectors.license_request_list_visible(user=user).filter(device__customer=customer),
            "licenses": selectors.license_list_visible(user=user).filter(device__customer=customer),
            "upload_form": UploadForm(),
            "can_upload": may(user, "license_request.upload", customer=customer),
            "can_assign": may(user, "customer.assign_admin", customer=customer),
        },
    )


@login_required
@require_POST
def customer_upload_request(request, pk: int):
    authorize(request.user, "license_request.upload")
    customer = _customer(request, pk)
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, f"Cannot upload the request: {_first_error(form)}")
        return redirect("licensing-customer-detail", pk=customer.pk)
    upload = form.cleaned_data["request_file"]
    if upload.size > MAX_REQUEST_BYTES:
        messages.error(request, "Cannot upload the request: request is too large")
        return redirect("licensing-customer-detail", pk=customer.pk)
    try:
        req = services.license_request_upload(
            actor=request.user,
            request_bytes=upload.read(),
            customer=customer,
            confirm_digest=form.cleaned_data["confirm_digest"],
            label=form.cleaned_data["label"],
        )
    except LicensingError as exc:
        return refusal_response(
            request, exc, prefix="Cannot upload the request", back="licensing-customer-detail", pk=customer.pk
        )
    messages.success(request, f"Request {req.request_digest} is waiting for approval.")
    return redirect("licensing-request-detail", pk=req.pk)


@login_required
@require_POST
def customer_assign_admin(request, pk: int):
    authorize(request.user, "customer.assign_admin")
    customer = _customer(request, pk)
    form = AssignAdminForm(request.POST)
    admin = None
    if form.is_valid():
        admin = get_user_model().objects.filter(username=form.cleaned_data["username"]).first()
    if admin is None:
        messages.error(request, "Cannot assign: no such user")
        return redirect("licensing-customer-detail", pk=customer.pk)
    try:
        services.customer_assign_admin(actor=request.user, customer=customer, admin=admin)
    except LicensingError as exc:
        return refusal_response(
            request, exc, prefix="Cannot assign", back="licensing-customer-detail", pk=customer.pk
        )
    messages.success(request, f"{admin.get_username()} now manages {customer.name}.")
    return redirect("licensing-customer-detail", pk=customer.pk)


# ---- requests ---------------------------------------------------------------------------------------------
@login_required
def request_list(request):
    user = request.user
    return render(
        request,
        "licensing/request_list.html",
        {
            "pending": selectors.license_request_pending(user=user),
            "decided": selectors.license_request_list_visible(user=user).exclude(
                status=RequestStatus.PENDING
            )[:50],
        },
    )


def _request_page(request, req: LicenseRequest, approve_form: ApproveForm | None = None, status: int = 200):
    user = request.user
    live = selectors.live_license_for_device(req.device)
    fingerprint = req.device.fingerprint or {}
    return render(
        request,
        "licensing/request_detail.html",
        {
            "req": req,
            "device": req.device,
            "live": live,
            "found": fingerprint.get("found", []),
            "missing": fingerprint.get("missing", []),
            "environment": fingerprint.get("environment", {}),
            "approve_form": approve_form or ApproveForm(),
            "reject_form": ReasonForm(),
            "can_approve": req.status == RequestStatus.PENDING and may(user, "license.issue", request=req),
            "can_reject": req.status == RequestStatus.PENDING
            and may(user, "license_request.reject", request=req),
            "licenses": req.licenses.all(),
        },
        status=status,
    )


@login_required
def request_detail(request, pk: int):
    return _request_page(request, _license_request(request, pk))


@login_required
@require_POST
def request_approve(request, pk: int):
    authorize(request.user, "license.issue")
    req = _license_request(request, pk)
    form = ApproveForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Cannot approve: {_first_error(form)}")
        return _request_page(request, req, form, status=400)
    data = form.cleaned_data
    replaces = selectors.live_license_for_device(req.device) if data["reissue"] else None
    try:
        lic = services.license_issue(
            actor=request.user,
            request=req,
            edition=data["edition"],
            features=data["features"],
            stages=data["stages"],
            valid_days=data["valid_days"],
            max_activations=data["max_activations"],
            allow_virtual=data["allow_virtual"],
            match_policy=data["match_policy"] or DEFAULT_POLICY.name,
            replaces=replaces,
        )
    except LicensingError as exc:
        messages.error(request, f"Cannot approve: {exc}")
        return _request_page(request, req, form, status=400)
    messages.success(request, f"Issued license serial {lic.serial} for {lic.customer.name}.")
    return redirect("licensing-license-detail", serial=lic.serial)


@login_required
@require_POST
def request_reject(request, pk: int):
    authorize(request.user, "license_request.reject")
    req = _license_request(request, pk)
    form = ReasonForm(request.POST)
    try:
        if not form.is_valid():
            raise LicensingError("a rejection needs a reason")
        services.license_request_reject(actor=request.user, request=req, reason=form.cleaned_data["reason"])
    except LicensingError as exc:
        return refusal_response(
            request, exc, prefix="Cannot reject", back="licensing-request-detail", pk=req.pk
        )
    messages.success(request, "Request rejected.")
    return redirect("licensing-request-detail", pk=req.pk)


# ---- licenses ---------------------------------------------------------------------------------------------
@login_required
def license_detail(request, serial: int):
    lic = _license(request, serial)
    return render(
        request,
        "licensing/license_detail.html",
        {
            "lic": lic,
            "registry_state": selectors.registry_license_state(lic.serial),
            "file_ok": _license_file_bytes(lic) is not None,
            "revoke_form": ReasonForm(),
            "can_revoke": lic.status == "active" and may(request.user, "license.revoke", license=lic),
        },
    )


@login_required
def license_download(request, serial: int):
    lic = _license(request, serial)
    data = _license_file_bytes(lic)
    if data is None:
        # A file that no longer matches its recorded hash is never served as if it did.
        return HttpResponse(
            "the license file is missing or no longer matches its recorded SHA-384", status=409
        )
    response = HttpResponse(data, content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="license-{lic.serial}.json"'
    return response


@login_required
def license_qr(request, serial: int):
    lic = _license(request, serial)
    data = _license_file_bytes(lic)
    if data is None:
        return HttpResponse(
            "the license file is missing or no longer matches its recorded SHA-384", status=409
        )
    png = qr.render_png(to_qr_text(parse_license(data)))
    response = HttpResponse(png, content_type="image/png")
    if request.GET.get("download"):
        response["Content-Disposition"] = f'attachment; filename="license-{lic.serial}.png"'
    return response


@login_required
@require_POST
def license_revoke(request, serial: int):
    authorize(request.user, "license.revoke")
    lic = _license(request, serial)
    form = ReasonForm(request.POST)
    try:
        if not form.is_valid():
            raise LicensingError("a revocation needs a reason")
        services.license_revoke(actor=request.user, license=lic, reason=form.cleaned_data["reason"])
    except LicensingError as exc:
        return refusal_response(
            request, exc, prefix="Cannot revoke", back="licensing-license-detail", serial=lic.serial
        )
    messages.success(request, f"License {lic.serial} revoked; the new CRL lists it.")
    return redirect("licensing-license-detail", serial=lic.serial)


# ---- registry ---------------------------------------------------------------------------------------------
@login_required
def registry_status(request):
    authorize(request.user, "license_registry.view")
    return render(
        request,
        "licensing/registry.html",
        {
            "status": selectors.registry_status(),
            "can_reconcile": may(request.user, "license_registry.reconcile"),
        },
    )


@login_required
@require_POST
def registry_reconcile(request):
    report = services.license_registry_reconcile(actor=request.user)
    (messages.error if report.problems else messages.success)(request, f"Reconcile: {report.summary()}")
    return redirect("licensing-registry")
