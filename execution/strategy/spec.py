"""The ``strategies:`` section of ``config/core.yaml``: one ``StrategySpec`` per entry.

The schema (docs/schemas/core_config.json) checks shapes; this module checks what a schema cannot: that the
class exists and takes the parameters, that the risk profile is defined, that names are unique. Being part
of core.yaml, the section is covered by the config's HMAC signature: paper and live start only on a
signed config, so a strategy cannot be added or moved to another stage without a new signature.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from execution.core.orders import Stage
from execution.feeds.base import FeedError, timeframe_seconds
from execution.strategy import reference

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,23}\Z")
_SYMBOL = re.compile(r"^[A-Z0-9]+/[A-Z0-9]+\Z")
_KEYS = {
    "name",
    "class",
    "symbols",
    "timeframe",
    "stage",
    "parameters",
    "risk_profile",
    "allocation",
    "autostart",
}


class StrategySpecError(ValueError):
    """A strategy entry that cannot run; one line naming the entry."""


@dataclass(frozen=True)
class StrategySpec:
    name: str
    strategy_class: str
    symbols: tuple[str, ...]
    timeframe: str
    stage: Stage
    risk_profile: str
    parameters: dict = field(default_factory=dict)
    allocation: float = 1.0
    autostart: bool = True


def parse_spec(entry: object, risk_profiles, index: int = 0) -> StrategySpec:
    where = f"strategies[{index}]"
    if not isinstance(entry, dict):
        raise StrategySpecError(f"{where}: must be a mapping")
    name = entry.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise StrategySpecError(f"{where}: name must match {_NAME.pattern}")
    where = f"strategy {name}"
    unknown = sorted(set(entry) - _KEYS)
    if unknown:
        raise StrategySpecError(f"{where}: unknown key(s) {', '.join(map(str, unknown))}")
    symbols = entry.get("symbols")
    if (
        not isinstance(symbols, list)
        or not 0 < len(symbols) <= 50
        or len(set(map(str, symbols))) != len(symbols)
        or not all(isinstance(s, str) and _SYMBOL.match(s) for s in symbols)
    ):
        raise StrategySpecError(f"{where}: symbols must be 1-50 distinct BASE/QUOTE symbols")
    timeframe = entry.get("timeframe")
    try:
        timeframe_seconds(timeframe if isinstance(timeframe, str) else "")
    except FeedError as exc:
        raise StrategySpecError(f"{where}: {exc}") from None
    try:
        stage = Stage(entry.get("stage"))
    except ValueError:
        raise StrategySpecError(f"{where}: stage must be demo, paper or live") from None
    risk_profile = entry.get("risk_profile")
    if risk_profile not in risk_profiles:
        raise StrategySpecError(f"{where}: risk profile {risk_profile!r} is not defined in risk_profiles")
    parameters = entry.get("parameters", {})
    if not isinstance(parameters, dict) or not all(
        isinstance(v, bool | int | float | str) for v in parameters.values()
    ):
        raise StrategySpecError(f"{where}: parameters must map names to numbers, booleans or strings")
    allocation = entry.get("allocation", 1.0)
    if type(allocation) not in (int, float) or not 0 < allocation <= 1:
        raise StrategySpecError(f"{where}: allocation must be a number in (0, 1]")
    autostart = entry.get("autostart", True)
    if not isinstance(autostart, bool):
        raise StrategySpecError(f"{where}: autostart must be true or false")
    strategy_class = entry.get("class")
    try:
        reference.build(str(strategy_class), parameters, float(allocation))
    except ValueError as exc:
        raise StrategySpecError(f"{where}: {exc}") from None
    return StrategySpec(
        name,
        str(strategy_class),
        tuple(symbols),
        timeframe,
        stage,
        risk_profile,
        dict(parameters),
        float(allocation),
        autostart,
    )


def specs_from_config(config: dict) -> list[StrategySpec]:
    entries = config.get("strategies") or []
    if not isinstance(entries, list):
        raise StrategySpecError("strategies must be a list")
    specs = [parse_spec(e, config.get("risk_profiles") or {}, i) for i, e in enumerate(entries)]
    names = [s.name for s in specs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise StrategySpecError(f"strategy name(s) declared twice: {', '.join(duplicates)}")
    return specs


def select(specs: list[StrategySpec], names, *, symbols, timeframe: str, stage: Stage) -> list[StrategySpec]:
    """``--strategies NAME[,NAME]``: the declared specs of those names, in that order. A name that is not
    declared but names a reference class runs it with its defaults on ``symbols`` at ``stage`` (demo only:
    the daemon allows that only in demo mode, where the config need not be signed), with an equal share of
    the position limit."""
    by_name = {s.name: s for s in specs}
    defaults = [n for n in names if n not in by_name]
    chosen: list[StrategySpec] = []
    for name in names:
        if name in by_name:
            chosen.append(by_name[name])
        elif name in reference.STRATEGIES and Stage(stage) is Stage.DEMO:
            # undeclared strategies share the position limit equally, so none crowds out the others
            chosen.append(
                StrategySpec(name, name, tuple(symbols), timeframe, Stage.DEMO, "", {}, 1.0 / len(defaults))
            )
        else:
            raise StrategySpecError(f"--strategies: {name!r} is not declared in the config's strategies")
    return chosen
