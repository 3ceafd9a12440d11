"""Licenses: approving a pending request (issue, or reissue in place of a device's license) and revoking one.

Order of effects and what a failure leaves behind (see the package docstring): everything is validated first,
the registry append is the commit point, then the license file (or CRL), the rows and the audit event follow;
if those fail, `LicenseMirrorError` says so and `license_registry_reconcile` repairs the console's copy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from audit.authorization import authorize
from audit.services import audit_event_record
from audit.trust.canonical import canonical_bytes, strict_loads
from audit.trust.hashing import sha384_bytes
from licensing.core.crl import build_crl
from licensing.core.device import observe_crl
from licensing.core.fingerprint import DEFAULT_POLICY, ENV_PHYSICAL, MatchPolicy, policy_named
from licensing.core.intent import PlannedWrite, operation_key
from licensing.core.license_file import License as SignedLicense
from licensing.core.license_file import build_license_body, check_features, check_stages, parse_license
from licensing.core.registry import crl_path
from licensing.core.request import LicenseRequest as ParsedRequest

from ..errors import LicenseMirrorError, LicensingError
from ..models import License, LicenseRequest, LicenseStatus, RequestStatus
from .store import allow_development_keys, data_dir, issued_path, parse_request, registry, vendor_signer

_EDITION = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}\Z")  # as the oem_provision_license CLI


# ---- issue (approve) ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Terms:
    edition: str
    features: tuple[str, ...]
    stages: tuple[str, ...]
    valid_days: int
    max_activations: int


def _check_terms(*, edition, features, stages, valid_days, max_activations) -> _Terms:
    try:
        stages = check_stages(list(stages))
        features = check_features(list(features))
    except ValueError as exc:
        raise LicensingError(str(exc)) from None
    if not isinstance(edition, str) or not _EDITION.match(edition):
        raise LicensingError("edition must match [a-z0-9][a-z0-9_.-]* (at most 64 characters)")
    if type(valid_days) is not int or not 1 <= valid_days <= 3650:
        raise LicensingError("valid days must be in 1..3650")
    if type(max_activations) is not int or not 1 <= max_activations <= 1000:
        raise LicensingError("max activations must be in 1..1000")
    return _Terms(edition, features, stages, valid_days, max_activations)


def _check_device(parsed: ParsedRequest, allow_virtual: bool, match_policy: str) -> MatchPolicy:
    """The CLI's admission rules: VM/container only when allowed, a policy the device can meet later."""
    env = parsed.environment
    if env["kind"] != ENV_PHYSICAL and not allow_virtual:
        raise LicensingError(
            f"request comes from a {env['kind']} ({env['name']}): allow virtual environments to license it"
        )
    try:
        policy = policy_named(match_policy)
    except ValueError as exc:
        raise LicensingError(str(exc)) from None
    unmet = policy.unmet_by(parsed.components)
    if unmet:
        missing = ", ".join(parsed.fingerprint["missing"]) or "nothing"
        raise LicensingError(f"{unmet} (missing {missing}); choose another match policy")
    return policy


def _crl_write(signer, state, at) -> PlannedWrite:
    crl = build_crl(state.revoked_list(), number=state.seq, issued_at=at, signer=signer)
    return PlannedWrite(crl_path(data_dir()).resolve(), canonical_bytes(crl) + b"\n")


def license_issue(
    *,
    actor,
    request: LicenseRequest,
    edition: str = "standard",
    features=(),
    stages,
    valid_days: int,
    max_activations: int = 1,
    allow_virtual: bool = False,
    match_policy: str = DEFAULT_POLICY.name,
    replaces: License | None = None,
) -> License:
    """Approve a pending request: sign its license with the vendor key, append `issued` (or `reissued` when
    `replaces` is given, plus a new CRL) to the registry, write `licenses/issued/<serial>.json`, mirror it."""
    authorize(actor, "license.issue", request=request, replaces=replaces)
    terms = _check_terms(
        edition=edition,
        features=features,
        stages=stages,
        valid_days=valid_days,
        max_activations=max_activations,
    )
    if request.status != RequestStatus.PENDING:
        raise LicensingError(f"request is {request.status}, not pending")
    parsed = parse_request(bytes(request.request_bytes), foreign_ok=request.foreign)
    if parsed.digest != request.request_digest:
        raise LicensingError("stored request bytes do not match the recorded request digest")
    policy = _check_device(parsed, allow_virtual, match_policy)
    customer = request.device.customer
    if replaces is not None and replaces.device.customer_id != customer.pk:
        raise LicensingError("a reissue must replace a license of the same customer")
    signer = vendor_signer()
    reg = registry()
    now = timezone.now().replace(microsecond=0)
    physical = parsed.environment["kind"] == ENV_PHYSICAL

    def body(serial: int) -> dict:
        return build_license_body(
            serial=serial,
            customer=customer.name,
            components=parsed.components,
            issued_at=now,
            not_before=now,
            expires_at=now + timedelta(days=terms.valid_days),
            stages=terms.stages,
            edition=terms.edition,
            features=terms.features,
            max_activations=terms.max_activations,
            allow_virtual=not physical,
            request_digest=parsed.digest,
            trust_root=parsed.trust_root,
            match_policy=policy.name,
        )

    appended: SignedLicense | None = None
    try:
        with transaction.atomic():
            req = LicenseRequest.objects.select_for_update().get(pk=request.pk)
            if req.status != RequestStatus.PENDING:
                raise LicensingError(f"request is {req.status}, not pending")

            def outputs(entry: dict, state) -> list[PlannedWrite]:
                # The license file (and the CRL of a reissue) are part of the registry append's intent:
                # written with it, or finished by the next append after a crash.
                signed = entry["data"]["license"]
                writes = [_crl_write(signer, state, now)] if replaces is not None else []
                data = canonical_bytes(signed) + b"\n"
                return [*writes, PlannedWrite(issued_path(entry["data"]["serial"]).resolve(), data)]

            intent = {
                "outputs": outputs,
                "op": "provision",
                "key": operation_key(op="provision", request=parsed.digest, via="console"),
            }
            try:
                # An approval of this request that died mid-way is finished, not redone.
                finished = reg.recover()
                if finished is not None and finished.key == intent["key"] and finished.line is not None:
                    appended = parse_license(strict_loads(finished.line)["data"]["license"])
                elif replaces is not None:
                    reason = f"reissued for {parsed.digest}"
                    appended = reg.reissue(replaces.serial, body, signer, reason=reason, at=now, **intent)
                else:
                    appended = reg.issue(body, signer, at=now, request_digest=parsed.digest, **intent)
                if replaces is not None:
                    observe_crl(data_dir(), allow_development_keys=allow_development_keys())
            except ValueError as exc:
                raise LicensingError(str(exc)) from None
            # -- the registry holds the license and its file now; what follows mirrors it --
            path, digest = issued_path(appended.serial), sha384_bytes(appended.to_bytes())
            lic = License.objects.create(
                serial=appended.serial,
                request=req,
                device=req.device,
                edition=appended.edition,
                features=list(appended.features),
                stages=list(appended.stages),
                issued_at=appended.issued_at,
                not_before=appended.not_before,
                expires_at=appended.expires_at,
                max_activations=appended.max_activations,
                allow_virtual=appended.allow_virtual,
                match_policy=appended.match_policy.name,
                file_path=str(path),
                file_sha384=digest,
                signed_by=signer.kid,
                replaces=replaces,
                issued_by=actor,
            )
            if replaces is not None:
                License.objects.filter(pk=replaces.pk).update(
                    status=LicenseStatus.SUPERSEDED,
                    revoked_reason=f"reissued as {appended.serial}",
                    revoked_at=now,
                    active_activations=0,
                )
            req.status, req.decided_by, req.decided_at = RequestStatus.APPROVED, actor, now
            req.save(update_fields=["status", "decided_by", "decided_at"])
            audit_event_record(
                action="license.reissue" if replaces is not None else "license.issue",
                actor=actor,
                object_type="license",
                object_id=appended.serial,
                detail={
                    "customer": customer.name,
                    "request_digest": parsed.digest,
                    "edition": appended.edition,
                    "stages": list(appended.stages),
                    "features": list(appended.features),
                    "expires_at": appended.document["expires_at"],
                    "max_activations": appended.max_activations,
                    "file_sha384": digest,
                    "signed_by": signer.kid,
                    "replaces": replaces.serial if replaces is not None else None,
                },
            )
            return lic
    except LicensingError:
        raise
    except Exception as exc:
        if appended is None:
            raise
        raise LicenseMirrorError(
            f"license serial {appended.serial} is recorded in the registry but the console could not "
            f"mirror it ({type(exc).__name__}: {' '.join(str(exc).split())}); the registry is the truth: "
            "reconcile to import it"
        ) from exc


# ---- revoke -----------------------------------------------------------------------------------------------
def license_revoke(*, actor, license: License, reason: str) -> License:  # noqa: A002 - the domain word
    """Append `revoked` to the registry and publish a new signed CRL that lists the serial."""
    authorize(actor, "license.revoke", license=license)
    reason = (reason or "").strip()
    if not reason or len(reason) > 500:
        raise LicensingError("a revocation needs a reason of 1..500 characters")
    if license.status != LicenseStatus.ACTIVE:
        raise LicensingError(f"license {license.serial} is {license.status}")
    signer = vendor_signer()
    reg = registry()
    now = timezone.now().replace(microsecond=0)
    revoked = False
    try:
        with transaction.atomic():
            lic = License.objects.select_for_update().get(pk=license.pk)
            try:
                state = reg.revoke(
                    lic.serial,
                    reason=reason,
                    signer=signer,
                    at=now,
                    outputs=lambda entry, state: [_crl_write(signer, state, now)],
                    op="revoke",
                    key=operation_key(op="revoke", serial=lic.serial),
                )
            except ValueError as exc:
                raise LicensingError(str(exc)) from None
            revoked = True
            observe_crl(data_dir(), allow_development_keys=allow_development_keys())
            crl = {"number": state.seq}
            lic.status, lic.revoked_reason, lic.revoked_at = LicenseStatus.REVOKED, reason, now
            lic.active_activations = 0
            lic.save(update_fields=["status", "revoked_reason", "revoked_at", "active_activations"])
            audit_event_record(
                action="license.revoke",
                actor=actor,
                object_type="license",
                object_id=lic.serial,
                detail={"customer": lic.device.customer.name, "reason": reason, "crl_number": crl["number"]},
            )
            return lic
    except LicensingError:
        raise
    except Exception as exc:
        if not revoked:
            raise
        raise LicenseMirrorError(
            f"license serial {license.serial} is revoked in the registry but the CRL or the console "
            f"could not follow ({type(exc).__name__}: {' '.join(str(exc).split())}); "
            "reconcile to rebuild them"
        ) from exc
