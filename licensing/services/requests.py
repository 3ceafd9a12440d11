"""License requests: a device's request uploaded for approval, or rejected with a reason."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from audit.authorization import authorize
from audit.services import audit_event_record
from licensing.core.registry import device_digest

from ..errors import ForeignRequestError, LicensingError
from ..models import Customer, Device, LicenseRequest, RequestStatus
from .store import parse_request


@transaction.atomic
def license_request_upload(
    *, actor, request_bytes: bytes, customer: Customer, confirm_digest: str = "", label: str = ""
) -> LicenseRequest:
    """Check a device's request (licensing.core.request.load_request) and queue it for approval.

    The fingerprint HMAC must verify whenever this key ring holds its key. A request from another
    installation (HMAC not checkable here) is accepted only when `confirm_digest` equals its digest — the
    console form of the CLI's --foreign-request, after the admin compared the digest with the device's.
    """
    authorize(actor, "license_request.upload", customer=customer)
    parsed = parse_request(bytes(request_bytes), foreign_ok=True)
    foreign = not parsed.device_hmac_verified
    if foreign and (confirm_digest or "").strip() != parsed.digest:
        raise ForeignRequestError(parsed.digest)
    if LicenseRequest.objects.filter(request_digest=parsed.digest).exists():
        raise LicensingError(f"request {parsed.digest} was already uploaded")
    env = parsed.environment
    label = (label or "").strip()[:200] or parsed.hostname
    device, created = Device.objects.get_or_create(
        customer=customer,
        device_digest=device_digest(parsed.components),
        defaults={"label": label},
    )
    if not created and label and not device.label:
        device.label = label
    device.fingerprint = parsed.fingerprint
    device.request_digest = parsed.digest
    device.environment = env["kind"]
    device.save()
    req = LicenseRequest.objects.create(
        device=device,
        request_bytes=bytes(request_bytes),  # as uploaded (evidence); re-checked at approval
        request_digest=parsed.digest,
        hostname=parsed.hostname,
        foreign=foreign,
        uploaded_by=actor,
    )
    audit_event_record(
        action="license_request.upload",
        actor=actor,
        object_type="license_request",
        object_id=req.pk,
        detail={
            "customer": customer.name,
            "request_digest": parsed.digest,
            "foreign": foreign,
            "environment": env["kind"],
            "hostname": parsed.hostname,
        },
    )
    return req


@transaction.atomic
def license_request_reject(*, actor, request: LicenseRequest, reason: str) -> LicenseRequest:
    authorize(actor, "license_request.reject", request=request)
    reason = (reason or "").strip()
    if not reason or len(reason) > 500:
        raise LicensingError("a rejection needs a reason of 1..500 characters")
    req = LicenseRequest.objects.select_for_update().get(pk=request.pk)
    if req.status != RequestStatus.PENDING:
        raise LicensingError(f"request is {req.status}, not pending")
    req.status, req.decision_reason = RequestStatus.REJECTED, reason
    req.decided_by, req.decided_at = actor, timezone.now()
    req.save(update_fields=["status", "decision_reason", "decided_by", "decided_at"])
    audit_event_record(
        action="license_request.reject",
        actor=actor,
        object_type="license_request",
        object_id=req.pk,
        detail={"request_digest": req.request_digest, "reason": reason},
    )
    return req
