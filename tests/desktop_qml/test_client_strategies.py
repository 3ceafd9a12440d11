# ruff: noqa: F811 - the fixtures are imported from client_fixtures and requested by name
"""Strategies from the desktop client against a real daemon: listed with state and stage, started and
stopped by the operator, and a stage the verified evidence does not allow refused with the daemon's code."""

import pytest
import yaml

from audit.trust import paths as trust_paths
from execution.drills.harness import local_daemon
from tests.desktop_qml.client_fixtures import OPERATORS, config_home, connect, desk, write_profile  # noqa: F401


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    config = yaml.safe_load(trust_paths.DEFAULT_CONFIG_PATH.read_text())
    config["strategies"] = [
        {
            "name": "trend",
            "class": "ema_crossover",
            "symbols": ["ETH/BTC"],
            "timeframe": "5m",
            "stage": "demo",
            "risk_profile": "conservative",
        },
        {
            "name": "eager",
            "class": "buy_and_hold",
            "symbols": ["ETH/BTC"],
            "timeframe": "5m",
            "stage": "paper",
            "risk_profile": "balanced",
        },
    ]
    root = tmp_path_factory.mktemp("desktop-strategies")
    with local_daemon(root, "desktop-strategies", mode="paper", operators=OPERATORS, config=config) as ld:
        yield ld


def test_the_operator_starts_and_stops_a_strategy_and_sees_a_refused_stage(qtbot, desk, daemon, tmp_path):
    connect(qtbot, desk, write_profile(daemon, tmp_path / "p", "alice", ["operator"]))
    backend = desk.backend
    backend.showScreen("strategies")
    model = backend.strategies
    assert desk.find("strategiesScreen") is not None
    rows = {r["name"]: r for r in model.rows.rows}
    assert rows["trend"]["state"] == "STOPPED" and rows["eager"]["stage"] == "paper"
    assert model.feed == "no market data feed"
    assert model.start("trend"), model.lastResult
    assert {r["name"]: r["state"] for r in model.rows.rows}["trend"] == "RUNNING"
    assert not model.start("eager")  # no verified paper_ready: StrategyContext.require_demo_mode holds
    assert "DEMO_MODE_REQUIRED" in model.lastResult
    assert desk.find("strategiesResult").property("text") == model.lastResult
    assert model.stop("trend"), model.lastResult
    assert {r["name"]: r["state"] for r in model.rows.rows}["trend"] == "STOPPED"


def test_a_viewer_may_list_but_not_start(qtbot, desk, daemon, tmp_path):
    connect(qtbot, desk, write_profile(daemon, tmp_path / "p", "bob", ["viewer"]))
    model = desk.backend.strategies
    assert model.refresh() and len(model.rows.rows) == 2
    assert not model.start("trend") and "not allowed" in model.lastResult
