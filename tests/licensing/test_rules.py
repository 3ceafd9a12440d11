"""Who may do what in licensing (licensing/rules.py), asked by the services themselves: each refusal is the
rule's answer, whoever calls the service, and a refused call writes nothing (no row, no audit event, no
registry entry)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from rest_framework.test import APIClient

from audit.authorization import may
from audit.errors import Invalid, NotAllowed, NotFound
from audit.models import AuditEvent
from licensing import services
from licensing.core.cli import license_request_main
from licensing.core.registry import registry_path
from licensing.models import Customer, Device, License, LicenseRequest, RequestStatus
from licensing.services import licenses as license_services
from tests.factories import ensure_roles, user_with_role

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def roles(db):
    ensure_roles()


@pytest.fixture
def admin():
    return user_with_role("admin")


@pytest.fixture
def customer(admin) -> Customer:
    return services.customer_create(actor=admin, name="ACME Trading")


@pytest.fixture
def request_bytes(tmp_path, capsys) -> bytes:
    assert license_request_main(["--out", str(tmp_path / "req.json")]) == 0
    capsys.readouterr()
    return (tmp_path / "req.json").read_bytes()


@pytest.fixture
def pending(admin, customer, request_bytes) -> LicenseRequest:
    return services.license_request_upload(actor=admin, request_bytes=request_bytes, customer=customer)


@pytest.fixture
def issued(admin, pending) -> License:
    return services.license_issue(actor=admin, request=pending, stages=["demo"], valid_days=30)


def _written() -> tuple:
    """Everything a licensing write leaves behind."""
    registry = registry_path().read_bytes() if registry_path().exists() else b""
    return (
        Customer.objects.count(),
        Device.objects.count(),
        LicenseRequest.objects.filter(status=RequestStatus.PENDING).count(),
        License.objects.filter(status="active").count(),
        AuditEvent.objects.count(),
        registry,
    )


def test_an_auditor_may_not_create_a_customer_and_nothing_is_written():
    before = _written()
    with pytest.raises(NotAllowed, match="your role may not create customers"):
        services.customer_create(actor=user_with_role("auditor"), name="Evil Corp")
    assert _written() == before


def test_nobody_signed_out_may_create_a_customer():
    with pytest.raises(NotAllowed, match="sign in first"):
        services.customer_create(actor=AnonymousUser(), name="Evil Corp")
    assert not Customer.objects.exists()


def test_an_admin_may_not_assign_admins_to_a_customer_they_do_not_manage_which_stays_invisible(customer):
    stranger, other = user_with_role("admin"), user_with_role("admin")
    before = _written()
    with pytest.raises(NotFound, match="no such customer"):
        services.customer_assign_admin(actor=stranger, customer=customer, admin=other)
    assert _written() == before
    assert not may(other, "license_request.upload", customer=customer)


def test_only_an_admin_may_be_assigned_to_manage_a_customer(admin, customer):
    engineer = user_with_role("engineer")
    before = _written()
    with pytest.raises(Invalid, match="is not an admin"):
        services.customer_assign_admin(actor=admin, customer=customer, admin=engineer)
    assert _written() == before
    assert not may(engineer, "license_request.upload", customer=customer)


def test_an_engineer_may_not_upload_a_request_and_no_device_or_request_is_written(customer, request_bytes):
    before = _written()
    with pytest.raises(NotAllowed, match="your role may not upload license requests"):
        services.license_request_upload(
            actor=user_with_role("engineer"), request_bytes=request_bytes, customer=customer
        )
    assert _written() == before


def test_an_admin_may_not_upload_for_a_customer_they_do_not_manage(customer, request_bytes):
    before = _written()
    with pytest.raises(NotFound):
        services.license_request_upload(
            actor=user_with_role("admin"), request_bytes=request_bytes, customer=customer
        )
    assert _written() == before


def test_an_auditor_may_not_reject_a_request_and_it_stays_pending(pending):
    before = _written()
    with pytest.raises(NotAllowed, match="your role may not reject license requests"):
        services.license_request_reject(actor=user_with_role("auditor"), request=pending, reason="no")
    assert _written() == before


def test_an_operator_may_not_approve_a_request_and_the_registry_is_not_touched(pending):
    before = _written()
    with pytest.raises(NotAllowed, match="your role may not approve license requests"):
        services.license_issue(
            actor=user_with_role("operator"), request=pending, stages=["demo"], valid_days=30
        )
    assert _written() == before and not registry_path().exists()


def test_an_admin_may_not_approve_a_request_of_a_customer_they_do_not_manage(pending):
    with pytest.raises(NotFound, match="no such request"):
        services.license_issue(actor=user_with_role("admin"), request=pending, stages=["demo"], valid_days=30)
    assert not registry_path().exists()


def test_an_auditor_may_not_revoke_a_license_and_the_registry_is_unchanged(issued):
    before = _written()
    with pytest.raises(NotAllowed, match="your role may not revoke licenses"):
        services.license_revoke(actor=user_with_role("auditor"), license=issued, reason="no")
    assert _written() == before


def test_an_admin_may_not_revoke_a_license_of_a_customer_they_do_not_manage(issued):
    before = _written()
    with pytest.raises(NotFound, match="no such license"):
        services.license_revoke(actor=user_with_role("admin"), license=issued, reason="no")
    assert _written() == before


def test_an_admin_and_an_auditor_may_read_the_registry_and_the_other_roles_may_not():
    readers = {
        role
        for role in ("admin", "auditor", "engineer", "operator")
        if may(user_with_role(role), "license_registry.view")
    }
    assert readers == {"admin", "auditor"}


def test_an_auditor_may_not_reconcile_but_the_command_line_may(issued):
    License.objects.all().delete()
    with pytest.raises(NotAllowed, match="your role may not reconcile the license registry"):
        services.license_registry_reconcile(actor=user_with_role("auditor"))
    assert not License.objects.exists()
    assert services.registry_mirror_reconcile().imported == [issued.serial]


def test_the_templates_ask_the_same_rules(admin, issued, pending):
    auditor = user_with_role("auditor")
    assert may(admin, "license.revoke", license=issued) and not may(auditor, "license.revoke", license=issued)
    assert not may(user_with_role("admin"), "license.revoke", license=issued)  # does not manage it


def test_a_licensing_error_keeps_its_status_code_and_extra_keys():
    foreign = services.ForeignRequestError("sha384:" + "0" * 96)
    assert (foreign.status, foreign.code, foreign.extra["foreign"]) == (400, "foreign_request", True)
    assert isinstance(foreign, ValueError)  # callers outside the console still catch a ValueError
    mirror = services.LicenseMirrorError("registry holds it")
    assert (mirror.status, mirror.code) == (500, "mirror_failed")


def test_a_mirror_failure_answers_500_mirror_failed_through_the_api(admin, pending, monkeypatch):
    real = license_services.audit_event_record

    def failing(**kwargs):
        if kwargs["action"] == "license.issue":
            raise RuntimeError("database is locked")
        return real(**kwargs)

    monkeypatch.setattr(license_services, "audit_event_record", failing)
    client = APIClient()
    client.force_authenticate(admin)
    response = client.post(
        f"/api/v1/licensing/requests/{pending.pk}/approve/",
        {"stages": ["demo"], "valid_days": 30},
        format="json",
    )
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["code"] == "mirror_failed" and "recorded in the registry" in error["message"]
