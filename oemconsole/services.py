"""Console-level writes: the demo deployment and its users, API tokens, lifting lockouts."""

import secrets
from dataclasses import dataclass, field
from pathlib import Path

from django.apps import apps as django_apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from audit.authorization import authorize
from audit.errors import NotFound
from audit.models import Deployment
from audit.roles import ADMIN, ROLES, sync_roles
from audit.services import audit_event_record, deployment_assign_user, deployment_create, signer_key_create
from audit.trust.core_config import sign_file, signature_path
from audit.trust.keyring import KeyRing, KeyRingError

from .models import ApiToken

DEMO_DEPLOYMENT = "demo-deployment"
DEMO_CUSTOMER = "Demo Customer"


@dataclass
class SeedResult:
    created_users: dict[str, str | None]  # username -> generated password (None when from the environment)
    deployment_created: bool
    signer_keys: list[str] = field(default_factory=list)
    config_signed: bool = False
    installation_id: str | None = None  # set when this seed performed the setup step
    root_fingerprint: str | None = None
    notes: list[str] = field(default_factory=list)


@transaction.atomic
def demo_seed(*, password: str | None) -> SeedResult:
    """Idempotent: existing users keep their passwords, the deployment is created once."""
    sync_roles(django_apps)
    User = get_user_model()
    deployment = Deployment.objects.filter(name=DEMO_DEPLOYMENT).first()
    deployment_created = deployment is None
    if deployment is None:
        deployment = deployment_create(
            name=DEMO_DEPLOYMENT, customer=DEMO_CUSTOMER, description="Seeded demo installation.", local=True
        )
    created: dict[str, str | None] = {}
    signer_keys: list[str] = []
    users = []
    for role in ROLES:
        user = User.objects.filter(username=role).first()
        if user is None:
            generated = None if password else secrets.token_urlsafe(15)
            user = User.objects.create_user(
                username=role,
                password=password or generated,
                first_name="Demo",
                last_name=role.replace("_", " ").title(),
                is_staff=(role == ADMIN),
            )
            created[role] = generated
            audit_event_record(
                action="user.create", object_type="user", object_id=user.pk, detail={"role": role}
            )
        user.groups.add(Group.objects.get(name=role))
        if not user.has_perm("audit.view_deployment", deployment):
            deployment_assign_user(deployment=deployment, user=user)
        users.append((role, user))
    # The demo's setup step: the trust root is created with the demo administrator's password (printed or
    # OEM_DEMO_PASSWORD), exactly as `manage.py init_installation` would, and pinned in this database.
    admin_password = created.get(ADMIN) or password if ADMIN in created else password
    installation, notes = _installation(admin_password)
    for role, user in users:
        signer_password = created.get(role) or password if role in created else None
        if signer_password and installation is not None:
            try:
                signer_keys.append(
                    signer_key_create(user=user, password=signer_password, admin_password=admin_password).kid
                )
            except KeyRingError as exc:
                notes.append(f"no signer key for {role}: {exc}")
    return SeedResult(
        created_users=created,
        deployment_created=deployment_created,
        signer_keys=signer_keys,
        config_signed=installation is not None and _sign_config_once(),
        installation_id=installation.installation_id if installation and installation.created_now else None,
        root_fingerprint=installation.root_fingerprint if installation else None,
        notes=notes,
    )


@dataclass
class _SeedInstallation:
    installation_id: str
    root_fingerprint: str
    created_now: bool


def _installation(admin_password: str | None) -> tuple[_SeedInstallation | None, list[str]]:
    """Set up the installation when there is none; pin an existing one this database has not pinned yet
    (the password proves it is this installation's root). Never re-creates a trust root."""
    from audit.trust.installation import InstallationError, installation_exists, load_installation
    from audit.trustdb.services import installation_init, installation_pin_existing
    from audit.trustdb.stores import database_pin

    data_dir = Path(settings.OEM_DATA_DIR)
    try:
        if not installation_exists(data_dir):
            if not admin_password:
                return None, ["no installation set up: run init_installation"]
            made = installation_init(admin_password=admin_password)
            return _SeedInstallation(made.installation_id, made.root_fingerprint, True), []
        existing = load_installation(data_dir)
        if admin_password and database_pin(existing) is None:
            try:
                installation_pin_existing(admin_password=admin_password)
            except (InstallationError, KeyRingError):
                pass  # an installation set up with another password: keys need `create_signer_key`
        return _SeedInstallation(existing.installation_id, existing.root_fingerprint, False), []
    except (InstallationError, KeyRingError) as exc:
        return None, [f"installation: {exc}"]


def _sign_config_once() -> bool:
    """A fresh demo installation starts with its config signed under its own key; an existing signature,
    valid or not, is never replaced here (re-signing is a deliberate `sign_config`)."""
    config = Path(settings.OEM_CONFIG_PATH)
    if not config.is_file() or signature_path(config).exists():
        return False
    sign_file(config, KeyRing.load(settings.OEM_DATA_DIR))
    audit_event_record(action="config.sign", object_type="config", object_id=config.name)
    return True


# ---- API tokens ----------------------------------------------------------------------------------------
@transaction.atomic
def api_token_issue(*, actor, request=None) -> tuple[ApiToken, str]:
    """A new API token for `actor` (whose password the caller has checked); returns the row and the secret,
    which is shown once and never stored. The audit event carries the token id, never the secret."""
    from datetime import timedelta

    from django.utils import timezone

    from .authentication import token_digest
    from .client_ip import client_ip

    authorize(actor, "api_token.issue")
    secret = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=actor,
        key_sha384=token_digest(secret),
        expires_at=timezone.now() + timedelta(hours=settings.OEM_API_TOKEN_HOURS),
    )
    audit_event_record(
        action="api_token.issue",
        actor=actor,
        object_type="api_token",
        object_id=token.pk,
        detail={
            "expires_at": token.expires_at.isoformat(),
            **({"ip": client_ip(request)} if request else {}),
        },
    )
    return token, secret


@transaction.atomic
def api_token_revoke(*, actor, token_id: int) -> ApiToken:
    """Revoke by id: the owner or an admin. Anyone else is refused before any write, as for a missing id."""
    from django.utils import timezone

    token = ApiToken.objects.select_for_update().filter(pk=token_id).first()
    if token is None:
        raise NotFound("no such token")
    authorize(actor, "api_token.revoke", token=token)
    if token.revoked_at is None:
        token.revoked_at, token.revoked_by = timezone.now(), actor
        token.save(update_fields=["revoked_at", "revoked_by"])
        audit_event_record(
            action="api_token.revoke",
            actor=actor,
            object_type="api_token",
            object_id=token.pk,
            detail={"owner": token.user.get_username()},
        )
    return token


# ---- lockouts ---------------------------------------------------------------------------------------------
@transaction.atomic
def lockout_clear(*, actor, username: str) -> dict[str, int]:
    """An admin lifts the login lockout (every address) and the signing lockout of one account, audited."""
    from axes.utils import reset as axes_reset

    from audit.models import SigningLockout

    authorize(actor, "account.unlock")
    login_attempts = axes_reset(username=username)
    signing = SigningLockout.objects.filter(user__username=username).update(failures=0, locked_at=None)
    audit_event_record(
        action="auth.unlock",
        actor=actor,
        object_type="user",
        object_id=username[:80],
        detail={"login_attempts_cleared": login_attempts, "signing_unlocked": bool(signing)},
    )
    return {"login_attempts": login_attempts, "signing": signing}
