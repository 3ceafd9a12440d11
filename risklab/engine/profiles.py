"""Risk profiles (conservative, balanced, aggressive, manual) read from ``config/core.yaml``.

Validation is strict and refuses rather than clamps: a profile that silently became something else would
make the report certify limits nobody configured. ``manual`` is the config's manual entry with the user's
``key=value`` overrides applied on top.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import yaml

DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "config" / "core.yaml"
PROFILE_NAMES = ("conservative", "balanced", "aggressive", "manual")

# (lower, upper, lower inclusive). A limit of 1.0 switches a loss limit off: no loss fraction exceeds it.
_LIMIT_RANGES: dict[str, tuple[float, float, bool]] = {
    "position_fraction": (0.0, 1.0, False),
    "leverage": (1.0, 10.0, True),
    "stop_loss": (0.0, 1.0, False),
    "daily_loss_limit": (0.0, 1.0, False),
    "max_drawdown_halt": (0.0, 1.0, False),
    "max_order_rate_per_min": (0.0, 100_000.0, False),
    "fees_bps": (0.0, 1_000.0, True),
    "slippage_bps": (0.0, 1_000.0, True),
}
_ACCEPTANCE_KEYS = ("max_drawdown", "cvar_99")
# Optional: absent means re-entry after a stop or daily-limit exit waits for a new signal.
REENTRY_KEY = "reentry_cooldown_bars"
NEW_SIGNAL = -1  # re-entry rule: a stop or daily-limit exit waits for the strategy's target to change
_REENTRY_RANGE = (1.0, 1_000_000.0)


class ProfileError(ValueError):
    """A risk profile or override that cannot be used; the message is one line."""


@dataclass(frozen=True)
class Acceptance:
    """Thresholds a (strategy, profile, scenario) row must stay at or under to pass."""

    max_drawdown: float
    cvar_99: float


@dataclass(frozen=True)
class RiskProfile:
    name: str
    position_fraction: float
    leverage: float
    stop_loss: float
    daily_loss_limit: float
    max_drawdown_halt: float
    max_order_rate_per_min: float
    fees_bps: float
    slippage_bps: float
    acceptance: Acceptance
    reentry_cooldown_bars: float | None = None

    def params(self) -> dict:
        """Flat, JSON-able parameters recorded in every report row."""
        out = {field: getattr(self, field) for field in _LIMIT_RANGES}
        out["name"] = self.name
        out["acceptance"] = dataclasses.asdict(self.acceptance)
        out[REENTRY_KEY] = self.reentry_cooldown_bars
        return out

    def reentry_rule(self) -> str:
        """The re-entry rule after a stop-loss or daily-loss-limit exit, in words for the report."""
        if self.reentry_cooldown_bars is None:
            return "re-enter only when the strategy's target changes (new signal)"
        return f"re-enter at the strategy's current target {self.reentry_cooldown_bars:g} bars after the exit"

    def cooldown_bars(self) -> int:
        """The kernel's form of the rule: bars to wait, or ``NEW_SIGNAL``."""
        return NEW_SIGNAL if self.reentry_cooldown_bars is None else int(self.reentry_cooldown_bars)

    def with_costs(self, fees_bps: float | None = None, slippage_bps: float | None = None) -> RiskProfile:
        """The same limits with lab-wide cost overrides (``--fees`` / ``--slippage``) applied."""
        changes = {}
        if fees_bps is not None:
            changes["fees_bps"] = _number(self.name, "fees_bps", fees_bps)
        if slippage_bps is not None:
            changes["slippage_bps"] = _number(self.name, "slippage_bps", slippage_bps)
        profile = dataclasses.replace(self, **changes)
        _check_ranges(profile.name, {k: getattr(profile, k) for k in _LIMIT_RANGES})
        return profile


def _number(profile: str, key: str, value: object) -> float:
    # bool is an int subclass; "stop_loss: true" is a config mistake, not 1.0.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProfileError(f"profile {profile}: {key} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ProfileError(f"profile {profile}: {key} must be finite, got {value!r}")
    return number


def _check_ranges(profile: str, values: dict[str, float]) -> None:
    for key, (low, high, low_inclusive) in _LIMIT_RANGES.items():
        value = values[key]
        above_low = value >= low if low_inclusive else value > low
        if not (above_low and value <= high):
            bracket = "[" if low_inclusive else "("
            raise ProfileError(f"profile {profile}: {key}={value:g} outside {bracket}{low:g}, {high:g}]")


def profile_from_mapping(name: str, mapping: object) -> RiskProfile:
    """Build one profile; unknown, missing or out-of-range keys are errors."""
    if not isinstance(mapping, dict):
        raise ProfileError(f"profile {name}: expected a mapping, got {type(mapping).__name__}")
    expected = set(_LIMIT_RANGES) | {"acceptance"}
    unknown = sorted(set(mapping) - expected - {REENTRY_KEY})
    if unknown:
        raise ProfileError(f"profile {name}: unknown key(s) {', '.join(map(str, unknown))}")
    missing = sorted(expected - set(mapping))
    if missing:
        raise ProfileError(f"profile {name}: missing key(s) {', '.join(missing)}")
    values = {key: _number(name, key, mapping[key]) for key in _LIMIT_RANGES}
    _check_ranges(name, values)
    acceptance = mapping["acceptance"]
    if not isinstance(acceptance, dict) or sorted(acceptance) != sorted(_ACCEPTANCE_KEYS):
        keys = sorted(acceptance) if isinstance(acceptance, dict) else acceptance
        raise ProfileError(
            f"profile {name}: acceptance must have exactly {', '.join(_ACCEPTANCE_KEYS)}, got {keys}"
        )
    thresholds = {key: _number(name, f"acceptance.{key}", acceptance[key]) for key in _ACCEPTANCE_KEYS}
    for key, value in thresholds.items():
        if not 0.0 < value <= 1.0:
            raise ProfileError(f"profile {name}: acceptance.{key}={value:g} outside (0, 1]")
    return RiskProfile(
        name=name,
        acceptance=Acceptance(**thresholds),
        reentry_cooldown_bars=_reentry(name, mapping.get(REENTRY_KEY)),
        **values,
    )


def _reentry(name: str, value: object) -> float | None:
    if value is None:
        return None
    number = _number(name, REENTRY_KEY, value)
    low, high = _REENTRY_RANGE
    if not (low <= number <= high and number.is_integer()):
        raise ProfileError(f"profile {name}: {REENTRY_KEY}={number:g} must be a whole number in [1, 1000000]")
    return number


def parse_manual_overrides(pairs: list[str] | None) -> dict:
    """Turn CLI ``key=value`` strings (``acceptance.cvar_99=0.2`` for thresholds) into a nested mapping."""
    overrides: dict = {}
    for pair in pairs or []:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ProfileError(f"profile manual: override {pair!r} is not key=value")
        try:
            value = float(text)
        except ValueError:
            raise ProfileError(f"profile manual: {key} must be a number, got {text!r}") from None
        if key.startswith("acceptance."):
            overrides.setdefault("acceptance", {})[key.removeprefix("acceptance.")] = value
        else:
            overrides[key] = value
    return overrides


def load_config(config_path: str | Path | None = None) -> dict:
    path = Path(config_path) if config_path is not None else DEFAULT_CONFIG
    try:
        with open(path, encoding="utf-8") as handle:
            config = yaml.safe_load(handle)
    except OSError as exc:
        raise ProfileError(f"config {path}: cannot read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ProfileError(f"config {path}: invalid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(config, dict) or not isinstance(config.get("risk_profiles"), dict):
        raise ProfileError(f"config {path}: no risk_profiles mapping")
    return config


def load_profiles(
    config_path: str | Path | None = None,
    *,
    manual_overrides: dict | None = None,
    names: tuple[str, ...] | list[str] = PROFILE_NAMES,
) -> dict[str, RiskProfile]:
    """Profiles by name, in the order asked. ``manual_overrides`` only ever applies to ``manual``."""
    section = load_config(config_path)["risk_profiles"]
    profiles: dict[str, RiskProfile] = {}
    for name in names:
        if name not in PROFILE_NAMES:
            raise ProfileError(f"profile {name}: unknown (choose from {', '.join(PROFILE_NAMES)})")
        if name not in section:
            raise ProfileError(f"profile {name}: missing from config risk_profiles")
        mapping = dict(section[name]) if isinstance(section[name], dict) else section[name]
        if name == "manual" and manual_overrides and isinstance(mapping, dict):
            unknown = sorted(set(manual_overrides) - set(_LIMIT_RANGES) - {"acceptance", REENTRY_KEY})
            if unknown:
                raise ProfileError(f"profile manual: unknown override key(s) {', '.join(unknown)}")
            acceptance = {**mapping.get("acceptance", {}), **manual_overrides.get("acceptance", {})}
            mapping = {**mapping, **manual_overrides, "acceptance": acceptance}
        profiles[name] = profile_from_mapping(name, mapping)
    if manual_overrides and "manual" not in names:
        raise ProfileError("profile manual: --manual overrides given but the manual profile is not selected")
    return profiles
