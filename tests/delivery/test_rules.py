"""Who may do what with bundles (delivery/rules.py), asked by the services themselves: a refused call writes
nothing (no build row, no job, no checklist, no audit event), whoever calls the service."""

import pytest

from audit.authorization import may
from audit.errors import Invalid, NotAllowed
from audit.models import AuditEvent, Checklist
from audit.roles import ROLES
from audit.trust.hashing import sha384_file
from delivery import services
from delivery.models import BuildStatus, BundleBuild
from jobs import services as job_services
from jobs.models import Job
from tests.factories import user_with_role

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    monkeypatch.setattr(job_services, "job_enqueue", lambda *, job_id: None)


@pytest.fixture
def build(tmp_path) -> BundleBuild:
    (tmp_path / "bundle").mkdir()
    (tmp_path / "bundle" / "manifest.json").write_bytes(b'{"schema":"oem/bundle-manifest/v1"}')
    return BundleBuild.objects.create(
        platform="linux-x86_64",
        status=BuildStatus.BUILT,
        bundle_dir=str(tmp_path / "bundle"),
        fingerprint=f"sha384:{sha384_file(tmp_path / 'bundle' / 'manifest.json')}",
    )


def _written() -> tuple:
    return (
        BundleBuild.objects.count(),
        Job.objects.count(),
        Checklist.objects.count(),
        AuditEvent.objects.count(),
        list(BundleBuild.objects.values_list("acceptance_status", flat=True)),
    )


def test_admin_engineer_and_auditor_may_see_bundles_and_no_other_role():
    assert {role for role in ROLES if may(user_with_role(role), "bundle.view")} == {
        "admin",
        "engineer",
        "auditor",
    }


def test_an_engineer_may_not_build_a_bundle_and_no_build_or_job_is_written():
    before = _written()
    with pytest.raises(NotAllowed, match="your role may not build bundles"):
        services.bundle_build_start(platform="linux-x86_64", actor=user_with_role("engineer"))
    assert _written() == before


def test_an_engineer_may_not_register_a_bundle_and_it_is_refused_before_it_is_read(tmp_path):
    with pytest.raises(NotAllowed, match="your role may not register bundles"):
        services.bundle_build_register(bundle_dir=tmp_path / "absent", actor=user_with_role("engineer"))
    assert not BundleBuild.objects.exists()


def test_an_auditor_may_not_start_an_acceptance_and_no_job_is_written(build):
    before = _written()
    with pytest.raises(NotAllowed, match="your role may not run the OEM acceptance"):
        services.bundle_acceptance_start(build=build, actor=user_with_role("auditor"))
    assert _written() == before


def test_an_operator_may_not_attach_a_bundle_and_no_checklist_is_opened(build, deployment):
    operator = user_with_role("operator", deployments=[deployment])
    before = _written()
    with pytest.raises(NotAllowed, match="your role may not use bundles as evidence"):
        services.bundle_build_attach(
            build=build, deployment_id=deployment.pk, checklist_id="paper_trading", actor=operator
        )
    assert _written() == before


def test_an_engineer_of_another_deployment_attaches_nothing_there(build, deployment, other_deployment):
    engineer = user_with_role("engineer", deployments=[other_deployment])
    before = _written()
    with pytest.raises(services.DeliveryRefused, match="no such deployment"):
        services.bundle_build_attach(
            build=build, deployment_id=deployment.pk, checklist_id="paper_trading", actor=engineer
        )
    assert _written() == before


def test_a_delivery_refusal_is_a_400_of_the_one_error_family():
    refusal = services.DeliveryRefused("only a built bundle can be accepted")
    assert isinstance(refusal, Invalid) and (refusal.status, refusal.code) == (400, "invalid")


def test_register_bundle_on_the_command_line_answers_the_rule_in_one_line(tmp_path):
    from django.core.management import CommandError, call_command

    engineer = user_with_role("engineer")
    with pytest.raises(CommandError, match="^your role may not register bundles$"):
        call_command("register_bundle", str(tmp_path / "absent"), "--user", engineer.username)
    assert not BundleBuild.objects.exists()
