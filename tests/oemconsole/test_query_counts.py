"""Every list page and API answers with a number of queries that does not grow with the rows behind it
(10 rows vs 1,000): querysets fetch what templates and serializers use, lists are paged."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEvent, Checklist, StepAttachment
from audit.runbooks.model import checklist as checklist_definition
from audit.runbooks.model import version
from audit.services import audit_event_record
from jobs.models import Job
from risklab.models import LabRun, LabRunUnit
from tests.factories import UserFactory, user_with_role

pytestmark = pytest.mark.django_db


def queries(client, url: str) -> int:
    client.get(url)  # warm: sessions, permission caches, the audit trail's verified position
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return len(captured)


def add_jobs(deployment, count: int) -> None:
    people = [UserFactory() for _ in range(3)]
    Job.objects.bulk_create(
        Job(kind="hash_artefact", deployment=deployment, created_by=people[i % 3]) for i in range(count)
    )


def add_lab_runs(deployment, count: int) -> None:
    owner = UserFactory()
    for _ in range(count // 50 + 1):
        runs = LabRun.objects.bulk_create(
            LabRun(plan={"units": ["a", "b"]}, deployment=deployment, created_by=owner)
            for _ in range(min(50, count))
        )
        jobs = Job.objects.bulk_create(Job(kind="lab_unit", progress=40) for _ in range(2 * len(runs)))
        LabRunUnit.objects.bulk_create(
            LabRunUnit(lab_run=run, unit_id=f"u{i}", job=jobs[2 * n + i])
            for n, run in enumerate(runs)
            for i in (0, 1)
        )
        count -= len(runs)
        if count <= 0:
            break


def add_events(deployment, count: int) -> None:
    from django.test import TestCase

    for n in range(count):
        with TestCase.captureOnCommitCallbacks(execute=True):  # the witness advances after each commit
            audit_event_record(action="test.event", deployment=deployment, detail={"n": n})


@pytest.fixture(autouse=True)
def own_data_dir(settings, tmp_path, monkeypatch):
    """An installation of its own: the audit trail's witness and verified position start with this test."""
    from tests.trust_setup import installed

    path = tmp_path / "var"
    path.mkdir()
    settings.OEM_DATA_DIR = path
    monkeypatch.setenv("OEM_DATA_DIR", str(path))
    monkeypatch.delenv("OEM_WITNESS_DIR", raising=False)
    installed(path)
    return path


@pytest.fixture
def admin_client(client, deployment, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        client.force_login(user_with_role("admin", deployments=[deployment]))
    return client


@pytest.mark.parametrize(
    ("url", "grow"),
    [
        ("/", add_jobs),
        ("/deployments/{pk}/", add_jobs),
        ("/api/v1/jobs/", add_jobs),
        ("/api/v1/jobs/?limit=1000000000000000000000", add_jobs),
        ("/labs/", add_lab_runs),
        ("/api/v1/paper-labs/runs/", add_lab_runs),
        ("/audit/", add_events),
        ("/api/v1/audit/events/", add_events),
        ("/", add_events),
    ],
)
def test_list_queries_do_not_grow_with_rows(admin_client, deployment, url, grow):
    url = url.format(pk=deployment.pk)
    grow(deployment, 10)
    few = queries(admin_client, url)
    grow(deployment, 990 if grow is not add_events else 290)
    many = queries(admin_client, url)
    assert many == few, f"{url}: {few} queries with 10 rows, {many} with more"


def test_checklist_page_queries_do_not_grow_with_attachments(client, deployment):
    definition = checklist_definition("demo_stage1")
    user = user_with_role("engineer", deployments=[deployment])
    client.force_login(user)
    checklist = Checklist.objects.create(
        deployment=deployment, checklist_id="demo_stage1", version=version(definition)
    )
    specs = [(step.id, a.name) for step in definition.steps for a in step.artefacts]
    url = f"/deployments/{deployment.pk}/checklists/demo_stage1/"

    def attach(step_id, name, superseded=False):
        from django.utils import timezone

        StepAttachment.objects.create(
            checklist=checklist,
            step_id=step_id,
            name=name,
            value="v",
            uploaded_by=UserFactory(),
            superseded_at=timezone.now() if superseded else None,
        )

    attach(*specs[0])
    few = queries(client, url)
    for step_id, name in specs[1:]:
        attach(step_id, name)
    for n in range(200):
        attach(*specs[n % len(specs)], superseded=True)
    assert len(specs) > 3
    assert queries(client, url) == few


def test_audit_page_re_checks_only_events_after_the_verified_position(admin_client, deployment, monkeypatch):
    from audit import chain

    add_events(deployment, 50)
    admin_client.get("/audit/")
    checked = {"n": 0}
    real = chain._check_row

    def counting(*args, **kwargs):
        checked["n"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(chain, "_check_row", counting)
    add_events(deployment, 3)
    page = admin_client.get("/audit/").content.decode()
    assert "Hash chain intact" in page, page[page.find("chain-status") : page.find("chain-status") + 800]
    assert checked["n"] == 3
    assert AuditEvent.objects.count() >= 53
