"""Misconfiguration fails fast with one line and a non-zero exit, before anything runs."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOOD_KEY = "k" * 10 + "-a-long-random-looking-production-secret-0123456789"


def run_check(tmp_path, **env_overrides):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "SECRET_KEY", "DEBUG", "OEM_ENV"}}
    env["OEM_DATA_DIR"] = str(tmp_path)
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def assert_one_line_error(result, fragment):
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert fragment in lines[0]


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("not a url", "scheme '(none)' is not supported"),
        ("mysql://root@localhost/oem", "scheme 'mysql' is not supported"),
        ("postgresql://postgres@127.0.0.1:notaport/oem", "DATABASE_URL is malformed"),
        ("postgresql://127.0.0.1:5432/", "DATABASE_URL is malformed"),
        ("sqlite://", "DATABASE_URL is malformed"),
    ],
)
def test_malformed_database_url_is_refused_with_one_line(tmp_path, url, fragment):
    assert_one_line_error(run_check(tmp_path, DATABASE_URL=url), fragment)


def test_production_without_secret_key_refuses_to_start(tmp_path):
    assert_one_line_error(run_check(tmp_path, OEM_ENV="production", DEBUG="false"), "needs SECRET_KEY")


def test_production_with_short_secret_key_refuses_to_start(tmp_path):
    result = run_check(tmp_path, OEM_ENV="production", DEBUG="false", SECRET_KEY="short")
    assert_one_line_error(result, "needs SECRET_KEY")


def test_production_with_debug_on_refuses_to_start(tmp_path):
    result = run_check(tmp_path, OEM_ENV="production", DEBUG="true", SECRET_KEY=GOOD_KEY)
    assert_one_line_error(result, "DEBUG on")


def test_production_reads_secret_key_from_file(tmp_path):
    key_file = tmp_path / "secret_key"
    key_file.write_text(GOOD_KEY + "\n")
    result = run_check(tmp_path, OEM_ENV="production", SECRET_KEY_FILE=str(key_file))
    assert result.returncode == 0, result.stderr


def test_unreadable_secret_file_is_named_in_the_error(tmp_path):
    result = run_check(tmp_path, OEM_ENV="production", SECRET_KEY_FILE=str(tmp_path / "missing"))
    assert_one_line_error(result, "SECRET_KEY_FILE")


def test_non_boolean_debug_is_refused(tmp_path):
    assert_one_line_error(run_check(tmp_path, DEBUG="maybe"), "DEBUG='maybe' is not a boolean")


def test_unknown_environment_name_is_refused(tmp_path):
    assert_one_line_error(run_check(tmp_path, OEM_ENV="staging"), "OEM_ENV='staging'")


def test_development_defaults_pass_the_system_check(tmp_path):
    result = run_check(tmp_path)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("OEM_SESSION_IDLE_MINUTES", "0", "OEM_SESSION_IDLE_MINUTES must be a positive"),
        ("OEM_API_MAX_JSON_DEPTH", "100000", "OEM_API_MAX_JSON_DEPTH must be from 1 to 1000"),
    ],
)
def test_out_of_range_web_limits_are_refused_with_one_line(tmp_path, name, value, fragment):
    assert_one_line_error(run_check(tmp_path, **{name: value}), fragment)
