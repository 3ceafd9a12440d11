"""Runbook steps that run the real daemon start as jobs from the console."""

from jobs import services as job_services
from jobs.models import Job


def test_an_engineer_starts_a_dry_run_job_from_the_dashboard(client, make_user, deployment, monkeypatch):
    monkeypatch.setattr(job_services, "job_enqueue", lambda *, job_id: None)
    client.force_login(make_user("engineer", deployments=[deployment]))
    response = client.post("/jobs/runbook/live_dry_run/", {"deployment": deployment.pk})
    job = Job.objects.get(kind="live_dry_run")
    assert response.status_code == 302 and response["Location"] == f"/jobs/{job.pk}/"
    assert job.deployment == deployment and job.params["orders"] == 200


def test_an_operator_cannot_start_runbook_jobs_and_unknown_kinds_are_404(client, make_user, monkeypatch):
    monkeypatch.setattr(job_services, "job_enqueue", lambda *, job_id: None)
    client.force_login(make_user("operator"))
    assert client.post("/jobs/runbook/smoke_demo/").status_code == 403
    client.force_login(make_user("engineer"))
    assert client.post("/jobs/runbook/format_disk/").status_code == 404
    assert not Job.objects.exists()
