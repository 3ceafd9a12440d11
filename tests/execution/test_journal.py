import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from execution.core.journal import Journal, JournalCorrupt, replay
from execution.core.orders import (
    DuplicateClientOrderId,
    Fill,
    InvalidTransition,
    OrderStatus,
    OrderStore,
    make_client_order_id,
)
from execution.live_router import LiveRouter, RoutingTable
from execution.venues.ccxt_venue import CcxtVenue, make_binance
from tests.execution.fake_binance import FakeBinance
from tests.execution.helpers import make_order, paper, router_for

REPO = Path(__file__).resolve().parents[2]


def test_order_transitions_are_enforced():
    order = make_order(1)
    order.transition(OrderStatus.ACKED, ts=1.0)
    order.transition(OrderStatus.CANCELLED, ts=2.0, reason="USER")
    with pytest.raises(InvalidTransition):
        order.transition(OrderStatus.FILLED, ts=3.0)
    with pytest.raises(InvalidTransition):
        order.apply_fill(Fill("p", "o1", "f1", 1.0, 0.05, 0.0, 3.0))


def test_fills_are_deduplicated_and_complete_the_order():
    order = make_order(1, qty=2.0)
    fill = Fill("p", "o1", "f1", 1.0, 0.05, 0.0, 1.0)
    assert order.apply_fill(fill) and not order.apply_fill(fill)
    assert order.status is OrderStatus.PARTIALLY_FILLED and order.remaining == 1.0
    order.apply_fill(Fill("p", "o1", "f2", 1.0, 0.06, 0.0, 2.0))
    assert order.status is OrderStatus.FILLED and order.avg_price == pytest.approx(0.055)


def test_client_order_ids_are_deterministic_and_duplicates_return_the_existing_order():
    assert make_client_order_id("s", 1, "x") == make_client_order_id("s", 1, "x")
    assert make_client_order_id("s", 1) != make_client_order_id("s", 2)
    assert len(make_client_order_id("s", 1)) <= 36
    store = OrderStore()
    first, created = store.add(make_order(1))
    again, created_again = store.add(make_order(1))
    assert created and not created_again and again is first and len(store) == 1
    with pytest.raises(DuplicateClientOrderId):
        store.add(make_order(1, qty=5.0))


def test_journal_replay_rebuilds_open_orders(tmp_path, clock):
    path = tmp_path / "orders.jsonl"
    with Journal(path) as journal:
        journal.open()
        venue = paper("p", clock)
        router = router_for([venue], clock, journal=journal)
        router.submit(make_order(1))
        resting = router.submit(make_order(2, type="limit", limit_price=0.049)).order
    report = replay(path)
    assert report.torn_bytes == 0 and report.records == 4
    assert [o.client_order_id for o in report.open_orders] == [resting.client_order_id]
    assert report.orders[make_order(1).client_order_id].status is OrderStatus.FILLED


def test_torn_journal_line_is_truncated_and_reported(tmp_path, clock):
    path = tmp_path / "orders.jsonl"
    with Journal(path) as journal:
        journal.open()
        router = router_for([paper("p", clock)], clock, journal=journal)
        for n in range(3):
            router.submit(make_order(n))
    good = path.read_bytes()
    path.write_bytes(good + b'{"event":"ack","order":{"client_order_id":"oem-')  # crash mid-write
    with Journal(path) as journal:
        report = journal.open()
        assert report.torn_bytes > 0 and "no newline" in report.torn_detail
        assert report.records == 6 and len(report.orders) == 3
        assert path.read_bytes() == good
        journal.append("note", make_order(9), 1.0)  # appending continues the chain
    assert replay(path).records == 7


def test_edited_journal_line_is_corruption_not_a_torn_write(tmp_path, clock):
    path = tmp_path / "orders.jsonl"
    with Journal(path) as journal:
        journal.open()
        router = router_for([paper("p", clock)], clock, journal=journal)
        for n in range(3):
            router.submit(make_order(n))
    lines = path.read_bytes().split(b"\n")
    lines[1] = lines[1].replace(b'"qty":1', b'"qty":2', 1)
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(JournalCorrupt):
        replay(path)


def _exchange(fake):
    return make_binance(
        api_key="test-key",
        secret="test-secret",
        timeout_ms=2000,
        base_url=fake.base_url,
        enable_rate_limit=False,
    )


def test_journal_replay_after_sigkill_loses_nothing(tmp_path):
    fake = FakeBinance().start()
    path = tmp_path / "orders.jsonl"
    try:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.execution.journal_child", str(path), fake.base_url],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        acked = []
        for line in child.stdout:
            acked.append(line.split())
            if len(acked) >= 40:
                break
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        assert len(acked) >= 40, child.stderr.read()

        journal = Journal(path)
        report = journal.open()
        for cid, status in acked:  # everything acknowledged to the caller is in the journal
            assert report.orders[cid].status == status
        router = LiveRouter(
            {"binance": CcxtVenue(_exchange(fake))}, RoutingTable(["binance"]), journal=journal
        )
        counts = router.restore(report)
        assert counts["unresolved"] == 0 and router.open_orders() == []
        for cid, order in fake.orders.items():  # every order the exchange has is known, with its fills
            mine = router.get(cid)
            assert mine is not None and mine.filled_qty == pytest.approx(float(order["executedQty"]))
        for order in report.orders.values():
            if order.client_order_id not in fake.orders:
                assert order.status is OrderStatus.CANCELLED and order.reason == "NOT_PLACED_BEFORE_RESTART"
        journal.close()
        assert replay(path).open_orders == []
    finally:
        fake.stop()
