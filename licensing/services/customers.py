"""Customers: creating one (its creator manages it) and letting another admin manage it."""

from __future__ import annotations

from django.db import transaction
from guardian.shortcuts import assign_perm

from audit.authorization import authorize, is_admin
from audit.services import audit_event_record

from ..errors import LicensingError
from ..models import Customer


@transaction.atomic
def customer_create(*, actor, name: str) -> Customer:
    """A new customer; the creating admin manages it."""
    authorize(actor, "customer.create")
    name = " ".join((name or "").split())
    if not name or len(name) > 200:
        raise LicensingError("customer name must be 1..200 characters")
    if Customer.objects.filter(name=name).exists():
        raise LicensingError(f"customer {name!r} already exists")
    customer = Customer.objects.create(name=name, created_by=actor)
    assign_perm("licensing.view_customer", actor, customer)
    audit_event_record(
        action="customer.create",
        actor=actor,
        object_type="customer",
        object_id=customer.pk,
        detail={"name": name},
    )
    return customer


@transaction.atomic
def customer_assign_admin(*, actor, customer: Customer, admin) -> None:
    """Let one admin manage one customer (object permission, never a role-wide one)."""
    authorize(actor, "customer.assign_admin", customer=customer)
    if not is_admin(admin):
        raise LicensingError(f"{admin.get_username()} is not an admin: only admins manage customers")
    assign_perm("licensing.view_customer", admin, customer)
    audit_event_record(
        action="customer.assign_admin",
        actor=actor,
        object_type="customer",
        object_id=customer.pk,
        detail={"admin": admin.get_username()},
    )
