import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from execution.core.journal import Journal, JournalCorrupt, JournalDamaged, JournalError, replay
from execution.core.journal_repair import repair_journal
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
from tests.execution.helpers import make_order, paper, replay_after_kill, router_for

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


def _three_filled_orders(path, clock):
    """A journal at `path` holding three market orders filled at a paper venue (NEW and fill each)."""
    with Journal(path) as journal:
        journal.open()
        router = router_for([paper("p", clock)], clock, journal=journal)
        for n in range(3):
            router.submit(make_order(n))
    return path


def test_a_record_cut_by_a_kill_is_the_unacknowledged_tail_the_repair_cuts(tmp_path, clock):
    """What the SIGKILL tests accept: a write stopped at a page boundary leaves the last record without its
    newline; replay refuses it, the repair finds it unacknowledged and cuts only it."""
    path = _three_filled_orders(tmp_path / "orders.jsonl", clock)
    good = path.read_bytes()
    path.write_bytes(good + good.splitlines(keepends=True)[-1][:32])  # 32 bytes of a record, no newline
    report = replay_after_kill(path)
    assert report.records == good.count(b"\n") + 1 and len(report.repairs) == 1  # the repair is journaled
    assert len(report.orders) == 3


def test_torn_journal_line_is_refused_and_left_in_place_until_repaired(tmp_path, clock):
    path = _three_filled_orders(tmp_path / "orders.jsonl", clock)
    good = path.read_bytes()
    damaged = good + b'{"event":"ack","order":{"client_order_id":"oem-'  # crash mid-write
    path.write_bytes(damaged)
    with pytest.raises(JournalDamaged) as caught:
        Journal(path).open()
    assert "torn tail at byte" in str(caught.value) and "\n" not in str(caught.value)
    assert path.read_bytes() == damaged  # nothing is cut at start
    result = repair_journal(path, actor="tester")
    assert result is not None and result.cut_bytes == len(damaged) - len(good)
    assert result.acknowledged == []  # the torn line was never durable-and-told
    with Journal(path) as journal:
        report = journal.open()
        assert report.records == 7 and len(report.orders) == 3
        journal.append("note", make_order(9), 1.0)  # appending continues the chain
    assert replay(path).records == 8


def test_edited_journal_line_is_corruption_not_a_torn_write(tmp_path, clock):
    path = _three_filled_orders(tmp_path / "orders.jsonl", clock)
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


# -- group commit --------------------------------------------------------------------------------------------
class _Fsync:
    """Injectable fsync: counts calls, records how many bytes each finished call covered, can block."""

    def __init__(self, delay=0.0):
        self.delay = delay
        self.calls = 0
        self.covered = 0  # file size when the last finished fsync started (what a real fsync makes durable)
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.lock = threading.Lock()

    def __call__(self, fd):
        size = os.fstat(fd).st_size
        self.entered.set()
        self.gate.wait()
        if self.delay:
            time.sleep(self.delay)
        os.fdatasync(fd)
        with self.lock:
            self.calls += 1
            self.covered = max(self.covered, size)


def _line_ends(path):
    ends, offset = {}, 0
    for n, line in enumerate(path.read_bytes().split(b"\n")[:-1], start=1):
        offset += len(line) + 1
        ends[n] = offset
    return ends


def test_concurrent_appends_share_fsyncs_and_replay_a_valid_chain_with_every_record(tmp_path):
    path = tmp_path / "orders.jsonl"
    fsync = _Fsync(delay=0.002)
    threads, per_thread = 16, 60
    returned = []  # (ticket, bytes covered by a finished fsync when append returned)
    errors = []

    def writer(t):
        try:
            for i in range(per_thread):
                ticket = journal.append("new", make_order(t * 1000 + i, qty=1.0 + i), float(i))
                returned.append((ticket, fsync.covered))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    with Journal(path, fsync=fsync) as journal:
        journal.open()
        pool = [threading.Thread(target=writer, args=(t,)) for t in range(threads)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
        assert not errors
        assert journal.durable_seq == journal.seq == threads * per_thread
    report = replay(path)  # verifies seq, prev_hash and canonical bytes of every line
    assert report.records == threads * per_thread and report.torn_bytes == 0
    expected = {make_order(t * 1000 + i).client_order_id for t in range(threads) for i in range(per_thread)}
    assert set(report.orders) == expected
    assert fsync.calls < threads * per_thread / 2  # shared: far fewer fsyncs than records
    ends = _line_ends(path)
    assert sorted(t for t, _ in returned) == list(range(1, threads * per_thread + 1))
    for ticket, covered in returned:  # no append returned before an fsync covered its line
        assert covered >= ends[ticket], (ticket, covered, ends[ticket])


def test_append_is_not_acknowledged_before_an_fsync_that_covers_it(tmp_path):
    path = tmp_path / "orders.jsonl"
    fsync = _Fsync()
    with Journal(path, fsync=fsync) as journal:
        journal.open()
        fsync.gate.clear()  # every fsync blocks until the test opens the gate
        done = {}

        def append(name, n):
            done[name] = journal.append("new", make_order(n), 1.0)

        first = threading.Thread(target=append, args=("first", 1))
        first.start()
        assert fsync.entered.wait(5)  # the leader is inside fsync
        second = threading.Thread(target=append, args=("second", 2))
        second.start()
        deadline = time.monotonic() + 5
        while journal.seq < 2 and time.monotonic() < deadline:
            time.sleep(0.001)
        assert journal.seq == 2  # both lines are written (in the page cache) ...
        time.sleep(0.1)
        assert done == {} and journal.durable_seq == 0  # ... but neither append has returned
        fsync.entered.clear()
        fsync.gate.set()
        first.join(5)
        second.join(5)
        assert done == {"first": 1, "second": 2}
        # the second line was written after the first fsync started, so it needed a second fsync
        assert fsync.calls == 2 and journal.durable_seq == 2
    assert replay(path).records == 2


def test_ticket_api_and_a_failed_fsync_poisons_the_journal(tmp_path):
    path = tmp_path / "orders.jsonl"
    calls = []

    def failing(fd):
        calls.append(fd)
        raise OSError(5, "Input/output error")

    journal = Journal(path, fsync=failing)
    journal.open()
    ticket = journal.append_nowait("new", make_order(1), 1.0)
    assert ticket == 1 and journal.durable_seq == 0
    with pytest.raises(JournalError, match="fsync failed"):
        journal.wait_durable(ticket)
    with pytest.raises(JournalError, match="fsync failed"):  # a waiter never sees the record as durable
        journal.wait_durable(ticket)
    with pytest.raises(JournalError, match="unusable"):
        journal.append("new", make_order(2), 2.0)
    assert len(calls) == 1
    journal.close()
    with Journal(path) as again:  # a fresh open (after an operator looked) continues the chain
        assert again.open().records == 1
        assert again.append("new", make_order(2), 2.0) == 2
    assert replay(path).records == 2


_CONCURRENT_CHILD = r"""
import sys, threading
from execution.core.clock import SystemClock
from execution.core.journal import Journal
from execution.core.orders import Order, make_client_order_id
from execution.live_router import LiveRouter, RoutingTable
from execution.venues.paper import PaperVenue

clock = SystemClock()
journal = Journal(sys.argv[1])
journal.open()
venue = PaperVenue("p", seed=1, clock=clock)
venue.on_bar("ETH/BTC", 0.05, 1e12)
router = LiveRouter({"p": venue}, RoutingTable(["p"]), journal=journal, clock=clock)
out = threading.Lock()

def trade(t):
    n = 0
    while True:
        order = Order(make_client_order_id(f"kill-{t}", n), "ETH/BTC", "buy", 1.0)
        result = router.submit(order)
        with out:
            print(f"{order.client_order_id} {result.order.status} {t}", flush=True)
        n += 1

for t in range(8):
    threading.Thread(target=trade, args=(t,), daemon=True).start()
threading.Event().wait()
"""


def test_sigkill_during_concurrent_appends_loses_no_acknowledged_record(tmp_path):
    path = tmp_path / "orders.jsonl"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen(
        [sys.executable, "-c", _CONCURRENT_CHILD, str(path)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    acked = []
    for line in child.stdout:
        acked.append(line.split())
        if len(acked) >= 400:
            break
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    assert len(acked) >= 400, child.stderr.read()
    report = replay_after_kill(path)  # the chain verifies; at most the unacknowledged last record is cut
    for cid, status, _thread in acked:
        assert report.orders[cid].status == status == "FILLED"
    assert len({thread for _, _, thread in acked}) > 1  # several threads were acknowledged
    with Journal(path) as journal:
        assert journal.open().records == report.records
