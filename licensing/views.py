"""Licensing pages: customers, their devices and licenses, requests waiting for approval, a license with its
file and QR code, the registry's verification status. Writes go through licensing.services.

Permission order on every write: the role first (PermissionDenied → 403), then the customer's visibility
(DoesNotExist → 404), so a role that may never act learns nothing and an admin never learns about customers
they do not manage.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from audit.trust.fsutil import read_regular_file
from audit.trust.hashing import sha384_bytes
from licensing.core import qr
from licensing.core.fingerprint import CONTAINER_POLICY, DEFAULT_POLICY, POLICIES
from licensing.core.license_file import MAX_LICENSE_BYTES, STAGES, parse_license, to_qr_text
from licensing.core.request import MAX_REQUEST_BYTES

from . import selectors, services
from .models import Customer, License, LicenseRequest, RequestStatus


# ---- forms ------------------------------------------------------------------------------------------------
class CustomerForm(forms.Form):
    name = forms.CharField(max_length=200)


class UploadForm(forms.Form):
    request_file = forms.FileField(label="Request file (req.json)")
    label = forms.CharField(max_length=200, required=False, label="Device label")
    confirm_digest = forms.CharField(
        max_length=103,
        required=False,
        label="Foreign request: digest confirmed with the device",
        help_text="Only for a request from another installation: the request digest the device printed.",
    )


class ApproveForm(forms.Form):
    edition = forms.RegexField(regex=r"^[a-z0-9][a-z0-9_.-]{0,63}$", initial="standard", max_length=64)
    features = forms.CharField(required=False, help_text="comma-separated names, e.g. paper-labs")
    stages = forms.MultipleChoiceField(
        choices=[(s, s) for s in STAGES], widget=forms.CheckboxSelectMultiple, initial=["demo", "paper"]
    )
    valid_days = forms.IntegerField(min_value=1, max_value=3650, initial=365)
    max_activations = forms.IntegerField(min_value=1, max_value=1000, initial=1)
    allow_virtual = forms.BooleanField(required=False, label="License a VM/container device")
    match_policy = forms.ChoiceField(
        choices=[(name, name) for name in POLICIES],
        initial=DEFAULT_POLICY.name,
        required=False,
        help_text=f"{CONTAINER_POLICY.name} for containers and small VPSs (two stable components)",
    )
    reissue = forms.BooleanField(required=False, label="Reissue: replace the device's active license")

    def clean_features(self) -> list[str]:
        return [f.strip() for f in self.cleaned_data["features"].split(",") if f.strip()]


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=500)


class AssignAdminForm(forms.Form):
    username = forms.CharField(max_length=150)


# ---- helpers ----------------------------------------------------------------------------------------------
def _require(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied


def _customer(request, pk) -> Customer:
    try:
        return selectors.customer_get_visible(user=request.user, pk=pk)
    except Customer.DoesNotExist:
        raise Http404("no such customer") from None


def _license_request(request, pk) -> LicenseRequest:
    try:
        return selectors.license_request_get_visible(user=request.user, pk=pk)
    except LicenseRequest.DoesNotExist:
        raise Http404("no such request") from None


def _license(request, serial) -> License:
    try:
        return selectors.license_get_visible(user=request.user, serial=serial)
    except License.DoesNotExist:
        raise Http404("no such license") from None


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
        _require(selectors.can_manage_customers(user))
        form = CustomerForm(request.POST)
        if not form.is_valid():
            messages.error(request, f"Cannot create the customer: {_first_error(form)}")
            return redirect("licensing-customer-list")
        try:
            customer = services.customer_create(name=form.cleaned_data["name"], user=user)
        except services.LicensingError as exc:
            messages.error(request, f"Cannot create the customer: {exc}")
            return redirect("licensing-customer-list")
        return redirect("licensing-customer-detail", pk=customer.pk)
    customers = selectors.customer_list_visible(user=user)
    return render(
        request,
        "licensing/customer_list.html",
        {
            "customers": customers,
            "pending": selectors.license_request_pending(user=user).count(),
            "can_create": selectors.can_manage_customers(user),
            "can_view_registry": selectors.can_view_registry(user),
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
            "can_upload": selectors.can_upload_requests(user),
            "can_assign": user.has_perm("licensing.change_customer"),
        },
    )


@login_required
@require_POST
def customer_upload_request(request, pk: int):
    _require(selectors.can_upload_requests(request.user))
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
            request_bytes=upload.read(),
            customer=customer,
            user=request.user,
            confirm_digest=form.cleaned_data["confirm_digest"],
            label=form.cleaned_data["label"],
        )
    except services.LicensingError as exc:
        messages.error(request, f"Cannot upload the request: {exc}")
        return redirect("licensing-customer-detail", pk=customer.pk)
    messages.success(request, f"Request {req.request_digest} is waiting for approval.")
    return redirect("licensing-request-detail", pk=req.pk)


@login_required
@require_POST
def customer_assign_admin(request, pk: int):
    _require(request.user.has_perm("licensing.change_customer"))
    customer = _customer(request, pk)
    form = AssignAdminForm(request.POST)
    admin = None
    if form.is_valid():
        admin = get_user_model().objects.filter(username=form.cleaned_data["username"]).first()
    if admin is None:
        messages.error(request, "Cannot assign: no such user")
        return redirect("licensing-customer-detail", pk=customer.pk)
    try:
        services.customer_assign_admin(customer=customer, admin=admin, user=request.user)
    except services.LicensingError as exc:
        messages.error(request, f"Cannot assign: {exc}")
    else:
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
            "can_approve": selectors.can_approve(user) and req.status == RequestStatus.PENDING,
            "can_reject": selectors.can_reject(user) and req.status == RequestStatus.PENDING,
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
    _require(selectors.can_approve(request.user))
    req = _license_request(request, pk)
    form = ApproveForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Cannot approve: {_first_error(form)}")
        return _request_page(request, req, form, status=400)
    data = form.cleaned_data
    replaces = selectors.live_license_for_device(req.device) if data["reissue"] else None
    try:
        lic = services.license_issue(
            request=req,
            edition=data["edition"],
            features=data["features"],
            stages=data["stages"],
            valid_days=data["valid_days"],
            max_activations=data["max_activations"],
            allow_virtual=data["allow_virtual"],
            match_policy=data["match_policy"] or DEFAULT_POLICY.name,
            replaces=replaces,
            user=request.user,
        )
    except services.LicensingError as exc:
        messages.error(request, f"Cannot approve: {exc}")
        return _request_page(request, req, form, status=400)
    messages.success(request, f"Issued license serial {lic.serial} for {lic.customer.name}.")
    return redirect("licensing-license-detail", serial=lic.serial)


@login_required
@require_POST
def request_reject(request, pk: int):
    _require(selectors.can_reject(request.user))
    req = _license_request(request, pk)
    form = ReasonForm(request.POST)
    try:
        if not form.is_valid():
            raise services.LicensingError("a rejection needs a reason")
        services.license_request_reject(request=req, reason=form.cleaned_data["reason"], user=request.user)
    except services.LicensingError as exc:
        messages.error(request, f"Cannot reject: {exc}")
    else:
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
            "can_revoke": selectors.can_revoke(request.user) and lic.status == "active",
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
    _require(selectors.can_revoke(request.user))
    lic = _license(request, serial)
    form = ReasonForm(request.POST)
    try:
        if not form.is_valid():
            raise services.LicensingError("a revocation needs a reason")
        services.license_revoke(license=lic, reason=form.cleaned_data["reason"], user=request.user)
    except services.LicensingError as exc:
        messages.error(request, f"Cannot revoke: {exc}")
    else:
        messages.success(request, f"License {lic.serial} revoked; the new CRL lists it.")
    return redirect("licensing-license-detail", serial=lic.serial)


# ---- registry ---------------------------------------------------------------------------------------------
@login_required
def registry_status(request):
    _require(selectors.can_view_registry(request.user))
    return render(
        request,
        "licensing/registry.html",
        {"status": selectors.registry_status(), "can_reconcile": selectors.can_revoke(request.user)},
    )


@login_required
@require_POST
def registry_reconcile(request):
    _require(selectors.can_revoke(request.user))
    report = services.license_registry_reconcile(user=request.user)
    (messages.error if report.problems else messages.success)(request, f"Reconcile: {report.summary()}")
    return redirect("licensing-registry")
