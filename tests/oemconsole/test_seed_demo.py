import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from guardian.models import UserObjectPermission

from audit.models import AuditEvent, Deployment
from audit.roles import ROLES


@pytest.fixture
def seeded(db, monkeypatch):
    monkeypatch.setenv("OEM_DEMO_PASSWORD", "demo-password-for-tests")
    call_command("seed_demo")


def snapshot():
    User = get_user_model()
    return {
        "users": sorted(User.objects.values_list("username", "password")),
        "groups": sorted(User.objects.values_list("username", "groups__name")),
        "deployments": sorted(Deployment.objects.values_list("name", "stage")),
        "object_perms": UserObjectPermission.objects.count(),
        "events": AuditEvent.objects.count(),
    }


def test_seed_demo_creates_one_user_per_role_named_after_it(seeded):
    User = get_user_model()
    for role in ROLES:
        user = User.objects.get(username=role)
        assert list(user.groups.values_list("name", flat=True)) == [role]
        assert user.check_password("demo-password-for-tests")


def test_every_demo_user_sees_the_demo_deployment(seeded):
    deployment = Deployment.objects.get(name="demo-deployment")
    for user in get_user_model().objects.all():
        assert user.has_perm("audit.view_deployment", deployment)


def test_seed_demo_twice_changes_nothing(seeded, capsys):
    before = snapshot()
    call_command("seed_demo")
    assert snapshot() == before
    assert "nothing changed" in capsys.readouterr().out


def test_generated_passwords_are_printed_once(db, monkeypatch, capsys):
    monkeypatch.delenv("OEM_DEMO_PASSWORD", raising=False)
    call_command("seed_demo")
    first = capsys.readouterr().out
    lines = [line for line in first.splitlines() if line.startswith("created user")]
    assert len(lines) == len(ROLES)
    password = lines[0].split()[-1]
    assert get_user_model().objects.get(username=lines[0].split()[2]).check_password(password)
    call_command("seed_demo")
    assert password not in capsys.readouterr().out


def test_seed_demo_gives_every_user_a_key_under_its_demo_password(seeded, settings):
    from audit.trust.keyring import KeyRing

    ring = KeyRing.load(settings.OEM_DATA_DIR)
    owners = {record.owner: record.roles for record in ring.list_keys(purpose="signer")}
    assert owners["product_owner"] == ("owner",)
    assert owners["compliance"] == ("compliance",)
    assert owners["engineer"] == ("engineer",)
    assert owners["operator"] == ()  # signs checklist steps, never counts for a decision-log role
    ring.signer_for("compliance", "demo-password-for-tests", role="compliance")  # decrypts: right password
