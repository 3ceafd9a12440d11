"""Paper Labs through the console's job system: fan-out, gathering, one report, recovery."""

from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.utils import timezone

from audit.trust.hashing import sha384_file
from jobs import runner
from jobs import services as job_services
from jobs.models import Job, JobStatus
from risklab import services
from risklab.engine.data import SAMPLE_DATA, MarketDataError
from risklab.engine.lab import plan_tasks, run_lab
from risklab.models import LabRun, LabRunStatus

SELECTION = {
    "profiles": ["balanced"],
    "scenarios": ["baseline", "flash_crash"],
    "strategies": ["buy_and_hold"],
}


@pytest.fixture(autouse=True)
def own_data_dir(settings, tmp_path):
    settings.OEM_DATA_DIR = tmp_path / "data"


@pytest.fixture
def no_broker(monkeypatch):
    monkeypatch.setattr(job_services, "job_enqueue", lambda *, job_id: None)


def run_queued(kind: str) -> list[str]:
    return [
        runner.run_job(job_id=j.pk, worker="test") for j in Job.objects.filter(kind=kind, status="queued")
    ]


def test_registering_a_dataset_records_its_hash_rows_and_span(db):
    dataset = services.dataset_register(actor=None, path=SAMPLE_DATA)
    assert dataset.sha384 == sha384_file(SAMPLE_DATA)
    assert dataset.rows > 1000
    assert dataset.first_timestamp < dataset.last_timestamp
    assert services.dataset_register(actor=None, path=SAMPLE_DATA).pk == dataset.pk  # idempotent


def test_registering_bad_data_names_file_row_and_rule_and_writes_nothing(db, tmp_path):
    bad = tmp_path / "bad.parquet"
    pq.write_table(
        pa.table(
            {
                "timestamp": [1, 2],
                "open": [1.0, 1.0],
                "high": [0.5, 1.0],
                "low": [0.9, 1.0],
                "close": [1.0, 1.0],
                "volume": [1.0, 1.0],
            }
        ),
        bad,
    )
    with pytest.raises(MarketDataError) as error:
        services.dataset_register(actor=None, path=bad)
    assert "bad.parquet" in str(error.value) and "row 0" in str(error.value)
    from risklab.models import Dataset

    assert not Dataset.objects.exists()


def test_a_fanned_out_lab_gives_the_same_report_as_an_inline_run(db, no_broker, tmp_path):
    plan = plan_tasks(**SELECTION, seed=7)
    lab_run = services.lab_run_start(actor=None, plan=plan)
    assert run_queued(services.UNIT_KIND) == ["succeeded", "succeeded"]
    lab_run.refresh_from_db()
    assert lab_run.status == LabRunStatus.ASSEMBLING
    assert run_queued(services.ASSEMBLE_KIND) == ["succeeded"]
    lab_run.refresh_from_db()
    assert lab_run.status == LabRunStatus.SUCCEEDED
    assert sha384_file(lab_run.json_path) == lab_run.json_sha384
    inline = run_lab(
        profiles=SELECTION["profiles"],
        scenarios=SELECTION["scenarios"],
        strategies=SELECTION["strategies"],
        seed=7,
        out_dir=tmp_path,
    )
    assert inline.json_path.read_bytes() == Path(lab_run.json_path).read_bytes()
    assert inline.pdf_path.read_bytes() == Path(lab_run.pdf_path).read_bytes()


def test_a_lab_whose_worker_died_mid_unit_completes_once_with_no_partial_report(db, no_broker):
    lab_run = services.lab_run_start(actor=None, plan=plan_tasks(**SELECTION, seed=1))
    dead_job = lab_run.units.first().job
    # What a SIGKILLed worker leaves behind: a running job holding a lease, and no result.
    assert job_services.job_claim(job_id=dead_job.pk, worker="killed") is not None
    run_queued(services.UNIT_KIND)
    lab_run.refresh_from_db()
    assert lab_run.status == LabRunStatus.RUNNING and not lab_run.json_path
    assert not services.reports_dir().exists()

    Job.objects.filter(pk=dead_job.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert job_services.job_sweep()["requeued"] == 1
    assert runner.run_job(job_id=dead_job.pk, worker="second") == "succeeded"
    run_queued(services.ASSEMBLE_KIND)
    job_services.job_sweep()  # a later sweep must not assemble twice
    lab_run.refresh_from_db()
    assert lab_run.status == LabRunStatus.SUCCEEDED
    assert Job.objects.filter(kind=services.ASSEMBLE_KIND).count() == 1
    assert Job.objects.get(pk=dead_job.pk).attempts == 2


def test_a_failed_unit_fails_the_run_and_writes_no_report(db, no_broker):
    lab_run = services.lab_run_start(actor=None, plan=plan_tasks(**SELECTION, seed=1))
    broken = lab_run.units.first().job
    LabRun.objects.filter(pk=lab_run.pk).update(
        plan={**lab_run.plan, "inputs": [{**lab_run.plan["inputs"][0], "sha384": "0" * 96}]}
    )  # the data "changed" after planning
    assert runner.run_job(job_id=broken.pk, worker="w") == "failed"
    lab_run.refresh_from_db()
    assert lab_run.status == LabRunStatus.FAILED
    assert not Job.objects.filter(kind=services.ASSEMBLE_KIND).exists()
    assert "changed since the lab was planned" in Job.objects.get(pk=broken.pk).error


def test_the_sweeper_assembles_a_run_whose_last_worker_died_before_its_hook(db, no_broker):
    lab_run = services.lab_run_start(actor=None, plan=plan_tasks(**SELECTION, seed=1))
    for unit in lab_run.units.all():  # succeed without the finish hook, as if killed right after
        token = job_services.job_claim(job_id=unit.job_id, worker="w")
        ctx = runner.JobContext(job=Job.objects.get(pk=unit.job_id), token=token)
        services.run_unit_job(ctx)
        job_services.job_succeed(job_id=unit.job_id, token=token)
    assert job_services.job_sweep()["lab_runs_advanced"] == 1
    assert Job.objects.filter(kind=services.ASSEMBLE_KIND, status=JobStatus.QUEUED).count() == 1


def test_a_finished_report_is_attached_to_the_paper_checklist_with_its_hashes(db, no_broker, settings):
    from audit.models import Deployment, StepAttachment
    from tests.factories import user_with_role

    deployment = Deployment.objects.create(name="paper-desk", customer="ACME", local=True)
    engineer = user_with_role("engineer", deployments=[deployment])
    lab_run = services.lab_run_start(actor=None, plan=plan_tasks(**SELECTION, seed=2), deployment=deployment)
    run_queued(services.UNIT_KIND)
    run_queued(services.ASSEMBLE_KIND)
    lab_run.refresh_from_db()
    services.lab_report_attach(actor=engineer, lab_run=lab_run, checklist_id="paper_trading")
    attached = {a.name: a.sha384 for a in StepAttachment.objects.filter(superseded_at__isnull=True)}
    assert attached == {
        "paper_labs_report_json": lab_run.json_sha384,
        "paper_labs_report_pdf": lab_run.pdf_sha384,
    }


def test_a_report_changed_on_disk_is_not_attached(db, no_broker):
    from audit.errors import Conflict
    from audit.models import Checklist, Deployment, StepAttachment
    from tests.factories import user_with_role

    deployment = Deployment.objects.create(name="paper-desk", customer="ACME", local=True)
    engineer = user_with_role("engineer", deployments=[deployment])
    lab_run = services.lab_run_start(actor=None, plan=plan_tasks(**SELECTION, seed=2), deployment=deployment)
    run_queued(services.UNIT_KIND)
    run_queued(services.ASSEMBLE_KIND)
    lab_run.refresh_from_db()
    Path(lab_run.json_path).write_text("{}")
    with pytest.raises(Conflict, match="no longer matches"):
        services.lab_report_attach(actor=engineer, lab_run=lab_run, checklist_id="paper_trading")
    assert not StepAttachment.objects.exists() and not Checklist.objects.exists()


def test_the_lab_page_shows_dated_charts_for_the_picked_scenario_and_marks_unexercised_rows(
    db, no_broker, client
):
    from audit.roles import AUDITOR
    from tests.factories import user_with_role

    lab_run = services.lab_run_start(actor=None, plan=plan_tasks(**SELECTION, seed=2))
    run_queued(services.UNIT_KIND)
    run_queued(services.ASSEMBLE_KIND)
    client.force_login(user_with_role(AUDITOR))
    page = client.get(f"/labs/{lab_run.pk}/", {"scenario": "flash_crash", "strategy": "stress_probe"})
    html = page.content.decode()
    assert page.status_code == 200
    assert 'data-testid="chart-picker"' in html and '<option value="stress_probe" selected>' in html
    assert html.count('<svg class="chart"') == 2  # equity and drawdown of the picked chart only
    assert "time (UTC, month-day hour:minute)" in html and "stress window" in html
    assert "Equity: flash_crash / stress_probe" in html and "Equity: baseline" not in html
    assert "not exercised" in html  # buy-and-hold, stopped out on day one, under the flash crash
