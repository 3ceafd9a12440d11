"""Strategies inside the real daemon: the stages the verified evidence allows, fills at replayed prices,
isolation of a failing strategy, stale data, determinism, and the RPCs (roles, audit)."""

import json
import time
import urllib.request
from decimal import Decimal
from pathlib import Path

import grpc
import numpy as np
import pytest

from execution.daemon.devkit import Deployment
from execution.daemon.license_hook import LicenseCheck
from execution.daemon.server import Daemon, DaemonOptions, StartupRefused
from execution.proto.gen import oem_daemon_v1_pb2 as pb
from execution.proto.gen import oem_daemon_v1_pb2_grpc as pb_grpc
from execution.strategy import reference
from tests.evidence_factory import stand_in_verifiers
from tests.execution.strategy_helpers import config_text, write_bars

# Flat, up, down, up: an ema_crossover(2, 4) goes long, flat, long again.
CLOSES = np.concatenate(
    [np.full(8, 1.0), np.linspace(1.0, 1.3, 16), np.linspace(1.3, 0.9, 16), np.linspace(0.9, 1.2, 16)]
)


def _spec(name, cls="ema_crossover", stage="demo", profile="conservative", **kw):
    params = kw.pop("parameters", {"fast": 2, "slow": 4} if cls == "ema_crossover" else {})
    return dict(name=name, cls=cls, stage=stage, profile=profile, parameters=params, **kw)


def _config_text(specs: list[dict]) -> str:
    entries = [
        {
            "name": s["name"],
            "class": s["cls"],
            "timeframe": "5m",
            "stage": s["stage"],
            "risk_profile": s["profile"],
            "parameters": s["parameters"],
            "symbols": s.get("symbols", ["ETH/BTC"]),
        }
        for s in specs
    ]
    return config_text(entries)


def _deployment(root: Path, specs: list[dict]) -> Deployment:
    config = root / "source-core.yaml"
    config.write_text(_config_text(specs))
    return Deployment.create(root, operators=("alice", "vera", "root-admin"), source_config=config)


def _options(dep, mode, feed, **kw):
    base = dict(
        config_path=dep.config_path,
        mode=mode,
        data_dir=dep.data_dir,
        certs_dir=dep.certs_dir,
        license_checker=lambda stage: LicenseCheck(True, "stub"),
        gate_poll_s=60,
        tick_s=0.1,
        capital=1.0,
        metrics_port=0,
        feed=feed,
        paper_needs_demo_exit=mode != "demo",
    )
    base.update(kw)
    return DaemonOptions(**base)


def _replay(root: Path, closes=CLOSES) -> str:
    return f"replay:{write_bars(root / 'ETH_BTC-5m.parquet', closes)}:max"


def _wait_for_replay(daemon, timeout=20.0):
    deadline = time.time() + timeout
    while time.time() < deadline and not daemon.strategies.feed_done:
        time.sleep(0.02)
    assert daemon.strategies.feed_done and not daemon.strategies.feed_error


def _md(dep, who, roles):
    return [("authorization", f"Bearer {dep.token(who, roles)}")]


def _orders(daemon, name):
    return daemon.strategies.host.slots[name].context.orders()


class Explodes:
    """A strategy that raises on its third bar."""

    def __init__(self, parameters, allocation):
        self.seen = 0

    def on_bar(self, ctx, bar):
        self.seen += 1
        if self.seen == 3:
            raise RuntimeError("division by zero in a custom indicator")


@pytest.fixture
def explodes():
    reference.register("explodes", Explodes)
    yield
    reference.unregister("explodes")


# -- demo ---------------------------------------------------------------------------------------------------
def test_a_demo_strategy_trades_demo_on_replayed_data_and_paper_is_refused(tmp_path):
    dep = _deployment(tmp_path, [_spec("trend"), _spec("eager", stage="paper")])
    daemon = Daemon(_options(dep, "demo", _replay(tmp_path))).start()
    try:
        _wait_for_replay(daemon)
        trend = daemon.strategies.host.info("trend")
        assert trend.state == "RUNNING" and trend.orders >= 3 and trend.bars == len(CLOSES)
        assert all(o.stage == "demo" and o.status == "FILLED" for o in _orders(daemon, "trend"))
        eager = daemon.strategies.host.info("eager")  # autostart refused: demo mode allows demo only
        assert eager.state == "STOPPED" and eager.orders == 0
        ctx = daemon.strategies.host.slots["trend"].context
        assert ctx.require_demo_mode and ctx.submit("ETH/BTC", "buy", 0.1, stage="paper").reason == (
            "DEMO_MODE_REQUIRED"
        )
        port = daemon.strategies.host.orders  # the daemon's own check, were the context bypassed
        served = port.submit(
            cid="bypass-1",
            symbol="ETH/BTC",
            side="buy",
            qty=0.1,
            order_type="market",
            limit_price=None,
            stage="paper",
            owner="strategy:trend",
        )
        assert not served.accepted and served.reason == "STAGE_NOT_SERVED"
        stub = pb_grpc.OemDaemonStub(dep.channel(daemon.port, "alice"))
        # nor does a client get what the strategies may not: the demo daemon serves demo orders only
        paper = pb.SubmitOrderRequest(
            client_order_id="client-paper-1", symbol="ETH/BTC", side="buy", qty=0.1, stage="paper"
        )
        reply = stub.SubmitOrder(paper, metadata=_md(dep, "alice", ["operator"]), timeout=10)
        assert not reply.accepted and reply.reason == "STAGE_NOT_SERVED" and reply.stage == "paper"
        assert daemon.core.find("client-paper-1") == (None, None)  # refused before the journal
        with pytest.raises(grpc.RpcError) as excinfo:
            live = pb.SubmitOrderRequest(
                client_order_id="client-live-1", symbol="ETH/BTC", side="buy", qty=0.1, stage="live"
            )
            stub.SubmitOrder(live, metadata=_md(dep, "alice", ["trader_live"]), timeout=10)
        assert excinfo.value.code() is grpc.StatusCode.FAILED_PRECONDITION
        with pytest.raises(grpc.RpcError) as excinfo:
            stub.StartStrategy(
                pb.StrategyControlRequest(name="eager"), metadata=_md(dep, "alice", ["operator"])
            )
        assert excinfo.value.code() is grpc.StatusCode.FAILED_PRECONDITION
        assert excinfo.value.details().startswith("DEMO_MODE_REQUIRED:")
    finally:
        daemon.stop(0)


def _streamed_owners(stub, md, **request) -> set[str]:
    """Owners of the fills a resumed StreamFills gives (every durable fill, then nothing new: a short
    deadline ends the stream)."""
    owners: set[str] = set()
    call = stub.StreamFills(pb.StreamFillsRequest(since_seq=0, **request), metadata=md, timeout=2)
    try:
        for fill in call:
            owners.add(fill.owner)
    except grpc.RpcError as exc:
        assert exc.code() is grpc.StatusCode.DEADLINE_EXCEEDED, exc
    return owners


def test_an_operator_watches_the_strategies_fills_but_not_another_operators(tmp_path):
    from execution.tokens import issue_token

    dep = _deployment(tmp_path, [_spec("trend")])
    daemon = Daemon(_options(dep, "demo", _replay(tmp_path))).start()
    try:
        _wait_for_replay(daemon)
        vera = pb_grpc.OemDaemonStub(dep.channel(daemon.port, "vera"))
        # a sell: the strategy holds the whole position limit of the symbol
        own = pb.SubmitOrderRequest(client_order_id="vera-1", symbol="ETH/BTC", side="sell", qty=0.01)
        assert vera.SubmitOrder(own, metadata=_md(dep, "vera", ["operator"]), timeout=10).accepted
        alice = pb_grpc.OemDaemonStub(dep.channel(daemon.port, "alice"))
        operator, viewer = _md(dep, "alice", ["operator"]), _md(dep, "alice", ["viewer"])
        assert _streamed_owners(alice, operator, strategies=True) == {"strategy:trend"}
        assert _streamed_owners(alice, viewer, strategies=True) == set()  # watching them is the operator's
        assert _streamed_owners(alice, operator, all_owners=True) == set()  # every owner: admins only
        admin = pb_grpc.OemDaemonStub(dep.channel(daemon.port, "root-admin"))
        assert _streamed_owners(admin, _md(dep, "root-admin", ["admin"]), all_owners=True) == {
            "strategy:trend",
            "vera",
        }
        # no client may act as a strategy: the owner namespace is the daemon's
        forged = issue_token(
            keyring=dep.keyring, subject="strategy:trend", roles=["operator"], cert_der=dep.cert_der("alice")
        )
        with pytest.raises(grpc.RpcError) as excinfo:
            alice.GetStatus(pb.GetStatusRequest(), metadata=[("authorization", f"Bearer {forged}")])
        assert excinfo.value.code() is grpc.StatusCode.PERMISSION_DENIED
        assert "names the daemon's strategies" in excinfo.value.details()
    finally:
        daemon.stop(0)


def test_fills_follow_the_replayed_prices_not_fixed_ones(tmp_path):
    dep = _deployment(tmp_path, [_spec("trend")])
    daemon = Daemon(_options(dep, "demo", _replay(tmp_path), prices={"ETH/BTC": 0.05})).start()
    try:
        _wait_for_replay(daemon)
        fills = [f for o in _orders(daemon, "trend") for f in o.fills]
        assert len(fills) >= 3
        for fill in fills:  # each fill within the Paper Labs slippage of some replayed close
            nearest = CLOSES[np.argmin(np.abs(CLOSES - fill.price))]
            assert abs(fill.price / nearest - 1) < 0.002 and fill.price > 0.5
        assert max(f.price for f in fills) / min(f.price for f in fills) > 1.05  # they moved with the market
    finally:
        daemon.stop(0)


def test_the_same_file_seed_and_speed_give_the_same_orders(tmp_path):
    runs = []
    for run in ("a", "b"):
        root = tmp_path / run
        root.mkdir()
        dep = _deployment(
            root, [_spec("trend"), _spec("revert", cls="zscore_reversion", parameters={"window": 6})]
        )
        daemon = Daemon(_options(dep, "demo", _replay(root), strategy_run_id="fixed")).start()
        try:
            _wait_for_replay(daemon)
            runs.append(
                [
                    (o.client_order_id, o.symbol, str(o.side), round(o.qty, 12), round(o.avg_price or 0, 12))
                    for name in ("trend", "revert")
                    for o in _orders(daemon, name)
                ]
            )
        finally:
            daemon.stop(0)
    assert runs[0] == runs[1] and len(runs[0]) >= 3


def test_a_strategy_that_raises_is_halted_and_reported_while_the_others_go_on(tmp_path, explodes):
    dep = _deployment(tmp_path, [_spec("boom", cls="explodes", parameters={}), _spec("trend")])
    daemon = Daemon(_options(dep, "demo", _replay(tmp_path))).start()
    try:
        _wait_for_replay(daemon)
        boom, trend = daemon.strategies.host.info("boom"), daemon.strategies.host.info("trend")
        assert boom.state == "HALTED" and "division by zero" in boom.last_error and boom.bars == 3
        assert trend.state == "RUNNING" and trend.bars == len(CLOSES) and trend.orders >= 3
        stub = pb_grpc.OemDaemonStub(dep.channel(daemon.port, "alice"))
        listed = stub.ListStrategies(pb.ListStrategiesRequest(), metadata=_md(dep, "alice", ["viewer"]))
        by_name = {s.name: s for s in listed.strategies}
        assert by_name["boom"].state == "HALTED" and "RuntimeError" in by_name["boom"].last_error
        assert by_name["trend"].orders == trend.orders and listed.market_data_feed.startswith("replay:")
        events = [
            json.loads(x) for x in (dep.data_dir / "audit" / "strategy_events.jsonl").read_text().splitlines()
        ]
        assert any(e["event"] == "strategy_halted" and e["strategy"] == "boom" for e in events)
        daemon.strategies.refresh_metrics()
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{daemon.metrics_port}/metrics", timeout=5).read()
        assert b'oem_strategy_state{strategy="boom"} 2.0' in metrics
        assert b'oem_strategy_state{strategy="trend"} 1.0' in metrics
    finally:
        daemon.stop(0)


def test_a_stale_feed_stops_submissions_with_stale_market_data(tmp_path):
    dep = _deployment(tmp_path, [_spec("trend")])
    daemon = Daemon(_options(dep, "demo", _replay(tmp_path), stale_after_s=0.3)).start()
    try:
        _wait_for_replay(daemon)
        time.sleep(0.4)  # the replay has ended: nothing fresh arrives any more
        assert daemon.strategies.check_staleness() == ["ETH/BTC"]
        stub = pb_grpc.OemDaemonStub(dep.channel(daemon.port, "alice"))
        md = _md(dep, "alice", ["operator"])
        order = pb.SubmitOrderRequest(
            client_order_id="st-1", symbol="ETH/BTC", side="buy", qty=0.1, stage="demo"
        )
        reply = stub.SubmitOrder(order, metadata=md, timeout=5)
        assert not reply.accepted and reply.reason == "STALE_MARKET_DATA"
        ctx = daemon.strategies.host.slots["trend"].context
        assert ctx.submit("ETH/BTC", "sell", 0.01).reason == "STALE_MARKET_DATA"
        status = stub.GetStatus(pb.GetStatusRequest(), metadata=md, timeout=5)
        assert list(status.stale_symbols) == ["ETH/BTC"] and status.market_data_feed.startswith("replay:")
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{daemon.metrics_port}/metrics", timeout=5).read()
        assert b'oem_market_data_stale{symbol="ETH/BTC"} 1.0' in metrics
    finally:
        daemon.stop(0)


def test_start_and_stop_are_operator_decisions_and_audited(tmp_path):
    dep = _deployment(tmp_path, [_spec("trend")])
    daemon = Daemon(_options(dep, "demo", None)).start()  # no feed: nothing autostarts
    try:
        stub = pb_grpc.OemDaemonStub(dep.channel(daemon.port, "alice"))
        viewer = _md(dep, "alice", ["viewer"])
        with pytest.raises(grpc.RpcError) as excinfo:
            stub.StartStrategy(pb.StrategyControlRequest(name="trend"), metadata=viewer, timeout=5)
        assert excinfo.value.code() is grpc.StatusCode.PERMISSION_DENIED
        operator = _md(dep, "alice", ["operator"])
        started = stub.StartStrategy(
            pb.StrategyControlRequest(name="trend", reason="morning"), metadata=operator
        )
        assert started.state == "RUNNING" and started.stage == "demo"
        stopped = stub.StopStrategy(pb.StrategyControlRequest(name="trend"), metadata=operator)
        assert stopped.state == "STOPPED"
        with pytest.raises(grpc.RpcError) as excinfo:
            stub.StartStrategy(pb.StrategyControlRequest(name="nope"), metadata=operator)
        assert excinfo.value.code() is grpc.StatusCode.NOT_FOUND
        events = [
            json.loads(x) for x in (dep.data_dir / "audit" / "strategy_events.jsonl").read_text().splitlines()
        ]
        assert [(e["event"], e["actor"]) for e in events] == [
            ("strategy_started", "alice"),
            ("strategy_stopped", "alice"),
        ]
        assert events[0]["reason"] == "morning"
        access = (dep.data_dir / "audit" / "daemon_access.jsonl").read_text()
        assert '"method":"/oem.daemon.v1.OemDaemon/StartStrategy"' in access and '"decision":"deny"' in access
    finally:
        daemon.stop(0)


@pytest.mark.parametrize(
    ("feed", "strategies", "message"),
    [
        ("replay:missing/ETH_BTC-5m.parquet", None, "not found"),
        ("replay:{root}/ETH_BTC-5m.parquet:fast", None, "is not a number or 'max'"),
        ("ccxt:kraken", None, "not supported"),
        ("carrier-pigeon:x", None, "expected replay:FILE.parquet[:SPEED] or ccxt:EXCHANGE"),
        ("replay:{root}/ETH_BTC-5m.parquet", ["ghost"], "'ghost' is not declared"),
        ("replay:{root}/LTC_BTC-5m.parquet", None, "trades ETH/BTC: not in replay:LTC_BTC-5m.parquet"),
    ],
)
def test_a_bad_feed_or_strategy_selection_refuses_the_start_in_one_line(tmp_path, feed, strategies, message):
    dep = _deployment(tmp_path, [_spec("trend")])
    write_bars(tmp_path / "ETH_BTC-5m.parquet", CLOSES)
    write_bars(tmp_path / "LTC_BTC-5m.parquet", CLOSES)
    with pytest.raises(StartupRefused) as excinfo:
        Daemon(_options(dep, "demo", feed.format(root=tmp_path), strategies=strategies)).start()
    assert len(excinfo.value.reasons) == 1 and message in excinfo.value.reasons[0]


def test_an_undeclared_reference_strategy_runs_with_its_defaults_in_demo(tmp_path):
    dep = _deployment(tmp_path, [])  # no strategies declared (the shipped config declares buy_and_hold)
    daemon = Daemon(_options(dep, "demo", _replay(tmp_path), strategies=["buy_and_hold"])).start()
    try:
        _wait_for_replay(daemon)
        info = daemon.strategies.host.info("buy_and_hold")
        assert info.state == "RUNNING" and info.orders == 1 and info.positions["ETH/BTC"] > 0
    finally:
        daemon.stop(0)


# -- paper and live: verified deployments (their evidence takes a while to produce) -------------------------
# The config both promotions approve: a paper strategy and a live one. The devkit produces the gates'
# evidence (smoke, paper smoke, dry run, Paper Labs) against this very config, so the strict verification
# binds the config the daemon runs; it is made once per process for these bytes.
PROMOTED = [_spec("trend", stage="paper", profile="balanced"), _spec("bold", stage="live")]


def _promoted(root: Path, *, live: bool) -> Deployment:
    dep = _deployment(root, PROMOTED)
    dep.promote_to_live(skip_live=not live)
    return dep


@pytest.fixture
def stand_ins():
    """The stand-in verifiers for the evidence whose producers live elsewhere (the UI telemetry log comes
    from the desktop client), for the whole test: the daemon's gate verifies the logs again."""
    with stand_in_verifiers():
        yield


@pytest.fixture(scope="module")
def paper_ready(tmp_path_factory):
    """demo_ready + paper_ready, strictly verified, for the config that declares the strategies."""
    root = tmp_path_factory.mktemp("paper-ready")
    mp = pytest.MonkeyPatch()
    mp.setenv("OEM_ALLOW_DEVELOPMENT_LICENSES", "true")
    try:
        with stand_in_verifiers():
            yield _promoted(root, live=False), root
    finally:
        mp.undo()


def test_after_a_verified_paper_ready_the_strategy_trades_paper_on_replayed_prices(paper_ready):
    dep, root = paper_ready
    daemon = Daemon(_options(dep, "paper", _replay(root))).start()  # the verified demo_exit lets it start
    try:
        _wait_for_replay(daemon)
        ctx = daemon.strategies.host.slots["trend"].context
        assert not ctx.require_demo_mode and not ctx.compliance_confirmed
        orders = _orders(daemon, "trend")
        assert len(orders) >= 3 and all(o.stage == "paper" and o.status == "FILLED" for o in orders)
        prices = [o.avg_price for o in orders]
        assert min(prices) > 0.85 and max(prices) / min(prices) > 1.05
        stub = pb_grpc.OemDaemonStub(dep.channel(daemon.port, "alice"))
        listed = stub.ListStrategies(pb.ListStrategiesRequest(), metadata=_md(dep, "alice", ["viewer"]))
        trend = next(s for s in listed.strategies if s.name == "trend")
        assert (
            trend.state == "RUNNING"
            and trend.orders == len(orders)
            and trend.positions[0].symbol == "ETH/BTC"
        )
    finally:
        daemon.stop(0)


def test_live_is_refused_without_live_ready_even_when_a_strategy_asks(paper_ready):
    dep, root = paper_ready
    daemon = Daemon(_options(dep, "paper", _replay(root))).start()  # the verified demo_exit lets it start
    try:
        _wait_for_replay(daemon)
        bold = daemon.strategies.host.info("bold")
        assert bold.state == "STOPPED" and bold.orders == 0  # autostart refused
        ctx = daemon.strategies.host.slots["trend"].context
        assert ctx.submit("ETH/BTC", "buy", 0.01, stage="live").reason == "COMPLIANCE_NOT_CONFIRMED"
        stub = pb_grpc.OemDaemonStub(dep.channel(daemon.port, "vera"))
        with pytest.raises(grpc.RpcError) as excinfo:  # a live strategy needs trader_live to start at all
            stub.StartStrategy(
                pb.StrategyControlRequest(name="bold"), metadata=_md(dep, "vera", ["operator"])
            )
        assert excinfo.value.code() is grpc.StatusCode.PERMISSION_DENIED
        with pytest.raises(grpc.RpcError) as excinfo:  # and with it, the evidence still says no
            stub.StartStrategy(
                pb.StrategyControlRequest(name="bold"), metadata=_md(dep, "vera", ["trader_live"])
            )
        assert excinfo.value.code() is grpc.StatusCode.FAILED_PRECONDITION
        assert excinfo.value.details().startswith("COMPLIANCE_NOT_CONFIRMED:")
    finally:
        daemon.stop(0)


def test_after_a_verified_live_ready_a_live_strategy_trades_on_the_exchange(tmp_path, monkeypatch, stand_ins):
    """The positive side of the gate: live_ready strictly verified for the config the daemon runs, the live
    strategy autostarts and its orders reach the exchange (the loopback server the ccxt venue tests use),
    on candles polled from the same exchange."""
    from execution.feeds.ccxt_feed import CcxtPollingFeed
    from execution.venues.ccxt_venue import CcxtVenue, make_binance
    from tests.execution.fake_binance import FakeBinance

    monkeypatch.setenv("OEM_ALLOW_DEVELOPMENT_LICENSES", "true")
    dep = _promoted(tmp_path, live=True)
    fake = FakeBinance(price=1.0).start()
    try:
        for i, close in enumerate(CLOSES):
            fake.add_candle("ETHBTC", 1_700_000_000_000 + i * 300_000, float(close))
        feed = CcxtPollingFeed(
            make_binance(timeout_ms=500, base_url=fake.base_url, enable_rate_limit=False),
            ["ETH/BTC"],
            timeframe="5m",
            poll_s=0.05,
            limit=100,
        )
        exchange = make_binance(
            api_key=fake.api_key,
            secret=fake.secret,
            timeout_ms=500,
            base_url=fake.base_url,
            enable_rate_limit=False,
        )
        options = _options(dep, "live", feed, extra_venues={"binance": CcxtVenue(exchange, name="binance")})
        daemon = Daemon(options).start()
        try:
            assert daemon.gate.live_unlocked and daemon.gate.reasons == []
            deadline = time.time() + 30
            while time.time() < deadline and daemon.strategies.host.info("bold").bars < len(CLOSES):
                time.sleep(0.05)
            ctx = daemon.strategies.host.slots["bold"].context
            assert not ctx.require_demo_mode and ctx.compliance_confirmed
            bold = daemon.strategies.host.info("bold")
            assert bold.state == "RUNNING" and bold.bars == len(CLOSES) and not bold.refused
            orders = _orders(daemon, "bold")
            # The exchange trades ETH/BTC in steps of 0.001: the context sends each strategy quantity rounded
            # down to it, so every order is filled by exactly its quantity (nothing truncated by the venue).
            assert len(orders) >= 3 and all(
                o.stage == "live"
                and o.venue == "binance"
                and o.status == "FILLED"
                and o.filled_qty == o.qty
                and Decimal(repr(o.qty)) % Decimal("0.001") == 0
                for o in orders
            ), [(o.qty, o.filled_qty, str(o.status)) for o in orders]
            for order in orders:  # the exchange holds each order, filled as the daemon journaled it
                assert fake.filled_qty(order.client_order_id) == order.filled_qty
            stub = pb_grpc.OemDaemonStub(dep.channel(daemon.port, "alice"))
            listed = stub.ListStrategies(pb.ListStrategiesRequest(), metadata=_md(dep, "alice", ["viewer"]))
            assert {s.name: s.stage for s in listed.strategies}["bold"] == "live"
            # A client order the exchange would truncate (0.0015 in steps of 0.001) or refuse (under its
            # minimum) is refused before the journal: nothing journaled, nothing sent.
            md = _md(dep, "alice", ["trader_live"])
            sent = len(fake.orders)
            for cid, qty, reason in (("off-step", 0.0015, "OFF_LOT_STEP"), ("tiny", 0.0005, "OFF_LOT_STEP")):
                request = pb.SubmitOrderRequest(
                    client_order_id=cid, symbol="ETH/BTC", side="buy", qty=qty, stage="live"
                )
                reply = stub.SubmitOrder(request, metadata=md, timeout=5)
                assert not reply.accepted and reply.reason == reason, reply
                assert "lot step 0.001" in reply.message and reply.client_order_id == cid
                assert daemon.core.find(cid) == (None, None)
                assert cid not in (dep.data_dir / "journal" / "live.jsonl").read_text()
            assert len(fake.orders) == sent
            request = pb.SubmitOrderRequest(
                client_order_id="on-step", symbol="ETH/BTC", side="sell", qty=0.1, stage="live"
            )
            reply = stub.SubmitOrder(request, metadata=md, timeout=5)
            assert reply.accepted and reply.status == "FILLED" and reply.filled_qty == 0.1, reply
            assert fake.filled_qty("on-step") == 0.1
        finally:
            daemon.stop(0)
    finally:
        fake.stop()


def test_the_cli_refuses_a_bad_feed_in_one_line_and_a_non_zero_exit(tmp_path):
    import os
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[2]
    dep = Deployment.create(tmp_path, operators=("alice",))
    env = {**os.environ, "PYTHONPATH": str(repo), "OEM_DATA_DIR": str(dep.data_dir)}
    argv = [sys.executable, "-m", "execution.daemon", "--config", str(dep.config_path), "--mode", "demo"]
    argv += [
        "--data-dir",
        str(dep.data_dir),
        "--listen",
        "127.0.0.1:0",
        "--feed",
        "replay:NO_WHERE-5m.parquet:2",
    ]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env, cwd=repo)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert lines[0] == "daemon refused to start in demo mode:" and len(lines) == 2
    assert "NO_WHERE-5m.parquet: file: not found" in lines[1]


def test_a_paper_strategy_trades_on_exchange_candles_polled_over_ccxt(tmp_path):
    from execution.feeds.ccxt_feed import CcxtPollingFeed
    from execution.venues.ccxt_venue import make_binance
    from tests.execution.fake_binance import FakeBinance

    fake = FakeBinance().start()
    try:
        for i, close in enumerate(CLOSES[:30]):
            fake.add_candle("ETHBTC", 1_700_000_000_000 + i * 300_000, float(close))
        exchange = make_binance(timeout_ms=500, base_url=fake.base_url, enable_rate_limit=False)
        feed = CcxtPollingFeed(exchange, ["ETH/BTC"], timeframe="5m", poll_s=0.05, limit=100)
        fake.inject("GET", "/api/v3/klines", "429", "drop")  # a throttled start and a dropped connection
        dep = _deployment(tmp_path, [_spec("trend")])
        daemon = Daemon(_options(dep, "demo", feed)).start()
        try:
            deadline = time.time() + 20
            while time.time() < deadline and daemon.strategies.host.info("trend").bars < 30:
                time.sleep(0.05)
            info = daemon.strategies.host.info("trend")
            assert info.bars == 30 and info.orders >= 1 and feed.stats.rate_limited == 1
            assert feed.stats.disconnects == 1 and feed.stats.reconnects == 1
            fills = [f for o in _orders(daemon, "trend") for f in o.fills]
            assert fills and all(
                abs(f.price / 1.0 - 1) < 0.35 for f in fills
            )  # the candles' prices, not 0.05
            assert daemon.strategies.market.stale_symbols() == []
        finally:
            daemon.stop(0)
    finally:
        fake.stop()


def test_a_restarted_daemon_continues_each_strategys_journaled_position(tmp_path):
    dep = _deployment(tmp_path, [_spec("trend")])
    replay = _replay(tmp_path)
    daemon = Daemon(_options(dep, "demo", replay)).start()
    try:
        _wait_for_replay(daemon)
        before = daemon.strategies.host.info("trend")
    finally:
        daemon.stop(0)
    assert before.positions["ETH/BTC"] > 0
    again = Daemon(_options(dep, "demo", replay, hold_feed=True)).start()
    try:
        after = again.strategies.host.info("trend")
        assert after.positions == before.positions and after.orders == before.orders
        assert after.fees == pytest.approx(before.fees)
    finally:
        again.stop(0)


def test_declared_strategies_without_a_feed_leave_client_orders_on_fixed_prices_alone(tmp_path):
    dep = _deployment(tmp_path, [_spec("trend")])
    daemon = Daemon(_options(dep, "demo", None, prices={"ETH/BTC": 0.05})).start()
    try:
        assert daemon.strategies.check_staleness() == []
        stub = pb_grpc.OemDaemonStub(dep.channel(daemon.port, "alice"))
        md = _md(dep, "alice", ["operator"])
        order = pb.SubmitOrderRequest(
            client_order_id="fx-1", symbol="ETH/BTC", side="buy", qty=0.1, stage="demo"
        )
        reply = stub.SubmitOrder(order, metadata=md, timeout=5)
        assert reply.accepted and reply.status == "FILLED", reply
        status = stub.GetStatus(pb.GetStatusRequest(), metadata=md, timeout=5)
        assert list(status.stale_symbols) == [] and status.market_data_feed == ""
    finally:
        daemon.stop(0)


def test_the_shipped_demo_strategies_wait_for_an_operator_then_trade_demo(tmp_path):
    dep = Deployment.create(tmp_path, operators=("alice",))  # a byte copy of config/core.yaml
    daemon = Daemon(_options(dep, "demo", _replay(tmp_path), hold_feed=True)).start()
    try:
        listed = {i.name: i for i in daemon.strategies.host.list()}
        assert set(listed) == {"buy_and_hold", "ema_crossover", "zscore_reversion"}
        assert all(i.state == "STOPPED" and i.stage == "demo" for i in listed.values())
        stub = pb_grpc.OemDaemonStub(dep.channel(daemon.port, "alice"))
        request = pb.StrategyControlRequest(name="buy_and_hold", reason="test")
        assert stub.StartStrategy(request, metadata=_md(dep, "alice", ["operator"])).state == "RUNNING"
        daemon.strategies.release_feed()
        _wait_for_replay(daemon)
        orders = _orders(daemon, "buy_and_hold")
        assert orders and all(o.stage == "demo" and o.status == "FILLED" for o in orders)
        assert daemon.strategies.host.info("ema_crossover").orders == 0  # never started
    finally:
        daemon.stop(0)
