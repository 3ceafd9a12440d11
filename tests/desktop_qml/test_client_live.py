# ruff: noqa: F811 - the fixtures are imported from client_fixtures and requested by name
"""With signed evidence that unlocks live, a daemon in live mode and a healthy UI guard, every checklist
item passes, "start live" enables, and the ticket then sends live orders (the token needs trader_live)."""

from execution.daemon.devkit import Deployment
from execution.daemon.license_hook import LicenseCheck
from execution.daemon.server import Daemon, DaemonOptions
from execution.venues.paper import PaperVenue
from tests.desktop_qml.client_fixtures import config_home, connect, desk, write_profile  # noqa: F401
from tests.evidence_factory import stand_in_verifiers


class _Local:  # the shape write_profile expects
    def __init__(self, dep, d):
        self.deployment, self.daemon = dep, d


def test_start_live_enables_only_when_everything_passes_then_orders_go_live(
    qtbot, desk, tmp_path, monkeypatch
):
    monkeypatch.setenv("OEM_ALLOW_DEVELOPMENT_LICENSES", "true")  # the devkit's license registry uses it
    with stand_in_verifiers():  # the bundle and UI telemetry verifiers come with their own packages
        _start_live_then_orders_go_live(qtbot, desk, tmp_path)


def _start_live_then_orders_go_live(qtbot, desk, tmp_path):
    dep = Deployment.create(tmp_path / "dep", operators=("alice",))
    dep.promote_to_live()
    exchange = PaperVenue("binance")  # stands in for the ccxt venue: no network in tests
    exchange.on_bar("ETH/BTC", 0.05, 1_000_000.0)
    daemon = Daemon(
        DaemonOptions(
            config_path=dep.config_path,
            mode="live",
            data_dir=dep.data_dir,
            certs_dir=dep.certs_dir,
            license_checker=lambda stage: LicenseCheck(True, "license 1 valid (test)"),
            extra_venues={"binance": exchange},
            gate_poll_s=60,
            tick_s=0.2,
        )
    ).start()
    try:
        profile = write_profile(_Local(dep, daemon), tmp_path / "p", "alice", ["operator", "trader_live"])
        connect(qtbot, desk, profile)
        checklist, orders = desk.backend.checklist, desk.backend.orders
        assert desk.backend.dashboard.liveUnlocked
        qtbot.waitUntil(lambda: checklist.canStartLive, timeout=30_000)  # the UI guard has reported by now
        assert all(r["ok"] for r in checklist.items.rows) and checklist.missing == ""
        desk.show_screen("checklist")
        assert desk.find("startLiveButton").property("enabled") is True
        assert checklist.startLive() and checklist.liveActive
        assert orders.stage == "live"
        assert orders.submit("ETH/BTC", "buy", 1.0, "market", 0.0), orders.lastResult
        assert "on binance" in orders.lastResult
    finally:
        desk.backend.stop_session()
        daemon.stop(0)
