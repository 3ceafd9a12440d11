"""Fixtures for the desktop client tests: a real daemon over loopback mTLS (the runbook harness), profile
files for its operators, and the real DesktopApp offscreen. Imported by the test modules that use them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from desktop_qml.session import Backoff
from execution.core.risk import RiskLimits
from execution.drills.harness import local_daemon

OPERATORS = ("alice", "bob", "eve", "root-admin")
# loose enough for a test's orders, tight enough that one big order is a risk denial
LIMITS = RiskLimits(
    max_order_notional=10.0,
    max_position_notional=1e9,
    daily_loss=1e9,
    max_orders=10_000,
    price_band_bps=500.0,
)


@pytest.fixture(autouse=True)
def config_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    return home


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    root = tmp_path_factory.mktemp("desktop-daemon")
    with local_daemon(
        root, "desktop", mode="paper", operators=OPERATORS, risk_limits=LIMITS, tick_s=0.2
    ) as ld:
        yield ld


def write_profile(
    daemon, directory: Path, operator: str, roles, *, ca: bytes | None = None, **token_kw
) -> Path:
    """ca.pem, <op>.pem, <op>.key, <op>.token and profile.json (paths relative to the profile)."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_pem, key_pem, cert_pem = daemon.deployment.client_files(operator)
    (directory / "ca.pem").write_bytes(ca or ca_pem)
    (directory / f"{operator}.pem").write_bytes(cert_pem)
    (directory / f"{operator}.key").write_bytes(key_pem)
    (directory / f"{operator}.token").write_text(daemon.deployment.token(operator, roles, **token_kw) + "\n")
    profile = {
        "target": f"localhost:{daemon.daemon.port}",
        "ca": "ca.pem",
        "cert": f"{operator}.pem",
        "key": f"{operator}.key",
        "token": f"{operator}.token",
    }
    path = directory / "profile.json"
    path.write_text(json.dumps(profile))
    return path


@pytest.fixture
def desk(qapp, tmp_path, monkeypatch):
    from desktop_qml.app import DesktopApp

    # the client's own data dir (its license files): never the machine's, which the license screen reads
    monkeypatch.setenv("OEM_DATA_DIR", str(tmp_path / "client-var"))

    app = DesktopApp(drain_ms=20, poll_s=0.2, backoff=Backoff(0.1, 2.0, 0.5))
    app.load()
    yield app
    app.close()


def connect(qtbot, desk, profile: Path) -> None:
    assert desk.backend.connection.loadProfile(str(profile)), desk.backend.connection.message
    qtbot.waitUntil(lambda: desk.backend.connection.state == "connected", timeout=20_000)
