"""Factories for console objects. Users get roles by group and deployments by object permission."""

import factory
from django.apps import apps as django_apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from audit.models import Deployment
from audit.roles import sync_roles
from audit.services import deployment_assign_user

PASSWORD = "correct horse battery staple"  # noqa: S105


class DeploymentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Deployment

    name = factory.Sequence(lambda n: f"deployment-{n}")
    customer = factory.Sequence(lambda n: f"Customer {n}")
    # Tests share the run's data dir as the installation's own evidence; `local=False` exercises
    # deployments/<id>/.
    local = True


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = "Test"
    last_name = factory.Sequence(lambda n: f"User {n}")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def persist(obj, create, extracted, **kwargs):
        if create:
            obj.save()


def ensure_roles() -> None:
    # Transactional tests flush the groups the migration created; recreate them on demand.
    if Group.objects.count() < 6:
        sync_roles(django_apps)


def user_with_role(role: str | None, *, deployments=(), **kwargs):
    ensure_roles()
    user = UserFactory(**kwargs)
    if role:
        user.groups.add(Group.objects.get(name=role))
    for deployment in deployments:
        deployment_assign_user(deployment=deployment, user=user)
    return get_user_model().objects.get(pk=user.pk)  # fresh: no cached permissions
