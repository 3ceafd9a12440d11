"""Router overhead benchmark: N orders through LiveRouter -> PaperVenue vs PaperVenue.submit directly.

    .venv/bin/python bench/router.py [--orders 20000] [--journal]

Both paths run in the same process on the same machine with identical venues (same seed, same bars); the
router path adds client-order-id dedupe, pre-trade risk, circuit breaker, events and (with --journal) an
fsynced journal append per state change. Prints machine info, orders/s for both and the ratio.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from execution.core.clock import ManualClock  # noqa: E402
from execution.core.journal import Journal  # noqa: E402
from execution.core.orders import Order, make_client_order_id  # noqa: E402
from execution.core.risk import RiskEngine, RiskLimits  # noqa: E402
from execution.live_router import LiveRouter, RoutingTable  # noqa: E402
from execution.venues.paper import PaperVenue  # noqa: E402

SYMBOL = "ETH/BTC"


def _venue(clock: ManualClock) -> PaperVenue:
    venue = PaperVenue("paper", seed=1, clock=clock)
    venue.on_bar(SYMBOL, 0.05, 1e9)
    return venue


def _orders(n: int, tag: str) -> list[Order]:
    return [
        Order(make_client_order_id(tag, i), SYMBOL, "buy" if i % 2 else "sell", 1.0 + i % 7) for i in range(n)
    ]


def run(n: int, journal_dir: Path | None) -> dict:
    clock = ManualClock()
    # Warm-up: numba compiles the risklab fill-cost model on the first call.
    _venue(clock).submit(_orders(1, "warm")[0])

    venue = _venue(clock)
    orders = _orders(n, "direct")
    start = time.perf_counter()
    for order in orders:
        venue.submit(order)
    direct = time.perf_counter() - start

    venue = _venue(clock)
    risk = RiskEngine(RiskLimits(1e12, 1e15, 1e12, 10**9), clock=clock)
    risk.set_reference_price(SYMBOL, 0.05)
    journal = None
    if journal_dir is not None:
        journal = Journal(journal_dir / "bench.jsonl")
        journal.open()
    events: list = []
    router = LiveRouter(
        {"paper": venue}, RoutingTable(["paper"]), risk=risk, journal=journal, clock=clock, sink=events.append
    )
    orders = _orders(n, "router")
    start = time.perf_counter()
    for order in orders:
        router.submit(order)
    routed = time.perf_counter() - start
    if journal is not None:
        journal.close()
    assert all(o.status == "FILLED" for o in orders)
    return {"direct_s": direct, "router_s": routed, "events": len(events)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--journal", action="store_true", help="journal every state change (fsync each)")
    parser.add_argument("--quick", action="store_true", help="2,000 orders (a smoke run)")
    args = parser.parse_args()
    if args.quick:
        args.orders = 2_000
    print(f"machine: {platform.machine()} {platform.processor() or ''} cpus={os.cpu_count()}")
    print(f"python: {platform.python_implementation()} {platform.python_version()} on {platform.platform()}")
    with tempfile.TemporaryDirectory(prefix="oem-bench-") as tmp:
        result = run(args.orders, Path(tmp) if args.journal else None)
    n = args.orders
    direct_rate = n / result["direct_s"]
    router_rate = n / result["router_s"]
    mode = "router+risk+journal(fsync)" if args.journal else "router+risk (no journal)"
    print(f"orders: {n}")
    print(f"paper venue direct: {direct_rate:,.0f} orders/s ({result['direct_s']:.3f} s)")
    print(f"{mode}: {router_rate:,.0f} orders/s ({result['router_s']:.3f} s, {result['events']} events)")
    print(f"ratio: router/direct {router_rate / direct_rate:.3f} (overhead x{direct_rate / router_rate:.2f})")


if __name__ == "__main__":
    main()
