"""Who may change Paper Labs, each rule as a sentence: a refused actor writes nothing."""

import pytest

from audit.errors import NotAllowed, NotFound
from audit.models import AuditEvent, Checklist, Deployment, StepAttachment
from jobs import services as job_services
from jobs.models import Job
from risklab import services
from risklab.engine.data import SAMPLE_DATA
from risklab.engine.lab import plan_tasks
from risklab.models import Dataset, LabRun, LabRunStatus
from tests.factories import user_with_role

PLAN = {"profiles": ["balanced"], "scenarios": ["baseline"], "strategies": ["buy_and_hold"]}


@pytest.fixture(autouse=True)
def no_broker(monkeypatch, settings, tmp_path):
    settings.OEM_DATA_DIR = tmp_path / "data"
    monkeypatch.setattr(job_services, "job_enqueue", lambda *, job_id: None)


def written() -> tuple[int, ...]:
    return tuple(m.objects.count() for m in (Dataset, LabRun, Job, Checklist, StepAttachment, AuditEvent))


@pytest.mark.parametrize("role", ["auditor", "operator", "compliance", "product_owner"])
def test_only_admins_and_engineers_register_a_dataset_and_a_refusal_writes_nothing(db, role):
    before = written()
    with pytest.raises(NotAllowed, match="may not register Paper Labs datasets"):
        services.dataset_register(actor=user_with_role(role), path=SAMPLE_DATA)
    assert written() == before
    assert services.dataset_register(actor=user_with_role("engineer"), path=SAMPLE_DATA).rows > 0


@pytest.mark.parametrize("role", ["auditor", "operator", "product_owner"])
def test_an_auditor_operator_or_product_owner_may_not_start_a_lab_and_nothing_is_written(db, role):
    before = written()
    with pytest.raises(NotAllowed, match="may not start Paper Labs runs"):
        services.lab_run_start(actor=user_with_role(role), plan=plan_tasks(**PLAN))
    assert written() == before


@pytest.mark.parametrize("role", ["admin", "compliance", "engineer"])
def test_admins_compliance_and_engineers_start_labs(db, role):
    actor = user_with_role(role)
    assert services.lab_run_start(actor=actor, plan=plan_tasks(**PLAN)).created_by == actor


def finished_run(tmp_path) -> LabRun:
    deployment = Deployment.objects.create(name="paper-desk", customer="ACME", local=True)
    for name in ("r.json", "r.pdf"):
        (tmp_path / name).write_bytes(b"{}")
    return LabRun.objects.create(
        plan={"units": []},
        deployment=deployment,
        status=LabRunStatus.SUCCEEDED,
        json_path=str(tmp_path / "r.json"),
        pdf_path=str(tmp_path / "r.pdf"),
        json_sha384="0" * 96,
        pdf_sha384="0" * 96,
    )


@pytest.mark.parametrize("role", ["auditor", "operator", "compliance"])
def test_only_the_steps_role_or_an_admin_attaches_a_lab_report_and_no_checklist_is_opened(db, tmp_path, role):
    lab_run = finished_run(tmp_path)
    actor = user_with_role(role, deployments=[lab_run.deployment])
    before = written()
    with pytest.raises(NotAllowed, match="attaches evidence to this step"):
        services.lab_report_attach(actor=actor, lab_run=lab_run, checklist_id="paper_trading")
    assert written() == before


@pytest.mark.parametrize("role", ["admin", "engineer"])
def test_the_steps_role_and_admins_get_past_the_rule_to_the_hash_check(db, tmp_path, role):
    from audit.errors import Conflict

    lab_run = finished_run(tmp_path)  # recorded hashes that the files do not have
    actor = user_with_role(role, deployments=[lab_run.deployment])
    with pytest.raises(Conflict, match="no longer matches"):
        services.lab_report_attach(actor=actor, lab_run=lab_run, checklist_id="paper_trading")
    assert not Checklist.objects.exists()


def test_an_engineer_of_another_deployment_does_not_learn_the_deployment_exists(db, tmp_path):
    lab_run = finished_run(tmp_path)
    with pytest.raises(NotFound):
        services.lab_report_attach(
            actor=user_with_role("engineer"), lab_run=lab_run, checklist_id="paper_trading"
        )
    assert not Checklist.objects.exists()
