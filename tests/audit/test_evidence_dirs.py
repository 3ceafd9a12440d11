"""Evidence directories come from the deployment id only: nothing stored can point a deployment's evidence
at an absolute path or out of the data directory, and deployments made in /admin/ go through the creation
service (its audit event, its own directory)."""

import importlib
from types import SimpleNamespace

import pytest

from audit.models import AuditEvent, Deployment
from audit.services import deployment_create
from tests.factories import user_with_role

migration = importlib.import_module("audit.migrations.0006_deployment_local_evidence_dir")


def test_a_deployment_has_no_editable_path_and_its_evidence_dir_is_derived_from_its_id(db, settings):
    assert "evidence_subdir" not in {f.name for f in Deployment._meta.get_fields()}
    deployment = deployment_create(name="desk", customer="ACME")
    assert deployment.evidence_dir == settings.OEM_DATA_DIR / "deployments" / str(deployment.pk)
    assert deployment_create(name="own", customer="ACME", local=True).evidence_dir == settings.OEM_DATA_DIR


@pytest.mark.parametrize("hostile", ["/etc", "../..", "deployments/../../x"])
def test_admin_cannot_point_evidence_at_an_absolute_or_parent_path(db, client, settings, hostile):
    client.force_login(user_with_role("admin", is_staff=True, is_superuser=True))
    response = client.post(
        "/admin/audit/deployment/add/",
        {
            "name": "admin-made",
            "customer": "ACME",
            "description": "",
            "evidence_subdir": hostile,
            "local": "on",
        },
    )
    assert response.status_code == 302, response.content[:500]
    deployment = Deployment.objects.get(name="admin-made")
    assert not deployment.local
    assert deployment.evidence_dir.resolve().parent == (settings.OEM_DATA_DIR / "deployments").resolve()


def test_a_deployment_created_in_admin_gets_the_creation_audit_event(db, client):
    admin = user_with_role("admin", is_staff=True, is_superuser=True)
    client.force_login(admin)
    client.post("/admin/audit/deployment/add/", {"name": "via-admin", "customer": "ACME", "description": ""})
    deployment = Deployment.objects.get(name="via-admin")
    event = AuditEvent.objects.get(action="deployment.create", object_id=str(deployment.pk))
    assert event.actor == admin.username and event.outcome == "ok"


def test_a_deployment_cannot_be_edited_or_deleted_in_admin(db, client):
    client.force_login(user_with_role("admin", is_staff=True, is_superuser=True))
    deployment = deployment_create(name="fixed", customer="ACME")
    client.post(f"/admin/audit/deployment/{deployment.pk}/change/", {"name": "renamed", "customer": "Other"})
    deployment.refresh_from_db()
    assert (deployment.name, deployment.customer) == ("fixed", "ACME")
    assert client.post(f"/admin/audit/deployment/{deployment.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Deployment.objects.filter(pk=deployment.pk).exists()


def test_a_customer_created_in_admin_goes_through_its_service(db, client):
    from licensing.models import Customer

    admin = user_with_role("admin", is_staff=True, is_superuser=True)
    client.force_login(admin)
    assert client.post("/admin/licensing/customer/add/", {"name": "Admin Made"}).status_code == 302
    customer = Customer.objects.get(name="Admin Made")
    assert customer.created_by == admin
    assert AuditEvent.objects.filter(
        action="customer.create", object_id=str(customer.pk), actor=admin.username
    )


def test_a_customer_name_that_differs_only_in_spacing_is_refused_on_the_admin_form(db, client):
    from licensing.models import Customer

    client.force_login(user_with_role("admin", is_staff=True, is_superuser=True))
    assert client.post("/admin/licensing/customer/add/", {"name": "Admin Made"}).status_code == 302
    response = client.post("/admin/licensing/customer/add/", {"name": "  Admin   Made "})
    assert response.status_code == 200 and "already exists" in response.content.decode()
    assert Customer.objects.filter(name="Admin Made").count() == 1


class _Rows:
    def __init__(self, rows):
        self.rows = {row.pk: row for row in rows}

    def all(self):
        return self

    def only(self, *fields):
        return list(self.rows.values())

    def filter(self, pk):
        rows = self.rows

        class _Update:
            def update(self, **fields):
                for key, value in fields.items():
                    setattr(rows[pk], key, value)

        return _Update()


def _apps(rows):
    manager = _Rows(rows)
    return SimpleNamespace(get_model=lambda app, name: SimpleNamespace(objects=manager))


def test_the_migration_keeps_existing_evidence_where_it_was():
    own = SimpleNamespace(pk=1, name="own", evidence_subdir="", local=False)
    other = SimpleNamespace(pk=7, name="other", evidence_subdir="deployments/7", local=False)
    migration.forwards(_apps([own, other]), None)
    assert own.local is True and other.local is False


@pytest.mark.parametrize("edited", ["/srv/elsewhere", "../..", "deployments/8"])
def test_the_migration_stops_on_a_path_edited_by_hand_and_names_the_deployment(edited):
    row = SimpleNamespace(pk=7, name="tampered", evidence_subdir=edited, local=False)
    with pytest.raises(RuntimeError, match="tampered"):
        migration.forwards(_apps([row]), None)
    assert row.local is False
