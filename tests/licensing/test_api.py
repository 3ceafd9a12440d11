"""Licensing API: every endpoint against anonymous, each role, a managing admin and a non-managing admin."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from audit.roles import ROLES
from licensing import services
from licensing.core.cli import license_request_main
from licensing.core.registry import registry_path
from licensing.models import License, LicenseRequest
from tests.factories import ensure_roles, user_with_role
from tests.trust_setup import installed

pytestmark = pytest.mark.django_db

API = "/api/v1/licensing"
APPROVE = {"stages": ["demo", "paper"], "valid_days": 30, "features": ["paper-labs"]}


@pytest.fixture(autouse=True)
def roles(db):
    ensure_roles()


@pytest.fixture
def world(tmp_path, capsys):
    """A managing admin with one customer, one issued license and one pending request."""
    admin = user_with_role("admin")
    customer = services.customer_create(actor=admin, name="ACME Trading")
    assert license_request_main(["--out", str(tmp_path / "a.json")]) == 0
    first = services.license_request_upload(
        actor=admin, request_bytes=(tmp_path / "a.json").read_bytes(), customer=customer
    )
    lic = services.license_issue(actor=admin, request=first, stages=["demo"], valid_days=10)
    assert license_request_main(["--out", str(tmp_path / "b.json")]) == 0
    pending = services.license_request_upload(
        actor=admin, request_bytes=(tmp_path / "b.json").read_bytes(), customer=customer
    )
    capsys.readouterr()
    return {
        "admin": admin,
        "customer": customer,
        "license": lic,
        "pending": pending,
        "req_file": tmp_path / "b.json",
    }


def _client(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


READS = [
    "/customers/",
    "/customers/{customer}/",
    "/requests/",
    "/licenses/",
    "/licenses/{serial}/",
    "/registry/",
]


def _url(template: str, world) -> str:
    return API + template.format(customer=world["customer"].pk, serial=world["license"].serial)


def test_anonymous_gets_401_everywhere(world):
    client = _client(None)
    for template in READS:
        assert client.get(_url(template, world)).status_code == 401, template
    for template in (
        "/requests/upload/",
        "/requests/1/approve/",
        "/requests/1/reject/",
        "/licenses/1/revoke/",
    ):
        assert client.post(API + template, {}).status_code == 401, template


@pytest.mark.parametrize("role", [r for r in ROLES if r not in ("admin", "auditor")])
def test_roles_without_licensing_see_nothing_and_change_nothing(world, role):
    client = _client(user_with_role(role))
    assert client.get(f"{API}/customers/").json()["results"] == []
    assert client.get(f"{API}/requests/").json()["results"] == []
    assert client.get(f"{API}/licenses/").json()["results"] == []
    assert client.get(_url("/customers/{customer}/", world)).status_code == 404
    assert client.get(_url("/licenses/{serial}/", world)).status_code == 404
    assert client.get(f"{API}/registry/").status_code == 403
    pending, serial = world["pending"].pk, world["license"].serial
    assert client.post(f"{API}/requests/{pending}/approve/", APPROVE, format="json").status_code == 403
    assert client.post(f"{API}/requests/{pending}/reject/", {"reason": "x"}).status_code == 403
    assert client.post(f"{API}/licenses/{serial}/revoke/", {"reason": "x"}).status_code == 403
    upload = {"customer": world["customer"].pk, "file": SimpleUploadedFile("r.json", b"{}")}
    assert client.post(f"{API}/requests/upload/", upload, format="multipart").status_code == 403


def test_auditor_reads_all_and_is_refused_every_write(world):
    client = _client(user_with_role("auditor"))
    for template in READS:
        assert client.get(_url(template, world)).status_code == 200, template
    assert [c["name"] for c in client.get(f"{API}/customers/").json()["results"]] == ["ACME Trading"]
    pending, serial = world["pending"].pk, world["license"].serial
    assert client.post(f"{API}/requests/{pending}/approve/", APPROVE, format="json").status_code == 403
    assert client.post(f"{API}/licenses/{serial}/revoke/", {"reason": "x"}).status_code == 403


def test_an_admin_who_does_not_manage_the_customer_gets_404(world):
    client = _client(user_with_role("admin"))
    assert client.get(f"{API}/customers/").json()["results"] == []
    assert client.get(_url("/customers/{customer}/", world)).status_code == 404
    assert client.get(_url("/licenses/{serial}/", world)).status_code == 404
    assert client.get(f"{API}/registry/").status_code == 200  # the registry is shared, not per customer
    pending, serial = world["pending"].pk, world["license"].serial
    assert client.post(f"{API}/requests/{pending}/approve/", APPROVE, format="json").status_code == 404
    assert client.post(f"{API}/requests/{pending}/reject/", {"reason": "x"}).status_code == 404
    assert client.post(f"{API}/licenses/{serial}/revoke/", {"reason": "x"}).status_code == 404
    upload = {"customer": world["customer"].pk, "file": SimpleUploadedFile("r.json", b"{}")}
    assert client.post(f"{API}/requests/upload/", upload, format="multipart").status_code == 404
    assert License.objects.filter(status="active").count() == 1


def test_the_managing_admin_reads_uploads_approves_and_revokes(world, tmp_path, capsys):
    client = _client(world["admin"])
    for template in READS:
        assert client.get(_url(template, world)).status_code == 200, template
    detail = client.get(_url("/customers/{customer}/", world)).json()
    assert detail["licenses"] == [1] and detail["devices"] == 1
    assert client.get(f"{API}/requests/?status=pending").json()["count"] == 1

    assert license_request_main(["--out", str(tmp_path / "c.json")]) == 0
    upload = {
        "customer": world["customer"].pk,
        "file": SimpleUploadedFile("c.json", (tmp_path / "c.json").read_bytes()),
        "label": "box-2",
    }
    response = client.post(f"{API}/requests/upload/", upload, format="multipart")
    assert response.status_code == 201 and response.json()["status"] == "pending"
    rejected = client.post(f"{API}/requests/{response.json()['id']}/reject/", {"reason": "duplicate"})
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"

    # The device already holds license 1: a plain approval is refused by the registry policy, a reissue works.
    pending = world["pending"].pk
    refused = client.post(f"{API}/requests/{pending}/approve/", APPROVE, format="json")
    assert refused.status_code == 400 and "already holds live license 1" in refused.json()["error"]["message"]
    reissue = {**APPROVE, "replaces": 1, "match_policy": "machine_id+cpu"}
    approved = client.post(f"{API}/requests/{pending}/approve/", reissue, format="json")
    assert approved.status_code == 201, approved.json()
    body = approved.json()
    assert body["match_policy"] == "machine_id+cpu"  # signed into license 2 and mirrored
    assert (body["serial"], body["stages"], body["features"], body["replaces"]) == (
        2,
        ["demo", "paper"],
        ["paper-labs"],
        1,
    )
    assert client.get(f"{API}/licenses/1/").json()["status"] == "superseded"

    revoked = client.post(f"{API}/licenses/2/revoke/", {"reason": "contract ended"})
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    again = client.post(f"{API}/licenses/2/revoke/", {"reason": "twice"})
    assert again.status_code == 400
    status = client.get(f"{API}/registry/").json()
    assert status["ok"] is True and status["mirror_ok"] is True and status["crl_serials"] == [1, 2]


def test_upload_refusals_are_400_with_one_line(world, tmp_path, monkeypatch, capsys):
    client = _client(world["admin"])
    bad = {
        "customer": world["customer"].pk,
        "file": SimpleUploadedFile("r.json", b'{"format": 1, "format": 2}'),
    }
    response = client.post(f"{API}/requests/upload/", bad, format="multipart")
    assert response.status_code == 400 and "\n" not in response.json()["error"]["message"]
    same = {
        "customer": world["customer"].pk,
        "file": SimpleUploadedFile("b.json", world["req_file"].read_bytes()),
    }
    response = client.post(f"{API}/requests/upload/", same, format="multipart")
    assert response.status_code == 400 and "already uploaded" in response.json()["error"]["message"]

    monkeypatch.setenv("OEM_DATA_DIR", str(tmp_path / "device"))
    installed(tmp_path / "device")
    assert license_request_main(["--out", str(tmp_path / "f.json")]) == 0
    monkeypatch.setenv("OEM_DATA_DIR", str(tmp_path / "var"))
    foreign = {
        "customer": world["customer"].pk,
        "file": SimpleUploadedFile("f.json", (tmp_path / "f.json").read_bytes()),
    }
    response = client.post(f"{API}/requests/upload/", foreign, format="multipart")
    assert response.status_code == 400 and response.json()["error"]["foreign"] is True
    digest = response.json()["error"]["request_digest"]
    foreign["file"] = SimpleUploadedFile("f.json", (tmp_path / "f.json").read_bytes())
    response = client.post(
        f"{API}/requests/upload/", {**foreign, "confirm_digest": digest}, format="multipart"
    )
    assert response.status_code == 201 and response.json()["foreign"] is True
    assert LicenseRequest.objects.filter(foreign=True).count() == 1


def test_approve_validates_its_terms_before_writing(world):
    client = _client(world["admin"])
    pending = world["pending"].pk
    before = registry_path().read_bytes()
    for payload in (
        {**APPROVE, "stages": ["prod"]},
        {**APPROVE, "stages": []},
        {**APPROVE, "valid_days": 0},
        {**APPROVE, "edition": "Not Valid"},
        {**APPROVE, "features": ["Bad Feature"]},
        {**APPROVE, "match_policy": "any-one"},
    ):
        assert client.post(f"{API}/requests/{pending}/approve/", payload, format="json").status_code == 400, (
            payload
        )
    assert registry_path().read_bytes() == before
