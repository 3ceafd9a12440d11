"""Who may do what in licensing: one rule per action (audit.authorization). The role side comes from
the role's model permissions (audit.roles.ROLE_PERMISSIONS); the object side is the customer: an admin acts
only on the customers they manage (guardian), and a customer they do not manage stays invisible (404), never
"refused".

The role is answered first, so a role that may never act learns nothing about which objects exist."""

from audit.authorization import rule
from audit.errors import NotFound

from . import selectors


def _unless_visible(actor, customer, what: str) -> None:
    if customer is not None and not selectors.customer_is_visible(user=actor, customer=customer):
        raise NotFound(f"no such {what}")


@rule("customer.create", who="an admin")
def customer_create(actor) -> str | None:
    if not actor.has_perm("licensing.add_customer"):
        return "your role may not create customers"
    return None


@rule("customer.assign_admin", who="an admin who manages the customer")
def customer_assign_admin(actor, customer=None) -> str | None:
    if not actor.has_perm("licensing.change_customer"):
        return "your role may not assign admins to customers"
    _unless_visible(actor, customer, "customer")
    return None


@rule("license_request.upload", who="an admin who manages the customer")
def license_request_upload(actor, customer=None) -> str | None:
    if not actor.has_perm("licensing.add_licenserequest"):
        return "your role may not upload license requests"
    _unless_visible(actor, customer, "customer")
    return None


@rule("license_request.reject", who="an admin who manages the request's customer")
def license_request_reject(actor, request=None) -> str | None:
    if not actor.has_perm("licensing.change_licenserequest"):
        return "your role may not reject license requests"
    _unless_visible(actor, request.device.customer if request is not None else None, "request")
    return None


@rule("license.issue", who="an admin who manages the request's customer (approving a request)")
def license_issue(actor, request=None, replaces=None) -> str | None:
    if not actor.has_perm("licensing.add_license"):
        return "your role may not approve license requests"
    _unless_visible(actor, request.device.customer if request is not None else None, "request")
    _unless_visible(actor, replaces.device.customer if replaces is not None else None, "license")
    return None


@rule("license.revoke", who="an admin who manages the license's customer")
def license_revoke(actor, license=None) -> str | None:  # noqa: A002 - the domain word
    if not actor.has_perm("licensing.change_license"):
        return "your role may not revoke licenses"
    _unless_visible(actor, license.device.customer if license is not None else None, "license")
    return None


@rule("license_registry.view", who="an admin or an auditor (the registry is shared, not per customer)")
def license_registry_view(actor) -> str | None:
    if not (actor.has_perm("licensing.add_license") or actor.has_perm("licensing.view_license")):
        return "your role may not read the license registry"
    return None


@rule("license_registry.reconcile", who="an admin")
def license_registry_reconcile(actor) -> str | None:
    if not actor.has_perm("licensing.change_license"):
        return "your role may not reconcile the license registry"
    return None
