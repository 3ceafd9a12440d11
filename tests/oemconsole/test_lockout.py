"""Lockout without denial of service: logins lock per (username, address) with a cool-off, anonymous
authentication is throttled per address, an admin unlocks (audited), and signing keeps its own per-person
lock that no cool-off lifts."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.core.cache import caches
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import AuditEvent
from tests.factories import PASSWORD, user_with_role

HERE, ELSEWHERE = "10.0.0.1", "10.0.0.2"


@pytest.fixture(autouse=True)
def fresh_throttle():
    caches["auth_throttle"].clear()
    yield
    caches["auth_throttle"].clear()


def login(client, user, password, address):
    response = client.post("/login/", {"username": user.username, "password": password}, REMOTE_ADDR=address)
    return response.status_code == 302 and response.headers["Location"] == "/"


def fail_five_times(client, user, address=HERE):
    for _ in range(5):
        assert not login(client, user, "wrong password", address)


def test_five_failures_lock_that_username_from_that_address_only(db, client):
    user = user_with_role("compliance")
    fail_five_times(client, user)
    assert not login(client, user, PASSWORD, HERE)
    assert login(client, user, PASSWORD, ELSEWHERE)  # the person is not locked out from their own desk


def test_the_lock_page_says_it_lifts_after_the_cool_off(db, client):
    user = user_with_role("compliance")
    fail_five_times(client, user)
    response = client.post("/login/", {"username": user.username, "password": PASSWORD}, REMOTE_ADDR=HERE)
    assert response.status_code == 429
    assert "cool-off (0:15:00)" in response.content.decode()


def test_failed_token_requests_lock_only_that_username_from_that_address(db):
    user = user_with_role("engineer")
    client = APIClient()

    def token(password, address):
        return client.post(
            "/api/v1/auth/token/", {"username": user.username, "password": password}, REMOTE_ADDR=address
        ).status_code

    assert [token("wrong", HERE) for _ in range(5)] == [400] * 5
    assert token(PASSWORD, HERE) == 400  # locked: even the right password gets no token from here
    assert token(PASSWORD, ELSEWHERE) == 200


def test_the_lock_lifts_by_itself_after_the_cool_off(db, client, settings):
    user = user_with_role("compliance")
    fail_five_times(client, user)
    assert not login(client, user, PASSWORD, HERE)
    AccessAttempt.objects.update(
        attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1)
    )
    assert login(client, user, PASSWORD, HERE)


def test_the_login_page_is_throttled_per_address(db, client, monkeypatch):
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"auth": "3/min"})
    user = user_with_role("engineer")
    for _ in range(3):
        client.post("/login/", {"username": user.username, "password": "x"}, REMOTE_ADDR=HERE)
    response = client.post("/login/", {"username": user.username, "password": PASSWORD}, REMOTE_ADDR=HERE)
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert login(client, user, PASSWORD, ELSEWHERE)


def test_the_token_api_is_throttled_per_address_with_a_json_error(db, monkeypatch):
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"auth": "3/min"})
    user = user_with_role("engineer")
    client = APIClient()
    for _ in range(3):
        client.post("/api/v1/auth/token/", {"username": user.username, "password": "x"}, REMOTE_ADDR=HERE)
    response = client.post(
        "/api/v1/auth/token/",
        {"username": user.username, "password": PASSWORD},
        REMOTE_ADDR=HERE,
        HTTP_X_FORWARDED_FOR=ELSEWHERE,  # a forwarded-for header does not pick another counter
    )
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "throttled"
    assert int(response["Retry-After"]) > 0
    other = client.post(
        "/api/v1/auth/token/", {"username": user.username, "password": PASSWORD}, REMOTE_ADDR=ELSEWHERE
    )
    assert other.status_code == 200


def test_an_admin_unlocks_an_account_and_the_unlock_is_audited(db, client):
    from audit.services import signing_failure_record, signing_locked

    user = user_with_role("compliance")
    fail_five_times(client, user)
    for _ in range(5):
        signing_failure_record(user=user)
    assert signing_locked(user=user)
    admin = user_with_role("admin")
    client.force_login(admin)
    page = client.get("/accounts/lockouts/").content.decode()
    assert user.username in page and HERE in page
    assert client.post("/accounts/lockouts/", {"username": user.username}).status_code == 302
    event = AuditEvent.objects.get(action="auth.unlock")
    assert event.actor == admin.username and event.object_id == user.username
    assert event.detail == {"login_attempts_cleared": 1, "signing_unlocked": True}
    assert not signing_locked(user=user)
    client.logout()
    assert login(client, user, PASSWORD, HERE)


@pytest.mark.parametrize("role", ["compliance", "auditor", "operator"])
def test_only_admins_see_or_use_the_unlock_page(db, client, role):
    client.force_login(user_with_role(role))
    assert client.get("/accounts/lockouts/").status_code == 403
    assert client.post("/accounts/lockouts/", {"username": "admin"}).status_code == 403
    assert not AuditEvent.objects.filter(action="auth.unlock").exists()


def test_signing_stays_locked_after_the_login_cool_off_until_an_admin_unlocks(db, settings):
    from audit.services import signing_failure_record, signing_locked
    from oemconsole.services import lockout_clear

    user = user_with_role("compliance")
    locked = [signing_failure_record(user=user) for _ in range(settings.OEM_SIGNING_FAILURES)]
    assert locked == [False] * 4 + [True]
    assert AuditEvent.objects.filter(action="esign.locked", actor=user.username).count() == 1
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(days=1))
    assert signing_locked(user=user)
    lockout_clear(actor=user_with_role("admin"), username=user.username)
    assert not signing_locked(user=user)
