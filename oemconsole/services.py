"""Console-level writes: the demo deployment and its users."""

import secrets
from dataclasses import dataclass, field
from pathlib import Path

from django.apps import apps as django_apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from audit.models import Deployment
from audit.services import audit_event_record, deployment_assign_user, deployment_create, signer_key_create
from audit.trust.core_config import sign_file, signature_path
from audit.trust.keyring import KeyRing

from .roles import ADMIN, ROLES, sync_roles

DEMO_DEPLOYMENT = "demo-deployment"
DEMO_CUSTOMER = "Demo Customer"


@dataclass
class SeedResult:
    created_users: dict[str, str | None]  # username -> generated password (None when from the environment)
    deployment_created: bool
    signer_keys: list[str] = field(default_factory=list)
    config_signed: bool = False


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
        signer_password = created.get(role) or password if role in created else None
        if signer_password:
            signer_keys.append(signer_key_create(user=user, password=signer_password).kid)
    return SeedResult(
        created_users=created,
        deployment_created=deployment_created,
        signer_keys=signer_keys,
        config_signed=_sign_config_once(),
    )


def _sign_config_once() -> bool:
    """A fresh demo installation starts with its config signed under its own key; an existing signature,
    valid or not, is never replaced here (re-signing is a deliberate `sign_config`)."""
    config = Path(settings.OEM_CONFIG_PATH)
    if not config.is_file() or signature_path(config).exists():
        return False
    sign_file(config, KeyRing.load(settings.OEM_DATA_DIR))
    audit_event_record(action="config.sign", object_type="config", object_id=config.name)
    return True
