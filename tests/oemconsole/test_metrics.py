import pytest

from jobs.models import Job, JobStatus


@pytest.fixture
def jobs(db):
    Job.objects.create(kind="hash_artefact", status=JobStatus.SUCCEEDED)
    Job.objects.create(kind="hash_artefact", status=JobStatus.QUEUED)


def test_loopback_scraper_gets_job_counts_and_latency(client, jobs):
    client.get("/login/")
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'oem_jobs{kind="hash_artefact",status="succeeded"} 1.0' in body
    assert 'oem_jobs{kind="hash_artefact",status="queued"} 1.0' in body
    assert (
        'oem_http_request_duration_seconds_bucket{le="0.005",method="GET",route="login/",status="2xx"}'
        in body
    )


def test_remote_anonymous_scraper_is_refused(client, jobs):
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 403


def test_remote_operator_is_refused_but_auditor_is_served(client, make_user):
    client.force_login(make_user("operator"))
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 403
    client.force_login(make_user("auditor"))
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
