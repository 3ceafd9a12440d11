"""The daemon's strategy side: what ``--feed`` and ``--strategies`` and the config's ``strategies:`` become.

``plan_strategies`` runs before the trading core is built (a bad spec or feed refuses the start, one line
per reason); ``attach_strategies`` builds the ``StrategyRuntime`` on the core once it exists, and the RPC
helpers translate the host's answers for the gRPC API.

``--feed replay:FILE.parquet[:SPEED]`` replays a Parquet file (its name tells the symbol,
``ETH_BTC-5m.parquet`` is ETH/BTC; SPEED a factor or ``max``, default ``max``). ``--feed
ccxt:EXCHANGE[:TIMEFRAME]`` polls the exchange's public candles for the strategies' symbols (``binance``;
network access is the operator's to give). With a feed the paper venues fill against its bars and the
fixed ``--prices`` are not used.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

from execution.core.orders import Stage
from execution.core.risk import RiskLimits
from execution.feeds.base import FeedError, MarketData
from execution.feeds.replay import ReplayFeed
from execution.proto.gen import oem_daemon_v1_pb2 as pb
from execution.strategy.context import STRATEGY_OWNER, RuntimeGrant
from execution.strategy.host import StrategyHost, StrategyInfo
from execution.strategy.runtime import DaemonOrderPort, StrategyRuntime
from execution.strategy.spec import StrategySpec, StrategySpecError, select, specs_from_config
from risklab.engine.profiles import profile_from_mapping


class StrategySetupError(ValueError):
    """The strategies or the feed cannot run as configured; one line."""


@dataclass
class StrategyPlan:
    specs: list[StrategySpec] = field(default_factory=list)
    feed: object | None = None


def _speed(text: str) -> float:
    if text == "max":
        return 0.0
    try:
        value = float(text)
    except ValueError:
        raise StrategySetupError(f"--feed: speed {text!r} is not a number or 'max'") from None
    if not 0 < value <= 1e6:
        raise StrategySetupError(f"--feed: speed must be in (0, 1e6] or 'max', got {text}")
    return value


def parse_feed(text: str, *, symbols, timeframe: str | None):
    """A feed from its ``--feed`` text; one-line StrategySetupError on anything else."""
    kind, _, rest = text.partition(":")
    if kind == "replay" and rest:
        path, speed = rest, 0.0
        head, sep, tail = rest.rpartition(":")
        if sep and not tail.endswith(".parquet"):
            path, speed = head, _speed(tail)
        try:
            return ReplayFeed.from_files([Path(path)], speed=speed)
        except FeedError as exc:
            raise StrategySetupError(f"--feed: {exc}") from None
    if kind == "ccxt" and rest:
        exchange_name, _, frame = rest.partition(":")
        if exchange_name != "binance":
            raise StrategySetupError(f"--feed: exchange {exchange_name!r} is not supported (binance)")
        if not symbols:
            raise StrategySetupError("--feed ccxt: no strategy declares a symbol to poll")
        from execution.feeds.ccxt_feed import CcxtPollingFeed
        from execution.venues.ccxt_venue import make_binance

        try:
            return CcxtPollingFeed(make_binance(), sorted(symbols), timeframe=frame or timeframe or "1m")
        except FeedError as exc:
            raise StrategySetupError(f"--feed: {exc}") from None
    raise StrategySetupError(f"--feed {text!r}: expected replay:FILE.parquet[:SPEED] or ccxt:EXCHANGE")


def plan_strategies(config: dict, *, mode: str, feed, names, stale_after_s: float = 30.0) -> StrategyPlan:
    if not (isinstance(stale_after_s, int | float) and 0 < stale_after_s <= 86_400):
        raise StrategySetupError(f"--stale-after must be in (0, 86400] seconds, got {stale_after_s!r}")
    try:
        specs = specs_from_config(config)
    except StrategySpecError as exc:
        raise StrategySetupError(f"config: {exc}") from None
    declared_symbols = {s for spec in specs for s in spec.symbols}
    timeframes = {spec.timeframe for spec in specs}
    if isinstance(feed, str):
        feed = parse_feed(
            feed, symbols=declared_symbols, timeframe=next(iter(timeframes)) if len(timeframes) == 1 else None
        )
    if names is not None:
        if feed is None:
            raise StrategySetupError("--strategies needs a market data feed (--feed)")
        try:
            specs = select(specs, names, symbols=feed.symbols, timeframe=feed.timeframe, stage=Stage(mode))
        except StrategySpecError as exc:
            raise StrategySetupError(str(exc)) from None
    if feed is not None:
        for spec in specs:
            if spec.timeframe != feed.timeframe:
                raise StrategySetupError(
                    f"strategy {spec.name} wants {spec.timeframe} bars, "
                    f"the feed {feed.name} gives {feed.timeframe}"
                )
            missing = sorted(set(spec.symbols) - set(feed.symbols))
            if missing:
                raise StrategySetupError(
                    f"strategy {spec.name} trades {', '.join(missing)}: not in {feed.name}"
                )
    return StrategyPlan(specs, feed)


def attach_strategies(daemon, plan: StrategyPlan, *, stale_after_s: float, run_id: str | None = None):
    opts = daemon.options
    config = daemon.core.config

    def limits_for(spec: StrategySpec) -> RiskLimits:
        name = spec.risk_profile or config["profiles"][opts.mode]["risk_profile"]
        return RiskLimits.from_profile(
            profile_from_mapping(name, config["risk_profiles"][name]), capital=opts.capital
        )

    def grant() -> RuntimeGrant:
        return RuntimeGrant.from_gate(daemon.gate)

    market = MarketData(clock=daemon.core.clock, stale_after_s=stale_after_s)
    runtime_box: list[StrategyRuntime] = []
    host = StrategyHost(
        plan.specs,
        market=market,
        orders=DaemonOrderPort(daemon.core, mode=opts.mode, grant=grant),
        runtime=grant,
        limits_for=limits_for,
        clock=daemon.core.clock,
        run_id=run_id or secrets.token_hex(4),
        on_event=lambda kind, data: runtime_box[0].on_host_event(kind, data),
    )
    with daemon.core.lock:  # a restart continues each strategy's journaled orders (position, P&L)
        journaled = [o for router in daemon.core.routers.values() for o in router.store.all()]
    for name, slot in host.slots.items():
        slot.context.adopt(o.client_order_id for o in journaled if o.owner == f"{STRATEGY_OWNER}{name}")
    runtime = StrategyRuntime(
        core=daemon.core,
        host=host,
        market=market,
        feed=plan.feed,
        registry=daemon.metrics.registry,
        audit_path=Path(opts.data_dir) / "audit" / "strategy_events.jsonl",
    )
    runtime_box.append(runtime)
    return runtime


def needs_trader_live(runtime: StrategyRuntime | None, name: str) -> bool:
    """StartStrategy of a live-stage strategy needs the trader_live role."""
    if runtime is None:
        return False
    slot = runtime.host.slots.get(name)
    return slot is not None and slot.spec.stage is Stage.LIVE


def info_pb(info: StrategyInfo, stale: set[str]) -> pb.StrategyInfo:
    return pb.StrategyInfo(
        name=info.name,
        strategy_class=info.strategy_class,
        stage=info.stage,
        state=info.state,
        positions=[
            pb.StrategyPosition(symbol=s, qty=q, stale=s in stale) for s, q in sorted(info.positions.items())
        ],
        pnl=info.pnl,
        fees=info.fees,
        orders=info.orders,
        open_orders=info.open_orders,
        accepted=info.accepted,
        refused=info.refused,
        last_refusal=info.last_refusal,
        last_error=info.last_error,
        bars=info.bars,
        timeframe=info.timeframe,
        risk_profile=info.risk_profile,
        recent_orders=[
            pb.StrategyOrder(
                client_order_id=o.client_order_id,
                symbol=o.symbol,
                side=str(o.side),
                qty=o.qty,
                status=str(o.status),
                filled_qty=o.filled_qty,
                avg_price=o.avg_price or 0.0,
                stage=str(o.stage),
                reason=o.reason,
            )
            for o in info.recent_orders
        ],
    )


def list_reply(runtime: StrategyRuntime | None) -> pb.ListStrategiesReply:
    if runtime is None:
        return pb.ListStrategiesReply()
    stale = set(runtime.stale_symbols())
    return pb.ListStrategiesReply(
        strategies=[info_pb(i, stale) for i in runtime.host.list()],
        market_data_feed=runtime.feed.name if runtime.feed is not None else "",
        stale_symbols=sorted(stale),
    )
