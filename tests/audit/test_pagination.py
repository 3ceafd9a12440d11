"""Pagination boundaries: API lists are bounded (max_limit), the decision timeline pages newest first with a
jump to a seq, the audit trail pages by keyset on seq."""

from __future__ import annotations

import re

import pytest

from audit.models import Deployment
from audit.pagination import MAX_LIMIT
from audit.services import audit_event_record
from jobs.models import Job
from tests.audit.helpers import write_long_log
from tests.factories import user_with_role
from tests.trust_setup import installed


@pytest.fixture
def deployment(db, settings, data_dir, keyring):
    settings.OEM_DATA_DIR = data_dir
    installed(data_dir)
    return Deployment.objects.create(
        name="local-install", customer="ACME", local=True
    )  # evidence in data_dir itself


@pytest.fixture
def admin(client, deployment, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):  # the audit trail's witness starts here
        client.force_login(user_with_role("admin", deployments=[deployment]))
    return client


@pytest.fixture
def jobs(db):
    Job.objects.bulk_create(Job(kind="hash_artefact") for _ in range(MAX_LIMIT + 20))


def test_a_limit_beyond_2_63_is_capped_at_max_limit(admin, jobs):
    for limit in (str(2**63), str(2**63 - 1), "9" * 5000):
        response = admin.get(f"/api/v1/jobs/?limit={limit}")
        assert response.status_code == 200
        assert len(response.json()["results"]) == MAX_LIMIT


@pytest.mark.parametrize("query", ["limit=abc", "limit=-1", "limit=0", "limit=1e3", "offset=x", "offset=-5"])
def test_a_non_numeric_limit_or_offset_is_a_400_naming_the_parameter(admin, jobs, query):
    response = admin.get(f"/api/v1/jobs/?{query}")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert query.split("=")[0] in response.content.decode()


def test_an_offset_past_every_table_is_an_empty_page(admin, jobs):
    response = admin.get(f"/api/v1/jobs/?offset={2**64}")
    assert response.status_code == 200 and response.json()["results"] == []


def test_the_decision_log_api_pages_its_entries(admin, deployment, keyring, data_dir):
    write_long_log(keyring, data_dir, 120)
    url = f"/api/v1/deployments/{deployment.pk}/decision-log/"
    first = admin.get(url).json()
    assert first["verified"] is True and first["count"] == 120 and len(first["entries"]) == 50
    last = admin.get(f"{url}?offset=100&limit=50").json()
    assert [e["line"] for e in last["entries"]] == list(range(101, 121))
    assert admin.get(f"{url}?limit={2**63}").json()["limit"] == MAX_LIMIT
    assert admin.get(f"{url}?limit=many").status_code == 400


def seqs(page: str) -> list[int]:
    return [int(s) for s in re.findall(r"\(seq (\d+)\)", page)]


def test_the_decision_timeline_is_newest_first_fifty_a_page(admin, deployment, keyring, data_dir):
    write_long_log(keyring, data_dir, 120)
    url = f"/deployments/{deployment.pk}/decisions/"
    first = admin.get(url).content.decode()
    assert seqs(first) == list(range(120, 70, -1))
    assert "page 1 of 3" in first and "older</a>" in first and "newer</a>" not in first
    assert seqs(admin.get(f"{url}?log=demo&page=3").content.decode()) == list(range(20, 0, -1))
    beyond = admin.get(f"{url}?log=demo&page=99").content.decode()  # clamped to the last page
    assert "page 3 of 3" in beyond and "older</a>" not in beyond
    assert seqs(admin.get(f"{url}?page=junk").content.decode())[0] == 120


def test_the_decision_timeline_jumps_to_a_seq(admin, deployment, keyring, data_dir):
    write_long_log(keyring, data_dir, 120)
    url = f"/deployments/{deployment.pk}/decisions/?log=demo&seq="
    assert 70 in seqs(admin.get(f"{url}70").content.decode())
    assert seqs(admin.get(f"{url}71").content.decode())[-1] == 71
    assert seqs(admin.get(f"{url}1").content.decode())[-1] == 1
    for missing in ("121", "0", "x", "9" * 40):
        page = admin.get(f"{url}{missing}").content.decode()
        assert "no verified entry with seq" in page
        assert seqs(page)[0] == 120


def test_the_audit_trail_pages_by_keyset_on_seq(admin, django_capture_on_commit_callbacks):
    for n in range(230):
        with django_capture_on_commit_callbacks(execute=True):
            audit_event_record(action="test.page", detail={"n": n})
    first = admin.get("/audit/?action=test.").content.decode()
    shown = [int(s) for s in re.findall(r"<td>(\d+)</td>", first)]
    assert len(shown) == 100 and shown == sorted(shown, reverse=True)
    older = int(re.search(r"before=(\d+)", first).group(1))
    assert older == shown[-1] and "after=" not in first
    second = admin.get(f"/audit/?action=test.&before={older}").content.decode()
    second_shown = [int(s) for s in re.findall(r"<td>(\d+)</td>", second)]
    assert second_shown[0] == older - 1 and len(second_shown) == 100
    newer = int(re.search(r"after=(\d+)", second).group(1))
    back = admin.get(f"/audit/?action=test.&after={newer}").content.decode()
    assert [int(s) for s in re.findall(r"<td>(\d+)</td>", back)] == shown
    third = admin.get(f"/audit/?action=test.&before={second_shown[-1]}").content.decode()
    assert len(re.findall(r"<td>(\d+)</td>", third)) == 30 and "before=" not in third


@pytest.mark.parametrize("cursor", ["not-a-cursor", "cD1hYmM=", "cD0tMQ=="])
def test_a_cursor_the_audit_events_api_never_gave_out_is_a_400(admin, cursor):
    response = admin.get(f"/api/v1/audit/events/?cursor={cursor}")
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("cursor is not a cursor")


def test_a_full_audit_trail_re_check_is_recorded_and_shown_with_its_time(
    admin, django_capture_on_commit_callbacks, capsys
):
    from django.core.management import call_command

    with django_capture_on_commit_callbacks(execute=True):
        audit_event_record(action="test.full")
    call_command("verify_audit_trail")
    assert "audit trail intact" in capsys.readouterr().out
    page = admin.get("/audit/").content.decode()
    assert re.search(r"Last full re-check: \d{4}-\d\d-\d\dT[\d:.]+Z", page)
    assert "intact</span>" in page


def test_the_full_re_check_runs_as_a_job_on_demand_and_from_beat(
    admin, client, deployment, django_capture_on_commit_callbacks, settings
):
    from django.conf import settings as live

    from jobs import runner
    from jobs.models import Job, JobStatus
    from jobs.tasks import audit_trail_nightly_check

    assert (
        live.CELERY_BEAT_SCHEDULE["audit-trail-full-check"]["task"] == "jobs.tasks.audit_trail_nightly_check"
    )
    with django_capture_on_commit_callbacks(execute=False):
        response = admin.post("/audit/recheck/")
        nightly = Job.objects.get(pk=audit_trail_nightly_check())  # what beat calls
    job = Job.objects.get(kind="audit_trail_full_check", created_by__isnull=False)
    assert response.status_code == 302 and response["Location"] == f"/jobs/{job.pk}/"
    with django_capture_on_commit_callbacks(execute=True):
        runner.run_job(job_id=job.pk)
        runner.run_job(job_id=nightly.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    page = admin.get("/audit/").content.decode()
    assert "Last full re-check:" in page and "intact</span>" in page

    client.force_login(user_with_role("auditor"))  # reads everything, starts nothing
    assert client.post("/audit/recheck/").status_code == 403
