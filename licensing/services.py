"""Licensing writes: customers, request upload, approval (issue), rejection, revocation, reconcile.

The signed registry `OEM_DATA_DIR/licenses/registry.jsonl` is the truth; every write goes through
licensing.core (load_request, load_vendor_signer, Registry, write_crl), never around it. Order of effects and
what a failure leaves behind:

1. Everything is validated first (arguments, stored request bytes, vendor key, production vs development
   key): a refusal writes nothing anywhere.
2. The registry append is the commit point. It runs inside the database transaction; if it fails (policy,
   broken registry, untrusted key) the transaction rolls back and nothing was written.
3. After the append: the license file (or the CRL), the database rows and the audit event. If any of these
   fails, the database transaction rolls back but the registry already holds the entry; `LicenseMirrorError`
   says so and `license_registry_reconcile` (registry page "Reconcile", `manage.py reconcile_licenses`)
   imports what the registry has and the console lacks, rewrites missing license files from the registry's
   copy of the signed document and rebuilds a CRL that does not list exactly the registry's revoked serials.

The data directory is `audit.trust.paths.data_dir()` (the OEM_DATA_DIR the settings export), the same one the
pure CLIs use, so console and command line share one registry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from django.db import transaction
from django.utils import timezone
from guardian.shortcuts import assign_perm

from audit.services import audit_event_record
from audit.trust import paths
from audit.trust.canonical import canonical_bytes, strict_loads
from audit.trust.fsutil import atomic_write_bytes
from audit.trust.hashing import sha384_bytes
from audit.trust.keyring import KeyRing, parse_time
from licensing.core.crl import CrlError, build_crl, load_crl, write_crl
from licensing.core.device import observe_crl
from licensing.core.devkeys import development_licenses_allowed
from licensing.core.fingerprint import DEFAULT_POLICY, ENV_PHYSICAL, MatchPolicy, policy_named
from licensing.core.intent import PlannedWrite, operation_key
from licensing.core.license_file import (
    License as SignedLicense,
)
from licensing.core.license_file import (
    build_license_body,
    check_features,
    check_stages,
    load_vendor_signer,
    parse_license,
)
from licensing.core.registry import LIVE, REVOKED, Registry, crl_path, device_digest, registry_path
from licensing.core.request import LicenseRequest as ParsedRequest
from licensing.core.request import load_request
from licensing.core.vendor_trust import trusted_verifying_key

from .models import Customer, Device, License, LicenseRequest, LicenseStatus, RequestStatus

_EDITION = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")  # as the oem_provision_license CLI
ADMIN_ROLE = "admin"  # audit.roles.ADMIN (licensing sits below oemconsole: no import)
_STATUS = {LIVE: LicenseStatus.ACTIVE, REVOKED: LicenseStatus.REVOKED}  # anything else: superseded


class LicensingError(ValueError):
    """A licensing write was refused; nothing was written. One-line message."""


class ForeignRequestError(LicensingError):
    """The request comes from another installation: the admin must confirm its digest first."""

    def __init__(self, digest: str):
        self.digest = digest
        super().__init__(
            f"request comes from another installation (its fingerprint key is not on this key ring): "
            f"confirm digest {digest} with the device, then accept it as a foreign request"
        )


class LicenseMirrorError(LicensingError):
    """The registry holds the entry but the console could not mirror it; reconcile repairs that."""


# ---- where things live ------------------------------------------------------------------------------------
def data_dir() -> Path:
    return paths.data_dir()


def issued_dir() -> Path:
    return data_dir() / "licenses" / "issued"


def issued_path(serial: int) -> Path:
    return issued_dir() / f"{int(serial)}.json"


def allow_development_keys() -> bool:
    """As the CLIs: development keys only with OEM_ALLOW_DEVELOPMENT_LICENSES=true (core.devkeys)."""
    try:
        return development_licenses_allowed()
    except ValueError as exc:
        raise LicensingError(str(exc)) from None


def registry() -> Registry:
    return Registry(
        registry_path(data_dir()), allow_development_keys=allow_development_keys(), keyring=_keyring()
    )


def vendor_signer():
    """The vendor license signer, refused up front when this environment may not use it."""
    try:
        signer = load_vendor_signer()
        trusted_verifying_key(signer.kid, allow_development_keys=allow_development_keys())
    except ValueError as exc:
        raise LicensingError(str(exc)) from None
    return signer


def _keyring() -> KeyRing:
    try:
        return KeyRing.load(data_dir())
    except ValueError as exc:
        raise LicensingError(f"key ring: {exc}") from None


# ---- customers --------------------------------------------------------------------------------------------
@transaction.atomic
def customer_create(*, name: str, user=None) -> Customer:
    """A new customer; the creating user manages it."""
    name = " ".join((name or "").split())
    if not name or len(name) > 200:
        raise LicensingError("customer name must be 1..200 characters")
    if Customer.objects.filter(name=name).exists():
        raise LicensingError(f"customer {name!r} already exists")
    customer = Customer.objects.create(name=name, created_by=user)
    if user is not None and user.is_authenticated:
        assign_perm("licensing.view_customer", user, customer)
    audit_event_record(
        action="customer.create",
        actor=user,
        object_type="customer",
        object_id=customer.pk,
        detail={"name": name},
    )
    return customer


@transaction.atomic
def customer_assign_admin(*, customer: Customer, admin, user=None) -> None:
    """Let one admin manage one customer (object permission, never a role-wide one)."""
    if not admin.groups.filter(name=ADMIN_ROLE).exists() and not admin.is_superuser:
        raise LicensingError(f"{admin.get_username()} is not an admin: only admins manage customers")
    assign_perm("licensing.view_customer", admin, customer)
    audit_event_record(
        action="customer.assign_admin",
        actor=user,
        object_type="customer",
        object_id=customer.pk,
        detail={"admin": admin.get_username()},
    )


# ---- requests ---------------------------------------------------------------------------------------------
def _parse_request(data: bytes, *, foreign_ok: bool) -> ParsedRequest:
    try:
        return load_request(data, _keyring(), allow_foreign=foreign_ok)
    except ValueError as exc:
        raise LicensingError(str(exc)) from None


@transaction.atomic
def license_request_upload(
    *, request_bytes: bytes, customer: Customer, user=None, confirm_digest: str = "", label: str = ""
) -> LicenseRequest:
    """Check a device's request (licensing.core.request.load_request) and queue it for approval.

    The fingerprint HMAC must verify whenever this key ring holds its key. A request from another
    installation (HMAC not checkable here) is accepted only when `confirm_digest` equals its digest — the
    console form of the CLI's --foreign-request, after the admin compared the digest with the device's.
    """
    parsed = _parse_request(bytes(request_bytes), foreign_ok=True)
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
        uploaded_by=user,
    )
    audit_event_record(
        action="license_request.upload",
        actor=user,
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
def license_request_reject(*, request: LicenseRequest, reason: str, user=None) -> LicenseRequest:
    reason = (reason or "").strip()
    if not reason or len(reason) > 500:
        raise LicensingError("a rejection needs a reason of 1..500 characters")
    req = LicenseRequest.objects.select_for_update().get(pk=request.pk)
    if req.status != RequestStatus.PENDING:
        raise LicensingError(f"request is {req.status}, not pending")
    req.status, req.decision_reason = RequestStatus.REJECTED, reason
    req.decided_by, req.decided_at = user, timezone.now()
    req.save(update_fields=["status", "decision_reason", "decided_by", "decided_at"])
    audit_event_record(
        action="license_request.reject",
        actor=user,
        object_type="license_request",
        object_id=req.pk,
        detail={"request_digest": req.request_digest, "reason": reason},
    )
    return req


# ---- issue ------------------------------------------------------------------------------------------------
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
    request: LicenseRequest,
    edition: str = "standard",
    features=(),
    stages,
    valid_days: int,
    max_activations: int = 1,
    user=None,
    allow_virtual: bool = False,
    match_policy: str = DEFAULT_POLICY.name,
    replaces: License | None = None,
) -> License:
    """Approve a pending request: sign its license with the vendor key, append `issued` (or `reissued` when
    `replaces` is given, plus a new CRL) to the registry, write `licenses/issued/<serial>.json`, mirror it."""
    terms = _check_terms(
        edition=edition,
        features=features,
        stages=stages,
        valid_days=valid_days,
        max_activations=max_activations,
    )
    if request.status != RequestStatus.PENDING:
        raise LicensingError(f"request is {request.status}, not pending")
    parsed = _parse_request(bytes(request.request_bytes), foreign_ok=request.foreign)
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
                issued_by=user,
            )
            if replaces is not None:
                License.objects.filter(pk=replaces.pk).update(
                    status=LicenseStatus.SUPERSEDED,
                    revoked_reason=f"reissued as {appended.serial}",
                    revoked_at=now,
                    active_activations=0,
                )
            req.status, req.decided_by, req.decided_at = RequestStatus.APPROVED, user, now
            req.save(update_fields=["status", "decided_by", "decided_at"])
            audit_event_record(
                action="license.reissue" if replaces is not None else "license.issue",
                actor=user,
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
def license_revoke(*, license: License, reason: str, user=None) -> License:  # noqa: A002 - the domain word
    """Append `revoked` to the registry and publish a new signed CRL that lists the serial."""
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
                actor=user,
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


# ---- reconcile --------------------------------------------------------------------------------------------
@dataclass
class ReconcileReport:
    imported: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    files_written: list[int] = field(default_factory=list)
    crl_written: bool = False
    problems: list[str] = field(default_factory=list)  # registry broken, or console rows the registry lacks

    @property
    def changed(self) -> bool:
        return bool(self.imported or self.updated or self.files_written or self.crl_written)

    def summary(self) -> str:
        parts = [
            f"imported {len(self.imported)}",
            f"updated {len(self.updated)}",
            f"license files rewritten {len(self.files_written)}",
            f"CRL {'rewritten' if self.crl_written else 'unchanged'}",
        ]
        text = ", ".join(parts)
        return text + (f"; {len(self.problems)} problem(s): {self.problems[0]}" if self.problems else "")


def mirror_fields(state) -> dict:
    status = _STATUS.get(state.status, LicenseStatus.SUPERSEDED)
    return {
        "status": status,
        "active_activations": len(state.active),
        "revoked_reason": (state.revocation_reason or "")[:500] if status != LicenseStatus.ACTIVE else "",
        "revoked_at": parse_time(state.revoked_at) if state.revoked_at else None,
    }


def _import_license(state, user) -> License:
    signed: SignedLicense = state.license
    customer, _ = Customer.objects.get_or_create(name=signed.customer[:200])
    req = (
        LicenseRequest.objects.select_related("device").filter(request_digest=signed.request_digest).first()
        if signed.request_digest
        else None
    )
    if req is not None and req.device.device_digest == state.device_digest:
        device = req.device
        if req.status == RequestStatus.PENDING:
            req.status, req.decided_by, req.decided_at = RequestStatus.APPROVED, None, timezone.now()
            req.decision_reason = "approved outside the console (imported from the registry)"
            req.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
    else:
        req = None
        device, _ = Device.objects.get_or_create(
            customer=customer,
            device_digest=state.device_digest,
            defaults={"request_digest": signed.request_digest or "", "label": ""},
        )
    data = signed.to_bytes()
    return License.objects.create(
        serial=signed.serial,
        request=req,
        device=device,
        edition=signed.edition,
        features=list(signed.features),
        stages=list(signed.stages),
        issued_at=signed.issued_at,
        not_before=signed.not_before,
        expires_at=signed.expires_at,
        max_activations=signed.max_activations,
        allow_virtual=signed.allow_virtual,
        match_policy=signed.match_policy.name,
        file_path=str(issued_path(signed.serial)),
        file_sha384=sha384_bytes(data),
        signed_by=signed.signature.split(":")[1] if signed.signature.count(":") >= 2 else "",
        imported=True,
        **mirror_fields(state),
    )


@transaction.atomic
def license_registry_reconcile(*, user=None) -> ReconcileReport:
    """Make the console mirror (rows, license files, CRL) equal the verified registry. A registry that does
    not verify is never mirrored: the problems are returned and nothing changes."""
    report = ReconcileReport()
    reg = registry()
    try:
        state = reg.read_state()
    except ValueError as exc:
        report.problems.append(str(exc))
        return report
    for serial in sorted(state.licenses):
        lic_state = state.licenses[serial]
        row = License.objects.filter(serial=serial).first()
        if row is None:
            row = _import_license(lic_state, user)
            report.imported.append(serial)
        else:
            wanted = mirror_fields(lic_state)
            if any(getattr(row, k) != v for k, v in wanted.items()):
                for k, v in wanted.items():
                    setattr(row, k, v)
                row.save(update_fields=list(wanted))
                report.updated.append(serial)
        data = lic_state.license.to_bytes()
        path = issued_path(serial)
        try:
            current = path.read_bytes()
        except FileNotFoundError:
            current = None
        if current != data:
            atomic_write_bytes(path, data)
            report.files_written.append(serial)
        if row.file_path != str(path) or row.file_sha384 != sha384_bytes(data):
            row.file_path, row.file_sha384 = str(path), sha384_bytes(data)
            row.save(update_fields=["file_path", "file_sha384"])
    for serial in License.objects.exclude(serial__in=list(state.licenses)).values_list("serial", flat=True):
        report.problems.append(f"license serial {serial} is in the console but not in the registry")
    expected = {r["serial"] for r in state.revoked_list()}
    try:
        crl = load_crl(crl_path(data_dir()), allow_development_keys=allow_development_keys())
    except CrlError:
        crl = None
        stale = True
    else:
        stale = (crl is None and bool(expected)) or (crl is not None and set(crl.serials) != expected)
    if stale:
        signer = vendor_signer()
        write_crl(crl_path(data_dir()), reg.build_crl(signer, at=timezone.now().replace(microsecond=0)))
        observe_crl(data_dir(), allow_development_keys=allow_development_keys())
        report.crl_written = True
    if report.changed or report.problems:
        audit_event_record(
            action="license.reconcile",
            actor=user,
            outcome="ok" if not report.problems else "error",
            object_type="license_registry",
            object_id=state.seq,
            detail={
                "imported": report.imported,
                "updated": report.updated,
                "files_written": report.files_written,
                "crl_written": report.crl_written,
                "problems": report.problems[:20],
            },
        )
    return report
