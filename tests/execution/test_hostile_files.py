"""Hostile files given to the daemon and the execution commands: one line, never a hang or a traceback."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.trust.canonical import StrictJSONError
from audit.trust.core_config import ConfigError
from audit.trust.fsutil import UnsafeFileError
from execution.daemon.server import Daemon, DaemonOptions, StartupRefused, _read_prices
from execution.daemon.server import main as daemon_main
from execution.mtls.bundle import load_inventory
from execution.tokens import TokenError, issue_operator_token_main, verify_token

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
json_like = st.one_of(
    st.binary(max_size=300),
    st.text(alphabet='{}[]":,0123456789.eE-+ntrufalse\\u \n', max_size=200).map(str.encode),
)


@pytest.fixture
def no_hang():
    """Turns a hang into a failure with a traceback instead of a stuck run (a guard, not a timing check)."""

    def hung(signum, frame):
        raise AssertionError("the reader blocked")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.fixture(params=["fifo", "/dev/zero"])
def hostile(request, tmp_path) -> Path:
    if request.param == "fifo":
        path = tmp_path / "fifo"
        os.mkfifo(path)
        return path
    return Path(request.param)


@pytest.fixture
def installed(tmp_path, monkeypatch) -> Path:
    from audit.trust.installation import init_installation

    monkeypatch.setenv("OEM_KDF_COST", "10")
    data_dir = tmp_path / "var"
    init_installation(data_dir, "admin-password")
    return data_dir


def test_the_daemon_refuses_a_config_that_is_a_fifo_or_a_device(hostile, installed, no_hang):
    """Fails when Daemon.start reads its config without read_config_file (a FIFO would block the start)."""
    daemon = Daemon(DaemonOptions(config_path=hostile, mode="demo", data_dir=installed, certs_dir=installed))
    with pytest.raises(StartupRefused, match="not a regular file") as info:
        daemon.start()
    assert all("\n" not in reason for reason in info.value.reasons)


def test_the_daemon_refuses_a_prices_file_that_is_a_fifo_or_a_device(hostile, tmp_path, capsys, no_hang):
    """Fails when --prices is read without the bounded reader (a hang, or /dev/zero read into memory)."""
    code = daemon_main(["--mode", "demo", "--data-dir", str(tmp_path), "--prices", str(hostile), "--check"])
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert "not a regular file" in err and "\n" not in err


@FUZZ
@given(data=json_like)
def test_a_prices_file_of_arbitrary_bytes_is_a_price_table_or_one_line(tmp_path, data):
    """Fails when a malformed prices file can raise anything but ConfigError/StrictJSONError."""
    path = tmp_path / "prices.json"
    path.write_bytes(data)
    try:
        prices = _read_prices(path)
    except (ConfigError, StrictJSONError) as exc:
        assert "\n" not in str(exc)
    else:
        assert all(0 < v < 1e12 for v in prices.values())


def test_a_prices_file_with_a_non_positive_or_string_price_is_refused(tmp_path):
    """Fails when the type/range check of _read_prices is removed (a string or NaN price would reach the
    paper venues)."""
    path = tmp_path / "prices.json"
    for body in (b'{"ETH/BTC": "0.05"}', b'{"ETH/BTC": -1}', b'{"ETH/BTC": 1e300}', b"[1]"):
        path.write_bytes(body)
        with pytest.raises(ConfigError):
            _read_prices(path)


def test_issuing_a_token_for_a_certificate_that_is_a_fifo_fails_in_one_line(hostile, capsys, no_hang):
    """Fails when issue_operator_token reads --cert without the bounded reader."""
    code = issue_operator_token_main(["--subject", "op", "--roles", "trader", "--cert", str(hostile)])
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert "not a regular file" in err and "\n" not in err


def test_a_certificate_inventory_that_is_a_fifo_is_refused(tmp_path, no_hang):
    """Fails when load_inventory reads inventory.json without the bounded reader."""
    os.mkfifo(tmp_path / "inventory.json")
    with pytest.raises(UnsafeFileError):
        load_inventory(tmp_path)


@FUZZ
@given(data=json_like)
def test_a_certificate_inventory_of_arbitrary_bytes_is_refused_in_one_line(tmp_path, data):
    """Fails when load_inventory parses with a lenient parser or lets a traceback escape."""
    (tmp_path / "inventory.json").write_bytes(data)
    try:
        load_inventory(tmp_path)
    except StrictJSONError as exc:
        assert "\n" not in str(exc)


@FUZZ
@given(token=st.text(max_size=300))
def test_a_token_of_arbitrary_text_is_refused_with_a_reason(token):
    """Fails when verify_token lets a decoding error other than TokenError escape."""
    with pytest.raises(TokenError):
        verify_token(token, keyring=None, peer_cert_der=b"")


def test_the_daemon_check_with_a_config_that_is_a_fifo_or_a_device_fails_the_gate(
    hostile, installed, capsys, no_hang
):
    """Fails when the gate's config check reads the config without the bounded reader."""
    args = ["--mode", "live", "--data-dir", str(installed), "--config", str(hostile), "--check"]
    assert daemon_main(args) == 1
    out = capsys.readouterr().out
    assert "not a regular file" in out
