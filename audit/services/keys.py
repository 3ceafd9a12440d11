"""Signer keys of console users."""

from django.views.decorators.debug import sensitive_variables

from .trail import audit_event_record


@sensitive_variables("password", "admin_password")
def signer_key_create(*, user, password: str, admin_password: str | None = None):
    """A new Ed25519 signer key for `user`, encrypted under the password they just re-entered and certified
    by the installation root, which the administrator's password unlocks for this moment (without it the
    key ring refuses: nobody enrols a signer alone). The signer roles come from the user's groups at this
    moment (product_owner → owner, …)."""
    from django.conf import settings

    from audit.trust.keyring import KeyRing, roles_from_groups

    if not user.check_password(password):
        audit_event_record(
            action="signing_key.create",
            actor=user,
            outcome="denied",
            object_type="user",
            object_id=user.pk,
            detail={"reason": "wrong password"},
        )
        raise PermissionError("the password does not match this user")
    roles = roles_from_groups(list(user.groups.values_list("name", flat=True)))
    keyring = KeyRing.load(settings.OEM_DATA_DIR)
    record = keyring.create_signer_key(user.get_username(), roles, password, admin_password=admin_password)
    audit_event_record(
        action="signing_key.create",
        actor=user,
        object_type="signing_key",
        object_id=record.kid,
        detail={"roles": list(record.roles)},
    )
    return record
