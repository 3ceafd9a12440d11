"""Uploads are bounded: a per-file cap while the body streams in, a per-deployment quota while the file is
stored. A refused upload is a 413 with one line and leaves no file (not even a temporary one) and no row."""

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from audit.models import AuditEvent, Checklist, StepAttachment
from audit.uploads import bytes_used
from jobs import services as job_services
from jobs.models import Job
from tests.factories import DeploymentFactory, user_with_role

MB = 1024 * 1024


@pytest.fixture
def limits(settings, tmp_path, monkeypatch):
    monkeypatch.setattr(job_services, "job_enqueue", lambda *, job_id: None)
    settings.OEM_DATA_DIR = tmp_path / "data"
    settings.MEDIA_ROOT = tmp_path / "data" / "uploads"
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "upload-tmp")
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024  # larger bodies go through a temporary file
    settings.OEM_MAX_UPLOAD_BYTES = 1 * MB
    settings.OEM_DEPLOYMENT_QUOTA_BYTES = 8 * MB
    (tmp_path / "upload-tmp").mkdir()
    return settings


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in Path(path).rglob("*") if p.is_file()) if Path(path).exists() else []


@pytest.fixture
def engineer_on_deployment(db):
    deployment = DeploymentFactory(local=False)
    return deployment, user_with_role("engineer", deployments=[deployment])


def attach(client, deployment, payload: bytes):
    return client.post(
        f"/deployments/{deployment.pk}/checklists/demo_stage1/steps/smoke_demo/attach/",
        {"name": "smoke_demo_report", "file": SimpleUploadedFile("smoke.jsonl", payload)},
    )


def test_an_oversize_checklist_upload_is_a_413_and_leaves_no_file_and_no_row(
    limits, engineer_on_deployment, client
):
    deployment, engineer = engineer_on_deployment
    client.force_login(engineer)
    events = AuditEvent.objects.count()
    response = attach(client, deployment, b"x" * (3 * MB))
    assert response.status_code == 413
    assert response.content.decode().strip() == "upload refused: a file may be at most 1 MB"
    assert files_under(limits.OEM_DATA_DIR) == []
    assert files_under(limits.FILE_UPLOAD_TEMP_DIR) == []
    assert not Checklist.objects.exists() and not StepAttachment.objects.exists()
    assert AuditEvent.objects.count() == events


def test_an_upload_under_the_cap_is_stored_in_the_deployments_own_folder(
    limits, engineer_on_deployment, client
):
    deployment, engineer = engineer_on_deployment
    client.force_login(engineer)
    assert attach(client, deployment, b'{"ok": true}\n').status_code == 302
    attachment = StepAttachment.objects.get()
    assert (limits.OEM_DATA_DIR / "deployments" / str(deployment.pk) / attachment.path).is_file()


def test_an_oversize_api_upload_is_a_413_json_error_and_starts_no_job(limits, engineer_on_deployment):
    deployment, engineer = engineer_on_deployment
    client = APIClient()
    client.force_authenticate(engineer)
    response = client.post(
        "/api/v1/jobs/hash-artefact/",
        {"file": SimpleUploadedFile("big.bin", b"x" * (2 * MB)), "deployment": deployment.pk},
        format="multipart",
    )
    assert response.status_code == 413
    assert response.json() == {
        "error": {"code": "upload_too_large", "message": "upload refused: a file may be at most 1 MB"}
    }
    assert not Job.objects.exists()
    assert files_under(limits.MEDIA_ROOT) == [] and files_under(limits.FILE_UPLOAD_TEMP_DIR) == []


def test_the_deployment_quota_refuses_the_upload_that_would_exceed_it(limits, engineer_on_deployment):
    deployment, engineer = engineer_on_deployment
    limits.OEM_DEPLOYMENT_QUOTA_BYTES = MB + MB // 2
    client = APIClient()
    client.force_authenticate(engineer)

    def upload(size):
        return client.post(
            "/api/v1/jobs/hash-artefact/",
            {"file": SimpleUploadedFile("part.bin", b"y" * size), "deployment": deployment.pk},
            format="multipart",
        )

    assert upload(MB - 1).status_code == 201
    used = bytes_used(deployment)
    response = upload(MB - 1)
    assert response.status_code == 413
    assert "storage quota" in response.json()["error"]["message"]
    assert Job.objects.count() == 1
    assert bytes_used(deployment) == used == MB - 1
    assert len(files_under(limits.MEDIA_ROOT)) == 1


def test_the_quota_is_per_deployment(limits, engineer_on_deployment):
    deployment, engineer = engineer_on_deployment
    other = DeploymentFactory(local=False)
    limits.OEM_DEPLOYMENT_QUOTA_BYTES = MB
    for target in (deployment, other):
        job_services.artefact_hash_start(
            uploaded_file=SimpleUploadedFile("a.bin", b"z" * (MB - 10)), actor=engineer, deployment=target
        )
    assert bytes_used(deployment) == bytes_used(other) == MB - 10


def test_a_file_larger_than_any_quota_is_stopped_while_it_streams(limits, engineer_on_deployment, client):
    deployment, engineer = engineer_on_deployment
    limits.OEM_DEPLOYMENT_QUOTA_BYTES = MB // 2
    client.force_login(engineer)
    response = attach(client, deployment, b"q" * (MB - 1))
    assert response.status_code == 413
    assert "storage quota" in response.content.decode()
    assert files_under(limits.OEM_DATA_DIR) == [] and files_under(limits.FILE_UPLOAD_TEMP_DIR) == []
    assert not Checklist.objects.exists()
