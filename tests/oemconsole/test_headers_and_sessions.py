"""Security headers on every answer, nothing cached once signed in, idle sessions ended, production TLS."""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory

from audit import views_checklists
from oemconsole.middleware import LAST_SEEN_KEY

ROOT = Path(__file__).resolve().parents[2]
GOOD_KEY = "k" * 10 + "-a-long-random-looking-production-secret-0123456789"


def csp_directives(response) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}


@pytest.mark.django_db
def test_login_page_carries_csp_without_inline_script_and_a_permissions_policy(client):
    response = client.get("/login/")
    directives = csp_directives(response)
    assert directives["script-src"] == ["'self'"] and directives["style-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"] and directives["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert (
        "camera=()" in response["Permissions-Policy"] and "geolocation=()" in response["Permissions-Policy"]
    )


@pytest.mark.django_db
def test_signed_in_pages_are_never_stored(client, make_user):
    client.force_login(make_user("compliance"))
    response = client.get("/")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]


@pytest.mark.django_db
def test_api_answers_are_never_stored(api_client, make_user):
    api_client.force_authenticate(make_user("auditor"))
    assert "no-store" in api_client.get("/api/v1/me/")["Cache-Control"]
    assert "no-store" in api_client.get("/api/v1/nothing-here/")["Cache-Control"]


def test_no_template_holds_inline_script_style_or_event_handlers():
    offenders = []
    pattern = re.compile(r"<script(?![^>]*\bsrc=)|<style|\sstyle=|\son[a-z]+=|javascript:", re.I)
    for template in (ROOT / "templates").rglob("*.html"):
        for number, line in enumerate(template.read_text().splitlines(), 1):
            if pattern.search(line):
                offenders.append(f"{template.relative_to(ROOT)}:{number}")
    assert not offenders, offenders


@pytest.mark.django_db
def test_a_session_idle_longer_than_the_timeout_is_ended(client, make_user, settings):
    settings.OEM_SESSION_IDLE_SECONDS = 30 * 60
    client.force_login(make_user("compliance"))
    assert client.get("/").status_code == 200
    session = client.session
    assert abs(session[LAST_SEEN_KEY] - time.time()) < 5
    session[LAST_SEEN_KEY] = int(time.time()) - 31 * 60
    session.save()
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert client.get("/").status_code == 302  # logged out for good, not just for one request


@pytest.mark.django_db
def test_activity_does_not_extend_the_absolute_session_age(client, make_user, settings):
    settings.SESSION_COOKIE_AGE = 8 * 3600
    client.force_login(make_user("compliance"))
    client.get("/")
    expires = client.session.get_expiry_date()
    session = client.session
    session[LAST_SEEN_KEY] = int(time.time()) - 10 * 60  # due for a touch
    session.save()
    client.get("/")
    assert client.session[LAST_SEEN_KEY] > int(time.time()) - 5
    assert client.session.get_expiry_date() == expires


@pytest.mark.django_db
def test_activity_within_the_timeout_keeps_the_session(client, make_user, settings):
    settings.OEM_SESSION_IDLE_SECONDS = 30 * 60
    client.force_login(make_user("compliance"))
    client.get("/")
    session = client.session
    session[LAST_SEEN_KEY] = int(time.time()) - 29 * 60
    session.save()
    assert client.get("/").status_code == 200
    assert abs(client.session[LAST_SEEN_KEY] - time.time()) < 5  # the clock restarted


@pytest.mark.parametrize(
    ("view", "kwargs"),
    [
        (views_checklists.checklist_sign_view, {"pk": 1, "checklist_id": "c", "step_id": "s"}),
        (views_checklists.gate_sign_view, {"pk": 1, "gate": "g", "proposal_id": 1}),
    ],
)
def test_signing_views_hide_the_password_from_error_reports(view, kwargs):
    request = RequestFactory().post("/x/", {"password": "secret"})
    request.user = AnonymousUser()
    view(request, **kwargs)  # refused by the login check, after the password was marked sensitive
    assert request.sensitive_post_parameters == ("password",)


def _settings_of(tmp_path, names: list[str], **env_overrides) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "OEM_ENV", "DATABASE_URL", "SECRET_KEY"}}
    env.update({"OEM_DATA_DIR": str(tmp_path), **env_overrides})
    code = "from django.conf import settings as s; " + "; ".join(
        f"print(repr(getattr(s, {name!r}, None)))" for name in names
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-len(names) :]


TLS_SETTINGS = [
    "SECURE_HSTS_SECONDS",
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_PROXY_SSL_HEADER",
]


def test_production_turns_on_hsts_ssl_redirect_and_secure_cookies(tmp_path):
    values = _settings_of(tmp_path, TLS_SETTINGS, OEM_ENV="production", SECRET_KEY=GOOD_KEY)
    assert values == ["31536000", "True", "True", "True", "None"]


def test_the_forwarded_proto_header_is_trusted_only_when_configured(tmp_path):
    values = _settings_of(
        tmp_path,
        ["SECURE_PROXY_SSL_HEADER"],
        OEM_ENV="production",
        SECRET_KEY=GOOD_KEY,
        OEM_BEHIND_TLS_PROXY="true",
    )
    assert values == ["('HTTP_X_FORWARDED_PROTO', 'https')"]


def test_development_keeps_plain_http(tmp_path):
    assert _settings_of(tmp_path, ["SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS"]) == ["False", "0"]


def test_idle_timeout_is_configurable_in_minutes(tmp_path):
    assert _settings_of(tmp_path, ["OEM_SESSION_IDLE_SECONDS"], OEM_SESSION_IDLE_MINUTES="5") == ["300"]
