"""Journal segments and snapshots: a start reads the latest snapshot and the later segments, and that gives
the same state as replaying the whole history; closed segments are chained and never edited."""

import os

import pytest

from execution.core.journal import Journal, load
from execution.core.journal_archive import ArchiveError, verify_history
from execution.core.journal_scan import scan_bytes
from execution.core.orders import OrderStatus
from execution.proto.gen import oem_daemon_v1_pb2 as pb
from tests.execution.daemon_world import traded_world
from tests.execution.helpers import SYMBOL, loose_risk, make_order, paper, router_for


def _trade(path, clock, *, segment_records, orders=120):
    with Journal(path, segment_records=segment_records) as journal:
        journal.open()
        venue = paper("p", clock, partial_fill_rate=0.3)
        router = router_for([venue], clock, journal=journal, risk=loose_risk(clock))
        for n in range(orders):
            kind = n % 4
            if kind == 3:
                router.submit(make_order(n, type="limit", limit_price=0.049, side="buy"))
            else:
                router.submit(make_order(n, qty=1.0 + n % 3, side="sell" if n % 5 == 0 else "buy"))
            if n % 10 == 9:
                venue.on_bar(SYMBOL, 0.05, 10_000.0)
                router.poll()
            if n % 15 == 14 and router.open_orders():
                router.cancel(router.open_orders()[0].client_order_id)
            router.rotate_journal()
        return router.risk.position(SYMBOL)


def _full_replay(path):
    """The whole history as one file: every closed segment then the active one."""
    root = path.with_suffix("")
    data = b"".join(p.read_bytes() for p in sorted((root / "segments").glob("*.jsonl")))
    data += path.read_bytes()
    result = scan_bytes(data, "history")
    assert result.damage is None
    return result


def test_snapshot_and_later_segments_give_the_same_state_as_a_full_replay(tmp_path, clock):
    path = tmp_path / "paper.jsonl"
    position = _trade(path, clock, segment_records=40)
    full = _full_replay(path)
    report, _ = load(path)
    try:
        assert report.snapshot_segment >= 5 and report.records < full.records
        assert report.last_seq == full.last_seq and report.head_hash == full.head_hash
        assert report.fill_seq == full.fill_seq > 0
        archive = report.archive
        for cid, order in full.orders.items():
            restored = report.orders.get(cid) or archive.find(cid)
            assert restored is not None and restored.to_dict() == order.to_dict(), cid
        # the restored router holds the same position as the one that traded
        with Journal(path, segment_records=40) as journal:
            again = journal.open()
            router = router_for([paper("p", clock)], clock, journal=journal, risk=loose_risk(clock))
            router.restore(again)
            assert router.risk.position(SYMBOL) == pytest.approx(position)
            assert router.get(make_order(0).client_order_id).status is OrderStatus.FILLED
            dup = router.submit(make_order(1, qty=2.0))  # an archived id stays a duplicate
            assert dup.duplicate and dup.order.client_order_id == make_order(1).client_order_id
    finally:
        archive.close()


def test_closed_segments_are_chained_and_an_edit_is_caught(tmp_path, clock):
    path = tmp_path / "paper.jsonl"
    _trade(path, clock, segment_records=40, orders=60)
    seq, _head = verify_history(path)
    assert seq == _full_replay(path).last_seq
    first = path.with_suffix("") / "segments" / "00000001.jsonl"
    assert oct(first.stat().st_mode & 0o777) == "0o400"
    os.chmod(first, 0o600)
    data = first.read_bytes()
    first.write_bytes(data.replace(b'"qty":1', b'"qty":9', 1))
    with pytest.raises(ArchiveError, match="SHA-384 differs from the manifest"):
        verify_history(path)


def test_daemon_rotates_its_journal_and_still_answers_for_archived_orders(tmp_path):
    world = traded_world(tmp_path, orders=0)
    daemon = world.start(journal_segment_records=6)
    try:
        stub = world.stub(daemon.port)
        for n in range(8):
            assert world.submit(stub, f"o-{n}").status == "FILLED"
            daemon.core.rotate_journals()
    finally:
        daemon.stop(0)
    daemon = world.start(journal_segment_records=6)
    try:
        assert daemon.core.journals["paper"].archive.segments
        stub = world.stub(daemon.port)
        old = stub.GetOrder(pb.GetOrderRequest(client_order_id="o-0"), metadata=world.md(), timeout=5)
        assert old.status == "FILLED" and old.fills[0].seq == 1
        again = world.submit(stub, "o-0")
        assert again.duplicate and again.status == "FILLED"
        stream = stub.StreamFills(pb.StreamFillsRequest(since_seq=0), metadata=world.md(), timeout=10)
        assert [next(stream).seq for _ in range(8)] == list(range(1, 9))
        stream.cancel()
        page = stub.ListOrders(pb.ListOrdersRequest(page_size=500), metadata=world.md(), timeout=5)
        assert sorted(o.client_order_id for o in page.orders) == sorted(f"o-{n}" for n in range(8))
    finally:
        daemon.stop(0)


def test_verify_journal_checks_the_whole_history_and_names_an_edited_segment(tmp_path):
    world = traded_world(tmp_path, orders=0)
    daemon = world.start(journal_segment_records=4)
    try:
        stub = world.stub(daemon.port)
        for n in range(5):
            world.submit(stub, f"v-{n}")
            daemon.core.rotate_journals()
    finally:
        daemon.stop(0)
    proc = world.cli("--verify-journal")
    assert proc.returncode == 0 and "records verified, head sha384:" in proc.stdout, proc.stderr
    first = world.journal.with_suffix("") / "segments" / "00000001.jsonl"
    os.chmod(first, 0o600)
    first.write_bytes(first.read_bytes().replace(b'"qty":0.5', b'"qty":0.6', 1))
    proc = world.cli("--verify-journal")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "00000001.jsonl" in proc.stderr and "Traceback" not in proc.stderr
