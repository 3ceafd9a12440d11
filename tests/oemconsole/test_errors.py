"""Hostile or broken requests get one clear answer: JSON under /api/, a plain page elsewhere, no internals."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from oemconsole.parsers import json_depth_exceeds
from tests.oemconsole.crash_urls import SECRET_IN_CRASH

ROOT = Path(__file__).resolve().parents[2]
NESTING_BOMB = "[" * 100_000 + "]" * 100_000


def assert_json_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert isinstance(error["message"], str) and error["message"] and "\n" not in error["message"]
    if code is not None:
        assert error["code"] == code
    return error


@pytest.mark.django_db
def test_anonymous_nesting_bomb_on_the_token_endpoint_is_a_400_json(client):
    response = client.post("/api/v1/auth/token/", NESTING_BOMB, content_type="application/json")
    error = assert_json_error(response, 400, "parse_error")
    assert "nesting deeper than" in error["message"]


@pytest.mark.django_db
def test_nesting_bomb_inside_an_object_is_refused_on_an_authenticated_endpoint(api_client, make_user):
    api_client.force_authenticate(make_user("admin"))
    body = '{"profiles": ' + "[" * 5000 + "]" * 5000 + "}"
    response = api_client.post("/api/v1/paper-labs/runs/start/", body, content_type="application/json")
    assert_json_error(response, 400, "parse_error")


def test_brackets_inside_strings_do_not_count_as_nesting():
    text = json.dumps({"a": "[[[[{{{{" * 100, "b": 'quote \\" [[[[ inside'})
    assert not json_depth_exceeds(text, 2)
    assert json_depth_exceeds('{"a": [[["x"]]]}', 3)
    assert not json_depth_exceeds('{"a": [[["x"]]]}', 4)


@pytest.mark.django_db
def test_malformed_json_is_a_400_with_one_line(client):
    response = client.post("/api/v1/auth/token/", '{"username": ', content_type="application/json")
    assert_json_error(response, 400, "parse_error")


@pytest.mark.django_db
def test_oversize_json_body_is_a_413_json(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    body = json.dumps({"username": "x" * 4096, "password": "y"})
    response = client.post("/api/v1/auth/token/", body, content_type="application/json")
    assert_json_error(response, 413, "payload_too_large")


@pytest.mark.django_db
def test_unknown_api_url_is_a_404_json_without_the_url_patterns(client):
    response = client.get("/api/v1/no-such-thing/")
    assert_json_error(response, 404, "not_found")
    assert b"URLconf" not in response.content and b"deployments/<int:pk>" not in response.content


@pytest.mark.django_db
def test_wrong_method_is_a_405_json(client):
    assert_json_error(client.get("/api/v1/auth/token/"), 405, "method_not_allowed")


@pytest.mark.django_db
def test_unsupported_media_type_is_a_415_json(client):
    response = client.post("/api/v1/auth/token/", "username=a", content_type="text/plain")
    assert_json_error(response, 415, "unsupported_media_type")


@pytest.mark.django_db
def test_anonymous_api_request_is_a_401_json_with_a_challenge(client):
    response = client.get("/api/v1/deployments/")
    assert_json_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Token")


@pytest.mark.django_db
def test_validation_error_names_its_fields(api_client, make_user):
    api_client.force_authenticate(make_user("admin"))
    response = api_client.post("/api/v1/paper-labs/runs/start/", {"seed": -1}, format="json")
    error = assert_json_error(response, 400, "invalid")
    assert "seed" in error["fields"] and error["message"].startswith("seed: ")


@pytest.mark.django_db
def test_hidden_object_is_a_404_json(api_client, make_user):
    api_client.force_authenticate(make_user("operator"))
    assert_json_error(api_client.get("/api/v1/jobs/999999/"), 404, "not_found")


@pytest.mark.django_db
@pytest.mark.urls("tests.oemconsole.crash_urls")
def test_api_crash_is_a_500_json_without_internals():
    response = Client(raise_request_exception=False).get("/api/v1/crash/")
    assert_json_error(response, 500, "server_error")
    assert b"hunter2" not in response.content and b"Traceback" not in response.content


@pytest.mark.django_db
@pytest.mark.urls("tests.oemconsole.crash_urls")
def test_page_crash_shows_a_plain_page_without_internals():
    response = Client(raise_request_exception=False).get("/crash/")
    assert response.status_code == 500 and response["Content-Type"].startswith("text/html")
    body = response.content.decode()
    assert "Server error" in body
    for internal in (SECRET_IN_CRASH, "hunter2", "Traceback", "SECRET_KEY", "settings"):
        assert internal not in body


@pytest.mark.django_db
def test_unknown_page_is_a_plain_404_without_the_url_patterns(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")
    body = response.content.decode()
    assert "Not found" in body and "URLconf" not in body and "admin/" not in body


@pytest.mark.django_db
def test_oversize_form_post_to_a_page_is_a_413_page(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    response = client.post("/login/", {"username": "x" * 4096, "password": "y"})
    assert response.status_code == 413 and b"Traceback" not in response.content


PRINT_DEBUG = "from django.conf import settings; print(settings.DEBUG)"


def _debug_setting(**env_overrides) -> str:
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "OEM_ENV", "DATABASE_URL"}}
    env.update(env_overrides)
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "from django.conf import settings; print(settings.DEBUG)",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_debug_is_off_by_default_and_on_only_when_asked(tmp_path):
    assert _debug_setting(OEM_DATA_DIR=str(tmp_path)) == "False"
    assert _debug_setting(OEM_DATA_DIR=str(tmp_path), DEBUG="true") == "True"
