"""API tokens: issuance is audited without the secret, tokens expire (OEM_API_TOKEN_HOURS) and are revoked
by id by their owner or an admin; anyone else gets a 404 and changes nothing."""

from datetime import timedelta

import pytest
from django.core.cache import caches
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import AuditEvent
from oemconsole.models import ApiToken
from tests.factories import PASSWORD, user_with_role


@pytest.fixture(autouse=True)
def fresh_throttle():
    caches["auth_throttle"].clear()


def issue(user) -> dict:
    response = APIClient().post("/api/v1/auth/token/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 200, response.content
    return response.json()


def me(secret: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    return client.get("/api/v1/me/").status_code


def test_issuance_is_audited_and_the_secret_is_neither_in_the_event_nor_stored(db, settings):
    user = user_with_role("engineer")
    body = issue(user)
    assert me(body["token"]) == 200
    event = AuditEvent.objects.get(action="api_token.issue")
    assert event.actor == user.username and event.object_id == str(body["id"])
    assert body["token"] not in str(event.detail)
    token = ApiToken.objects.get(pk=body["id"])
    assert body["token"] not in token.key_sha384
    hours = (token.expires_at - token.created_at).total_seconds() / 3600
    assert round(hours, 2) == settings.OEM_API_TOKEN_HOURS == 8


def test_an_expired_token_is_refused(db):
    body = issue(user_with_role("engineer"))
    ApiToken.objects.filter(pk=body["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert me(body["token"]) == 401


def test_the_owner_revokes_a_token_by_id_and_it_stops_working(db):
    user = user_with_role("engineer")
    body = issue(user)
    client = APIClient()
    client.force_authenticate(user)
    response = client.post(f"/api/v1/auth/tokens/{body['id']}/revoke/")
    assert response.status_code == 200 and response.json()["revoked_at"]
    assert me(body["token"]) == 401
    event = AuditEvent.objects.get(action="api_token.revoke")
    assert event.actor == user.username and event.object_id == str(body["id"])


def test_an_admin_revokes_anyone_s_token(db):
    body = issue(user_with_role("compliance"))
    client = APIClient()
    client.force_authenticate(user_with_role("admin"))
    assert client.post(f"/api/v1/auth/tokens/{body['id']}/revoke/").status_code == 200
    assert me(body["token"]) == 401


@pytest.mark.parametrize("role", ["engineer", "auditor", "compliance"])
def test_someone_else_cannot_revoke_a_token_and_nothing_changes(db, role):
    body = issue(user_with_role("engineer"))
    client = APIClient()
    client.force_authenticate(user_with_role(role))
    events = AuditEvent.objects.count()
    assert client.post(f"/api/v1/auth/tokens/{body['id']}/revoke/").status_code == 404
    assert ApiToken.objects.get(pk=body["id"]).revoked_at is None
    assert AuditEvent.objects.count() == events
    assert me(body["token"]) == 200


def test_a_wrong_password_gets_no_token(db):
    user = user_with_role("engineer")
    response = APIClient().post("/api/v1/auth/token/", {"username": user.username, "password": "nope"})
    assert response.status_code == 400
    assert not ApiToken.objects.exists()
