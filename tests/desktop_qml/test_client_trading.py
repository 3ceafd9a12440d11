# ruff: noqa: F811 - the fixtures are imported from client_fixtures and requested by name
"""Trading from the desktop client against a real daemon: the dashboard moves when orders flow, a submitted
order's fill appears, a risk denial shows the daemon's reason code, the kill switch halts (HALTED shown),
and the pre-live checklist says what is missing with "start live" disabled."""

from tests.desktop_qml.client_fixtures import config_home, connect, daemon, desk, write_profile  # noqa: F401


def _admin(qtbot, desk, daemon, tmp_path):
    connect(qtbot, desk, write_profile(daemon, tmp_path / "p", "root-admin", ["operator", "admin"]))
    return desk.backend


def test_submit_shows_the_fill_and_the_dashboard_numbers_move(qtbot, desk, daemon, tmp_path):
    connect(qtbot, desk, write_profile(daemon, tmp_path / "p", "alice", ["operator"]))
    backend = desk.backend
    dash, orders = backend.dashboard, backend.orders
    before = (dash.terminal, dash.fills)
    assert dash.latency.count == 0 or dash.latency.rows
    for _ in range(3):
        assert orders.submit("ETH/BTC", "buy", 1.0, "market", 0.0), orders.lastResult
    assert "FILLED" in orders.lastResult or "ACKED" in orders.lastResult
    cid = orders.lastResult.split()[0]
    qtbot.waitUntil(lambda: any(r["cid"] == cid for r in orders.fillsModel.rows), timeout=10_000)
    fill = next(r for r in orders.fillsModel.rows if r["cid"] == cid)
    assert fill["symbol"] == "ETH/BTC" and fill["side"] == "buy" and fill["qty"] > 0 and fill["price"] > 0
    qtbot.waitUntil(lambda: dash.terminal >= before[0] + 3 and dash.fills >= before[1] + 3, timeout=10_000)
    assert dash.fillRatio > 0 and dash.fillsPerSecond > 0
    venues = {r["venue"]: r for r in dash.latency.rows}
    assert "paper" in venues and venues["paper"]["samples"] >= 3
    assert venues["paper"]["p99_ms"] >= venues["paper"]["p50_ms"] > 0
    assert {v["name"] for v in dash.venues.rows} >= {"paper"}
    assert all(v["circuit"] for v in dash.venues.rows)
    assert dash.riskState == "ACTIVE"
    assert dash.mode == "paper" and not dash.liveUnlocked and dash.liveReasons


def test_a_risk_denial_shows_its_reason_code(qtbot, desk, daemon, tmp_path):
    connect(qtbot, desk, write_profile(daemon, tmp_path / "p", "alice", ["operator"]))
    orders, dash = desk.backend.orders, desk.backend.dashboard
    assert not orders.submit("ETH/BTC", "buy", 100_000.0, "market", 0.0)  # 5,000 BTC notional > the limit
    assert orders.lastReason == "MAX_ORDER_NOTIONAL"
    assert "refused [MAX_ORDER_NOTIONAL]" in orders.lastResult
    assert desk.find("ordersResult").property("text") == orders.lastResult
    qtbot.waitUntil(
        lambda: any(r["reason"] == "MAX_ORDER_NOTIONAL" for r in dash.rejects.rows), timeout=10_000
    )
    assert dash.rejectsTotal >= 1


def test_a_resting_order_is_listed_and_cancelled(qtbot, desk, daemon, tmp_path):
    connect(qtbot, desk, write_profile(daemon, tmp_path / "p", "alice", ["operator"]))
    orders = desk.backend.orders
    assert orders.submit("ETH/BTC", "buy", 1.0, "limit", 0.048), orders.lastResult
    cid = orders.lastResult.split()[0]
    assert [r["cid"] for r in orders.openOrders.rows if r["cid"] == cid] == [cid]
    assert orders.cancel(cid), orders.lastResult
    assert "CANCELLED" in orders.lastResult
    assert cid not in [r["cid"] for r in orders.openOrders.rows]


def test_an_operator_without_admin_cannot_fire_the_kill_switch(qtbot, desk, daemon, tmp_path):
    connect(qtbot, desk, write_profile(daemon, tmp_path / "p", "alice", ["operator"]))
    orders = desk.backend.orders
    assert not desk.find("killSwitchButton").property("enabled")
    assert not orders.confirmKillSwitch("no")  # never without the confirmation step
    orders.requestKillSwitch()
    assert not orders.confirmKillSwitch("not mine")
    assert orders.lastReason == "PERMISSION_DENIED" and "requires role admin" in orders.lastResult
    assert desk.backend.dashboard.riskState == "ACTIVE"


def test_the_kill_switch_asks_for_confirmation_then_halts(qtbot, desk, daemon, tmp_path):
    backend = _admin(qtbot, desk, daemon, tmp_path)
    orders, dash = backend.orders, backend.dashboard
    assert desk.find("killSwitchButton").property("enabled")
    try:
        assert orders.submit("ETH/BTC", "buy", 1.0, "limit", 0.048), orders.lastResult
        orders.requestKillSwitch()
        qtbot.waitUntil(lambda: desk.find("killSwitchDialog").property("visible"), timeout=5_000)
        orders.abortKillSwitch()
        assert not orders.killPending and dash.riskState == "ACTIVE"
        orders.requestKillSwitch()
        assert orders.confirmKillSwitch("desk test"), orders.lastResult
        assert orders.lastResult.startswith("kill switch: HALTED, 1 cancelled")
        qtbot.waitUntil(lambda: dash.riskState == "HALTED", timeout=10_000)
        assert desk.find("footerRisk").property("text") == "HALTED"
        assert orders.openOrders.count == 0
        assert not orders.submit("ETH/BTC", "buy", 1.0, "market", 0.0)
        assert orders.lastReason == "HALTED"
    finally:
        assert orders.setTradingState("ACTIVE", "test over"), orders.lastResult
    qtbot.waitUntil(lambda: dash.riskState == "ACTIVE", timeout=10_000)


def test_the_pre_live_checklist_lists_what_is_missing_and_start_live_stays_disabled(
    qtbot, desk, daemon, tmp_path
):
    connect(qtbot, desk, write_profile(daemon, tmp_path / "p", "alice", ["operator"]))
    checklist = desk.backend.checklist
    qtbot.waitUntil(lambda: checklist.items.count > 0, timeout=10_000)
    items = {r["name"]: r for r in checklist.items.rows}
    assert {
        "config signature",
        "license",
        "decision logs",
        "live_go gate",
        "mTLS bundle",
        "runtime flags",
    } <= set(items)
    assert not items["license"]["ok"] and not items["live_go gate"]["ok"]
    assert not items["runtime flags"]["ok"] and "compliance_confirmed" in items["runtime flags"]["detail"]
    assert not checklist.ready and not checklist.canStartLive
    assert checklist.missing.startswith("missing: license, live_go gate, mTLS bundle, runtime flags")
    assert "the daemon runs in paper mode" in checklist.missing
    desk.show_screen("checklist")
    assert desk.find("startLiveButton").property("enabled") is False
    assert not checklist.startLive()
    assert checklist.message.startswith("live stays locked:")
    assert desk.backend.orders.stage == ""  # the ticket never switched to live
