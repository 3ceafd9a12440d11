"""The reference strategies are the Paper Labs functions themselves; specs are checked strictly."""

import threading

import numpy as np
import pytest

from audit.trust.core_config import ConfigError, load_config, sign_file, validate_config
from execution.core.orders import Stage
from execution.core.risk import RiskLimits
from execution.feeds.base import MarketData
from execution.feeds.replay import ReplayFeed
from execution.strategy import reference
from execution.strategy.context import RuntimeGrant, StrategyContext
from execution.strategy.spec import StrategySpecError, parse_spec, select, specs_from_config
from risklab.engine.data import SAMPLE_DATA, load_bars
from risklab.engine.strategies import STRATEGIES
from tests.execution.helpers import loose_risk, paper, router_for
from tests.execution.strategy_helpers import RouterPort

PROFILES = {"conservative": {}, "balanced": {}}
GOOD = {
    "name": "trend",
    "class": "ema_crossover",
    "symbols": ["ETH/BTC"],
    "timeframe": "5m",
    "stage": "paper",
    "risk_profile": "balanced",
    "parameters": {"fast": 12, "slow": 48},
}


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_bar_by_bar_targets_equal_the_paper_labs_targets_on_the_sample(name):
    bars = load_bars(SAMPLE_DATA)
    lab = STRATEGIES[name](bars)
    market = MarketData(stale_after_s=1e9, history=1000)
    strategy = reference.build(name, {})
    feed = ReplayFeed.from_files([SAMPLE_DATA], stop_after=1500)
    live = []

    class _Ctx:
        def bars(self, symbol, n=None):
            return market.window(symbol, n)

    def sink(bar):
        market.on_bar(bar)
        live.append(strategy.target(_Ctx(), bar.symbol))

    feed.run(sink, threading.Event())
    # from bar 1 (a target needs two bars); the window is the last 1000 bars, enough for every lookback
    assert np.array_equal(np.asarray(live[1:], dtype=float), lab[1:1500])


def test_a_reference_strategy_trades_only_when_its_target_changes_and_within_the_order_limit(clock):
    venue = paper("paper", clock)
    router = router_for([venue], clock, risk=loose_risk(clock))
    market = MarketData(clock=clock, stale_after_s=1e9)
    ctx = StrategyContext(
        name="hold",
        stage=Stage.DEMO,
        symbols=["ETH/BTC"],
        timeframe="5m",
        limits=RiskLimits(0.1, 1.0, 1e9, 1000),
        runtime=RuntimeGrant,
        market=market,
        orders=RouterPort(router),
        clock=clock,
    )
    strategy = reference.build("buy_and_hold", {})
    for bar in [b for b in _sample_bars(5)]:
        market.on_bar(bar)
        venue.on_bar(bar.symbol, bar.close, 1e6)
        strategy.on_bar(ctx, bar)
    sizes = [o.qty * o.avg_price for o in ctx.orders()]
    assert len(sizes) > 1 and max(sizes) <= 0.1 * 1.01  # 1.0 of exposure sent in parts of at most 0.1
    before = len(ctx.orders())
    bar = _sample_bars(60)[-1]
    market.on_bar(bar)
    venue.on_bar(bar.symbol, bar.close, 1e6)
    for _ in range(3):
        strategy.on_bar(ctx, bar)
    assert len(ctx.orders()) >= before  # parts keep coming only while the target is not reached


def _sample_bars(n):
    out = []
    ReplayFeed.from_files([SAMPLE_DATA], stop_after=n).run(out.append, threading.Event())
    return out


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"class": "martingale"}, "unknown strategy class 'martingale'"),
        ({"parameters": {"fast": 50, "slow": 10}}, "need 0 < fast < slow"),
        ({"parameters": {"window": 3}}, "unknown parameter(s) window"),
        ({"stage": "production"}, "stage must be demo, paper or live"),
        ({"risk_profile": "yolo"}, "risk profile 'yolo' is not defined"),
        ({"symbols": ["ethbtc"]}, "symbols must be 1-50 distinct"),
        ({"timeframe": "5y"}, "not <number><s|m|h|d>"),
        ({"name": "Trend!"}, "name must match"),
        ({"allocation": 1.5}, "allocation must be a number in (0, 1]"),
        ({"module": "os"}, "unknown key(s) module"),
    ],
)
def test_a_bad_strategy_entry_is_refused_in_one_line(change, message):
    with pytest.raises(StrategySpecError) as excinfo:
        parse_spec({**GOOD, **change}, PROFILES)
    assert message in str(excinfo.value) and "\n" not in str(excinfo.value)


def test_duplicate_names_and_unknown_selections_are_refused():
    with pytest.raises(StrategySpecError, match="declared twice: trend"):
        specs_from_config({"risk_profiles": PROFILES, "strategies": [GOOD, GOOD]})
    specs = specs_from_config({"risk_profiles": PROFILES, "strategies": [GOOD]})
    with pytest.raises(StrategySpecError, match="'zscore_reversion' is not declared"):
        select(specs, ["zscore_reversion"], symbols=["ETH/BTC"], timeframe="5m", stage=Stage.PAPER)
    default = select(specs, ["zscore_reversion"], symbols=["ETH/BTC"], timeframe="5m", stage=Stage.DEMO)
    assert default[0].stage is Stage.DEMO and default[0].strategy_class == "zscore_reversion"


def _config_with_strategy(tmp_path, stage="paper"):
    from tests.execution.strategy_helpers import config_text

    text = config_text(
        [
            {
                "name": "trend",
                "class": "ema_crossover",
                "symbols": ["ETH/BTC"],
                "timeframe": "5m",
                "stage": stage,
                "risk_profile": "balanced",
            }
        ]
    )
    path = tmp_path / "core.yaml"
    path.write_text(text)
    return path


def test_the_schema_checks_the_strategies_section(tmp_path):
    assert load_config(_config_with_strategy(tmp_path))["strategies"][0]["name"] == "trend"
    with pytest.raises(ConfigError, match="schema error at strategies/0/stage"):
        load_config(_config_with_strategy(tmp_path, stage="production"))


def test_moving_a_strategy_to_another_stage_breaks_the_config_signature(tmp_path):
    from audit.trust.keyring import KeyRing
    from tests.trust_setup import installed

    installed(tmp_path / "var")
    keyring = KeyRing.load(tmp_path / "var")
    path = _config_with_strategy(tmp_path)
    sign_file(path, keyring)
    assert validate_config(path, "paper", keyring=keyring).config["strategies"][0]["stage"] == "paper"
    path.write_text(path.read_text().replace("stage: paper", "stage: live"))
    with pytest.raises(ConfigError, match="modified after signing"):
        validate_config(path, "paper", keyring=keyring)
