"""A damaged journal never passes silently: the daemon refuses with one line and exit 2 until an operator
runs --repair-journal, which quarantines the damage, records it and names any acknowledged state it cut."""

import json
import os

import pytest

from audit.trust.canonical import strict_loads
from execution.core.journal import Journal, JournalLocked
from execution.core.journal_repair import repair_journal
from execution.proto.gen import oem_daemon_v1_pb2 as pb
from tests.execution.daemon_world import traded_world


@pytest.fixture
def world(tmp_path):
    return traded_world(tmp_path)


def _lines(path):
    return path.read_bytes().split(b"\n")[:-1]


def _cut_last_record(data: bytes) -> bytes:
    return data[: data.rstrip(b"\n").rfind(b"\n") + 1]


def _zero_middle(data: bytes) -> bytes:
    second = data.find(b"\n") + 1
    return data[: second + 40] + b"\x00" * 30 + data[second + 70 :]


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        (lambda d: d[:-1], ["torn tail", "no newline"]),
        (lambda d: d[:-37], ["torn tail", "no newline"]),
        (_cut_last_record, ["acknowledged record(s) are missing", "FILLED"]),
        (_zero_middle, ["corrupt record", "line 2"]),
    ],
    ids=["cut-1-byte", "cut-37-bytes", "cut-last-full-record", "zero-bytes-mid-record"],
)
def test_damaged_journal_refuses_the_start_with_one_line_and_exit_2(world, damage, words):
    data = world.journal.read_bytes()
    world.journal.write_bytes(damage(data))
    proc = world.cli(*world.start_argv())
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert str(world.journal) in lines[0] and "at byte" in lines[0] and "--repair-journal" in lines[0]
    for word in words:
        assert word in lines[0]
    if damage is not _zero_middle:  # the record's order is readable (or named by the head witness)
        assert "order-2" in lines[0]


@pytest.mark.parametrize("kind", ["directory", "fifo"])
def test_journal_that_is_not_a_regular_file_refuses_with_one_line(world, kind):
    world.journal.unlink()
    if kind == "directory":
        world.journal.mkdir()
    else:
        os.mkfifo(world.journal)
    proc = world.cli(*world.start_argv(), timeout=30)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert ("a directory" if kind == "directory" else "a FIFO") in lines[0]


def test_repair_quarantines_the_damage_records_it_and_the_daemon_starts_and_reconciles(world):
    data = world.journal.read_bytes()
    damaged = data[:-37]
    world.journal.write_bytes(damaged)
    cut_at = damaged.rfind(b"\n") + 1
    proc = world.cli("--repair-journal")
    assert proc.returncode == 0, proc.stderr
    line = proc.stdout.strip()
    assert len(line.splitlines()) == 1 and line.startswith("journal repaired:")
    quarantine = [p for p in world.journal.parent.iterdir() if ".quarantine-" in p.name]
    assert len(quarantine) == 1 and quarantine[0].read_bytes() == damaged[cut_at:]
    assert oct(quarantine[0].stat().st_mode & 0o777) == "0o400"
    last = strict_loads(_lines(world.journal)[-1])
    assert last["event"] == "repair" and last["repair"]["offset"] == cut_at
    assert last["repair"]["quarantine"] == quarantine[0].name and last["repair"]["actor"]
    audit = (world.dep.data_dir / "audit" / "daemon_access.jsonl").read_text().splitlines()
    entry = json.loads(audit[-1])
    assert entry["method"] == "RepairJournal" and entry["decision"] == "repair"
    assert "order-2" in entry["reason"]
    daemon = world.start()
    try:
        stub = world.stub(daemon.port)
        get = pb.GetOrderRequest
        reply = stub.GetOrder(get(client_order_id="order-2"), metadata=world.md(), timeout=5)
        assert reply.status == "CANCELLED" and reply.reason == "JOURNAL_REPAIR_CUT_FILLED"
        untouched = stub.GetOrder(get(client_order_id="order-1"), metadata=world.md(), timeout=5)
        assert untouched.status == "FILLED" and len(untouched.fills) == 1
    finally:
        daemon.stop(0)
    assert world.cli("--repair-journal").stdout.count("no damage") == 1


def test_repair_names_an_acknowledged_filled_record_that_was_cut(world):
    world.journal.write_bytes(world.journal.read_bytes()[:-37])
    result = repair_journal(world.journal, actor="ops")
    assert [(r["client_order_id"], r["status"]) for r in result.acknowledged] == [("order-2", "FILLED")]
    assert "order-2 FILLED ACKNOWLEDGED" in result.one_line()


def test_repair_of_a_wholly_cut_record_names_it_from_the_head_witness(world):
    data = world.journal.read_bytes()
    world.journal.write_bytes(_cut_last_record(data))
    result = repair_journal(world.journal, actor="ops")
    assert result.cut_bytes == 0 and result.quarantine is None
    assert [(r["client_order_id"], r["status"]) for r in result.acknowledged] == [("order-2", "FILLED")]


def test_repair_refuses_while_the_journal_is_open(world):
    with Journal(world.journal) as journal:
        journal.open()
        with pytest.raises(JournalLocked):
            repair_journal(world.journal)


def test_a_clean_journal_is_left_alone_by_the_repair(world):
    before = world.journal.read_bytes()
    proc = world.cli("--repair-journal")
    assert proc.returncode == 0 and "no damage, nothing to repair" in proc.stdout
    assert world.journal.read_bytes() == before
