"""Run by test_journal: trade through a journaled router until SIGKILLed.

argv: journal path, fake exchange base URL. Prints each client order id once submit() has returned
(i.e. after the order was acknowledged to the caller), flushing every line.
"""

import sys

from execution.core.clock import SystemClock
from execution.core.journal import Journal
from execution.core.orders import Order, make_client_order_id
from execution.live_router import LiveRouter, RoutingTable
from execution.venues.ccxt_venue import CcxtVenue, make_binance


def main() -> None:
    journal_path, base_url = sys.argv[1], sys.argv[2]
    journal = Journal(journal_path)
    journal.open()
    exchange = make_binance(
        api_key="test-key", secret="test-secret", timeout_ms=2000, base_url=base_url, enable_rate_limit=False
    )
    router = LiveRouter(
        {"binance": CcxtVenue(exchange)}, RoutingTable(["binance"]), journal=journal, clock=SystemClock()
    )
    n = 0
    while True:
        order = Order(make_client_order_id("crash-test", n), "ETH/BTC", "buy", 1.0 + n % 3)
        result = router.submit(order)
        print(f"{order.client_order_id} {result.order.status}", flush=True)
        n += 1


if __name__ == "__main__":
    main()
