"""Live routing never reaches a simulated venue: a live profile, and every routing list as the live profile
sees it, must name real venues only. A paper venue in live routing would let a "live" order fill in the
simulator - a fallback that looks like trading and is not."""

from __future__ import annotations

from typing import Any

SIMULATED_KINDS = frozenset({"paper"})


def simulated_venues(config: dict[str, Any]) -> set[str]:
    return {name for name, venue in config.get("venues", {}).items() if venue.get("kind") in SIMULATED_KINDS}


def live_routing_problems(config: dict[str, Any]) -> list[str]:
    """One line per way the live profile could route to a simulated venue; [] when it cannot."""
    simulated = simulated_venues(config)
    live = config.get("profiles", {}).get("live") or {}
    problems = [
        f"profile live routes to the simulated venue {name!r}"
        for name in live.get("venues", [])
        if name in simulated
    ]
    allowed = [v for v in live.get("venues", []) if v not in simulated]
    routing = config.get("routing", {})
    if not any(v in allowed for v in routing.get("default", [])):
        problems.append("routing.default names no real venue the live profile allows")
    return problems
