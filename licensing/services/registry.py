"""The registry's mirror: make the console (rows, issued files, CRL) equal the verified registry again, for
licenses issued on the command line or left behind by a failed database write."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from audit.authorization import authorize
from audit.services import audit_event_record
from audit.trust.fsutil import atomic_write_bytes
from audit.trust.hashing import sha384_bytes
from audit.trust.keyring import parse_time
from licensing.core.crl import CrlError, load_crl, write_crl
from licensing.core.device import observe_crl
from licensing.core.license_file import License as SignedLicense
from licensing.core.registry import LIVE, REVOKED, crl_path

from ..models import Customer, Device, License, LicenseRequest, LicenseStatus, RequestStatus
from .store import allow_development_keys, data_dir, issued_path, registry, vendor_signer

_STATUS = {LIVE: LicenseStatus.ACTIVE, REVOKED: LicenseStatus.REVOKED}  # anything else: superseded


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


def _import_license(state) -> License:
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


def license_registry_reconcile(*, actor) -> ReconcileReport:
    """The console's "Reconcile" button: `registry_mirror_reconcile` for an actor who may."""
    authorize(actor, "license_registry.reconcile")
    return registry_mirror_reconcile(actor=actor)


@transaction.atomic
def registry_mirror_reconcile(*, actor=None) -> ReconcileReport:
    """Make the console mirror (rows, license files, CRL) equal the verified registry. A registry that does
    not verify is never mirrored: the problems are returned and nothing changes.

    Without `actor` it is the command line on this machine (`manage.py reconcile_licenses`, the mirrored
    licensing CLIs): whoever runs it already holds the data directory and the vendor key, so there is no
    console role to check. It only copies what the signed registry says; it never decides anything."""
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
            row = _import_license(lic_state)
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
            actor=actor,
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
