"""Licensing reads, filtered to the customers the user may see.

A customer is visible to the admins it is assigned to (guardian object permission `licensing.view_customer`)
and to roles with the model-level `licensing.view_customer` (auditor: reads everything). Devices, requests
and licenses are visible exactly when their customer is. Callers fetch through these querysets
(`get_object_or_404`), so hidden and missing objects get the same 404. Who may act is licensing/rules.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import QuerySet
from guardian.shortcuts import get_objects_for_user

from licensing.core.crl import CrlError, load_crl
from licensing.core.registry import LIVE, crl_path, registry_path, verify_registry

from .models import Customer, Device, License, LicenseRequest, RequestStatus
from .services import store
from .services.registry import mirror_fields


def customer_list_visible(*, user) -> QuerySet[Customer]:
    if not user.is_authenticated:
        return Customer.objects.none()
    return get_objects_for_user(user, "licensing.view_customer", klass=Customer, accept_global_perms=True)


def customer_is_visible(*, user, customer: Customer) -> bool:
    return customer_list_visible(user=user).filter(pk=customer.pk).exists()


def device_list_visible(*, user) -> QuerySet[Device]:
    return Device.objects.filter(customer__in=customer_list_visible(user=user).values("pk")).select_related(
        "customer"
    )


def license_request_list_visible(*, user, status: str | None = None) -> QuerySet[LicenseRequest]:
    requests = LicenseRequest.objects.filter(
        device__customer__in=customer_list_visible(user=user).values("pk")
    ).select_related("device", "device__customer", "uploaded_by", "decided_by")
    if status:
        requests = requests.filter(status=status)
    return requests


def license_request_pending(*, user) -> QuerySet[LicenseRequest]:
    return license_request_list_visible(user=user, status=RequestStatus.PENDING)


def license_list_visible(*, user) -> QuerySet[License]:
    return License.objects.filter(
        device__customer__in=customer_list_visible(user=user).values("pk")
    ).select_related("device", "device__customer", "request", "issued_by")


def live_license_for_device(device: Device) -> License | None:
    return device.licenses.filter(status="active").order_by("-serial").first()


# ---- registry status --------------------------------------------------------------------------------------
@dataclass
class RegistryStatus:
    path: str
    exists: bool
    ok: bool  # green: the registry (absent or present) and the CRL verify with no problem at all
    problems: list[str] = field(default_factory=list)
    entries: int = 0
    licenses: int = 0
    live: int = 0
    next_serial: int = 1
    head: str = ""
    crl_number: int | None = None
    crl_serials: list[int] = field(default_factory=list)
    missing_in_console: list[int] = field(default_factory=list)
    differs_in_console: list[int] = field(default_factory=list)

    @property
    def mirror_ok(self) -> bool:
        return not self.missing_in_console and not self.differs_in_console


def registry_status() -> RegistryStatus:
    """verify_registry over the shared registry file plus the CRL and the console mirror's agreement."""
    allow_dev = store.allow_development_keys()
    path = registry_path(store.data_dir())
    status = RegistryStatus(path=str(path), exists=path.is_file(), ok=False)
    status.problems = verify_registry(path, allow_development_keys=allow_dev)
    try:
        crl = load_crl(crl_path(store.data_dir()), allow_development_keys=allow_dev)
    except CrlError as exc:
        status.problems.append(f"crl.json: {exc}")
        crl = None
    if crl is not None:
        status.crl_number, status.crl_serials = crl.number, sorted(crl.serials)
    if not status.problems:
        state = store.registry().read_state()
        status.entries, status.licenses, status.head = state.seq, len(state.licenses), state.head
        status.live = sum(1 for s in state.licenses.values() if s.status == LIVE)
        status.next_serial = state.next_serial()
        rows = {lic.serial: lic for lic in License.objects.filter(serial__in=list(state.licenses))}
        for serial, lic_state in sorted(state.licenses.items()):
            row = rows.get(serial)
            if row is None:
                status.missing_in_console.append(serial)
            elif mirror_fields(lic_state)["status"] != row.status or row.active_activations != len(
                lic_state.active
            ):
                status.differs_in_console.append(serial)
        revoked = {r["serial"] for r in state.revoked_list()}
        if revoked and (crl is None or set(crl.serials) != revoked):
            status.problems.append(
                f"crl.json does not list exactly the registry's revoked serials {sorted(revoked)}"
            )
    status.ok = not status.problems
    return status


def registry_license_state(serial: int):
    """What the verified registry says about one serial (LicenseState), or None; never raises."""
    try:
        return store.registry().read_state().licenses.get(int(serial))
    except ValueError:
        return None
