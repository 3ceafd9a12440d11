import numpy as np
import pytest
import yaml

from risklab.engine.data import validate_bars
from risklab.engine.profiles import ProfileError, load_profiles, parse_manual_overrides
from risklab.engine.scenarios import SCENARIOS, ScenarioError, build_scenario, worst_drawdown_episodes
from risklab.engine.strategies import STRATEGIES


def test_config_profiles_load_with_their_acceptance_thresholds(config_profiles):
    assert list(config_profiles) == ["conservative", "balanced", "aggressive", "manual"]
    assert config_profiles["conservative"].position_fraction == 0.25
    assert config_profiles["aggressive"].acceptance.max_drawdown == 0.5


def test_manual_overrides_replace_only_the_keys_given():
    manual = load_profiles(
        manual_overrides=parse_manual_overrides(["stop_loss=0.02", "acceptance.cvar_99=0.2"]),
        names=["manual"],
    )["manual"]
    assert manual.stop_loss == 0.02
    assert manual.acceptance.cvar_99 == 0.2
    assert manual.acceptance.max_drawdown == 0.30
    assert manual.position_fraction == 0.5


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["position_fraction=1.5"], "profile manual: position_fraction=1.5 outside (0, 1]"),
        (["leverage=0.5"], "profile manual: leverage=0.5 outside [1, 10]"),
        (["bogus=1"], "profile manual: unknown override key(s) bogus"),
        (["stop_loss=abc"], "profile manual: stop_loss must be a number, got 'abc'"),
        (["stop_loss"], "profile manual: override 'stop_loss' is not key=value"),
        (["acceptance.cvar_99=0"], "profile manual: acceptance.cvar_99=0 outside (0, 1]"),
    ],
)
def test_bad_manual_limits_are_one_line_errors(overrides, message):
    with pytest.raises(ProfileError) as caught:
        load_profiles(manual_overrides=parse_manual_overrides(overrides), names=["manual"])
    assert str(caught.value) == message


def test_config_with_a_bool_or_missing_key_is_refused(tmp_path):
    config = yaml.safe_load(open("config/core.yaml"))
    config["risk_profiles"]["balanced"]["stop_loss"] = True
    del config["risk_profiles"]["aggressive"]["leverage"]
    path = tmp_path / "core.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(ProfileError, match=r"^profile balanced: stop_loss must be a number, got True$"):
        load_profiles(path, names=["balanced"])
    with pytest.raises(ProfileError, match=r"^profile aggressive: missing key\(s\) leverage$"):
        load_profiles(path, names=["aggressive"])


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_every_scenario_yields_valid_bars_and_records_its_parameters(sample_bars, name, tmp_path):
    scenario = build_scenario(name, sample_bars, seed=1)
    assert scenario.paths
    for path in scenario.paths:
        b = path.bars
        validate_bars(tmp_path / name, b.timestamp, b.open, b.high, b.low, b.close, b.volume)
        assert path.spread_bps.shape == path.delay.shape == b.close.shape
    assert isinstance(scenario.params, dict)


def test_flash_crash_falls_exactly_the_depth_and_recovers_partially(sample_bars):
    scenario = build_scenario(
        "flash_crash", sample_bars, 0, {"depth": 0.25, "crash_bars": 4, "recovery": 0.4}
    )
    close = scenario.paths[0].bars.close
    start = scenario.params["start_index"]
    anchor = sample_bars.close[start - 1]
    assert close[start + 3] == pytest.approx(anchor * 0.75, rel=1e-12)
    settled = start + 4 + scenario.params["recovery_bars"] - 1
    assert close[settled] == pytest.approx(anchor * (0.75 + 0.25 * 0.4), rel=1e-12)
    # After the window the real returns continue unchanged.
    np.testing.assert_allclose(
        np.diff(np.log(close[settled:])), np.diff(np.log(sample_bars.close[settled:])), atol=1e-12
    )


def test_seeded_flash_crash_point_depends_on_the_seed_only(sample_bars):
    first = build_scenario("flash_crash", sample_bars, 1, {"at": "seeded"}).params["start_index"]
    again = build_scenario("flash_crash", sample_bars, 1, {"at": "seeded"}).params["start_index"]
    other = build_scenario("flash_crash", sample_bars, 2, {"at": "seeded"}).params["start_index"]
    assert first == again != other


def test_bootstrap_is_reproducible_for_a_seed_and_differs_across_seeds(sample_bars):
    a = build_scenario("bootstrap", sample_bars, 5, {"paths": 3})
    b = build_scenario("bootstrap", sample_bars, 5, {"paths": 3})
    c = build_scenario("bootstrap", sample_bars, 6, {"paths": 3})
    for x, y, z in zip(a.paths, b.paths, c.paths, strict=True):
        assert np.array_equal(x.bars.close, y.bars.close)
        assert not np.array_equal(x.bars.close, z.bars.close)


def test_non_random_scenarios_ignore_the_seed(sample_bars):
    for name in ("baseline", "flash_crash", "dry_liquidity", "latency_spike", "historical"):
        a, b = build_scenario(name, sample_bars, 1), build_scenario(name, sample_bars, 99)
        assert a.params == b.params
        for x, y in zip(a.paths, b.paths, strict=True):
            assert np.array_equal(x.bars.close, y.bars.close) and np.array_equal(x.bars.volume, y.bars.volume)


def test_historical_windows_are_the_deepest_real_drawdowns(sample_bars):
    close = sample_bars.close
    episodes = worst_drawdown_episodes(close, 3)
    depths = [depth for depth, _, _ in episodes]
    assert depths == sorted(depths, reverse=True)
    running = np.maximum.accumulate(close)
    assert depths[0] == pytest.approx(float(np.max(1 - close / running)), abs=1e-12)


def test_bad_scenario_parameters_are_one_line_errors(sample_bars):
    with pytest.raises(ScenarioError, match="^flash_crash: need 0<depth<1"):
        build_scenario("flash_crash", sample_bars, 0, {"depth": 1.5})
    with pytest.raises(ScenarioError, match="^unknown scenario 'meteor'"):
        build_scenario("meteor", sample_bars, 0)
    with pytest.raises(ScenarioError, match="^dry_liquidity: .*unexpected keyword"):
        build_scenario("dry_liquidity", sample_bars, 0, {"colour": 1})


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_strategies_are_causal_and_bounded(sample_bars, name):
    full = STRATEGIES[name](sample_bars)
    cut = 3000
    prefix = STRATEGIES[name](sample_bars.slice(0, cut))
    assert np.array_equal(full[:cut], prefix)  # no bar's target depends on later bars
    assert np.all((full >= 0.0) & (full <= 1.0))
