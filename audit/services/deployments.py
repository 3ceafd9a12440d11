"""Deployment writes: creation and per-user access (object permissions)."""

from django.db import transaction
from guardian.shortcuts import assign_perm, remove_perm

from audit.authorization import authorize
from audit.models import Deployment, Stage

from .trail import audit_event_record


@transaction.atomic
def deployment_create(
    *, name: str, customer: str, description: str = "", local: bool = False, actor=None
) -> Deployment:
    """`local`: this is the installation the console runs on; its evidence is OEM_DATA_DIR itself, which
    its daemon reads. Other deployments keep theirs under deployments/<id>/. `actor=None` is the installation
    itself (init, seed and benchmark commands); a person is authorized first."""
    if actor is not None:
        authorize(actor, "deployment.create")
    deployment = Deployment.objects.create(
        name=name, customer=customer, description=description, stage=Stage.DEMO, local=local
    )
    audit_event_record(
        action="deployment.create",
        actor=actor,
        object_type="deployment",
        object_id=deployment.pk,
        deployment=deployment,
        detail={"name": name, "customer": customer, "local": local},
    )
    return deployment


@transaction.atomic
def deployment_assign_user(*, deployment: Deployment, user, actor=None) -> None:
    """Grant one user access to one deployment (object permission, not a global one)."""
    if actor is not None:
        authorize(actor, "deployment.assign", deployment=deployment)
    assign_perm("audit.view_deployment", user, deployment)
    audit_event_record(
        action="deployment.assign",
        actor=actor,
        object_type="deployment",
        object_id=deployment.pk,
        deployment=deployment,
        detail={"user": user.get_username()},
    )


@transaction.atomic
def deployment_unassign_user(*, deployment: Deployment, user, actor=None) -> None:
    if actor is not None:
        authorize(actor, "deployment.assign", deployment=deployment)
    remove_perm("audit.view_deployment", user, deployment)
    audit_event_record(
        action="deployment.unassign",
        actor=actor,
        object_type="deployment",
        object_id=deployment.pk,
        deployment=deployment,
        detail={"user": user.get_username()},
    )
