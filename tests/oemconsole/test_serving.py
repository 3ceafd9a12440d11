"""`make run`'s web process: gunicorn with the product's config, DEBUG off, static files by WhiteNoise."""

import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.production_server import ProductionServer

ROOT = Path(__file__).resolve().parents[2]


def fetch(url: str) -> tuple[int, dict, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - the loopback test server
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.fixture
def server(transactional_db, tmp_path):
    server = ProductionServer(tmp_path)
    yield server
    server.stop()


def test_procfile_starts_the_web_process_with_gunicorn_and_its_config_module():
    web = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:"))
    assert "gunicorn --config python:oemconsole.gunicorn_conf" in web and "runserver" not in web


def test_gunicorn_serves_the_login_page_and_static_files_with_debug_off(server):
    status, headers, body = fetch(f"{server.url}/login/")
    assert status == 200 and b"Log in" in body
    assert headers["Server"].startswith("gunicorn")
    assert "script-src 'self'" in headers["Content-Security-Policy"] and headers["Permissions-Policy"]
    status, headers, body = fetch(f"{server.url}/static/css/console.css")
    assert status == 200 and body == (ROOT / "static" / "css" / "console.css").read_bytes()


def test_an_unknown_page_is_the_plain_404_not_the_debug_page(server):
    status, _headers, body = fetch(f"{server.url}/no-such-page/")
    assert status == 404
    assert b"There is nothing at this address" in body
    assert b"URLconf" not in body and b"DEBUG = True" not in body


def test_the_access_log_leaves_query_strings_out(server):
    fetch(f"{server.url}/login/?next=/&token=secret-in-a-query-string")
    server.stop()
    log = server.output()
    assert '"GET /login/ HTTP/1.1" 200' in log
    assert "secret-in-a-query-string" not in log


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"OEM_WEB_WORKERS": "many"}, "OEM_WEB_WORKERS='many' is not an integer from 1 to 64"),
        ({"OEM_WEB_TIMEOUT": "0"}, "OEM_WEB_TIMEOUT='0' is not an integer from 5 to 3600"),
        ({"OEM_WEB_TLS_CERT_FILE": "/x/cert.pem"}, "go together"),
    ],
)
def test_a_bad_server_setting_stops_gunicorn_with_one_line(env, fragment):
    result = subprocess.run(
        [sys.executable, "-c", "import oemconsole.gunicorn_conf"],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0]
