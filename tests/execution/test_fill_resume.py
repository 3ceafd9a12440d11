"""Every fill has a sequence number; StreamFills(since_seq) replays the durable fills after it, then goes
live, with no gap and no duplicate -- also across a SIGKILL of the daemon."""

import os
import re
import signal
import subprocess
import sys
import threading

import pytest

from execution.daemon.fill_log import FillEvent, FillLog
from execution.proto.gen import oem_daemon_v1_pb2 as pb
from tests.execution.daemon_world import REPO, traded_world


def _event(seq, owner="alice", group="paper"):
    return FillEvent(f"c{seq}", "ETH/BTC", "buy", "paper", f"f{seq}", 1.0, 1.0, 0.0, 0.0, owner, seq, group)


def test_fills_that_become_durable_out_of_order_are_published_in_sequence():
    log = FillLog()
    log.attach("paper", floor=0, archive=lambda after, upto: [], history=[])
    log.offer(_event(2))
    log.offer(_event(3))
    assert log.head == 0  # 1 is not durable yet: nothing after it may be told
    log.offer(_event(1))
    assert log.head == 3
    stream = log.stream(0, lambda e: True, lambda: True)
    assert [next(stream).seq for _ in range(3)] == [1, 2, 3]


def test_a_stream_behind_the_snapshot_floor_merges_the_archive_with_memory():
    archived = [_event(1), _event(2, owner="bob"), _event(3)]
    log = FillLog()
    log.attach(
        "paper",
        floor=3,
        archive=lambda after, upto: [e for e in archived if after < e.seq <= upto],
        history=[_event(4), _event(5, owner="bob")],
    )
    log.offer_head(5)
    active = threading.Event()
    active.set()
    stream = log.stream(1, lambda e: e.owner == "alice", active.is_set)
    assert [next(stream).seq for _ in range(2)] == [3, 4]
    log.offer(_event(6))
    assert next(stream).seq == 6


def _start(world):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    argv = [sys.executable, "-m", "execution.daemon", "--data-dir", str(world.dep.data_dir)]
    argv += world.start_argv()
    pipe = subprocess.PIPE
    proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=pipe, stderr=pipe, text=True)
    line = proc.stdout.readline()
    match = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
    if match is None:
        proc.kill()
        pytest.fail(f"daemon did not start: {line} {proc.stderr.read()}")
    return proc, int(match.group(1))


def _kill(proc):
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    proc.stdout.close()
    proc.stderr.close()


def test_stream_fills_since_seq_after_sigkill_delivers_exactly_the_unseen_fills(tmp_path):
    world = traded_world(tmp_path, orders=0)
    proc, port = _start(world)
    try:
        stub = world.stub(port)
        stream = stub.StreamFills(pb.StreamFillsRequest(since_seq=0), metadata=world.md(), timeout=30)
        for n in range(3):
            assert world.submit(stub, f"before-{n}").status == "FILLED"
        seen = [next(stream) for _ in range(2)]  # the client has read two fills, then the daemon dies
        for n in range(4):
            assert world.submit(stub, f"unseen-{n}").status == "FILLED"
    finally:
        _kill(proc)
    stream.cancel()
    last = seen[-1].seq
    proc, port = _start(world)
    try:
        stub = world.stub(port)
        orders = stub.ListOrders(pb.ListOrdersRequest(page_size=500), metadata=world.md(), timeout=5).orders
        unseen = sorted((f.seq, f.fill_id) for o in orders for f in o.fills if f.seq > last)
        assert len(unseen) == 5  # before-2 and the four unseen orders
        resumed = stub.StreamFills(pb.StreamFillsRequest(since_seq=last), metadata=world.md(), timeout=30)
        got = [next(resumed) for _ in range(len(unseen))]
        assert [(f.seq, f.fill_id) for f in got] == unseen
        assert world.submit(stub, "after-restart").status == "FILLED"
        live = next(resumed)  # no duplicate and no gap across the switch from replay to live
        assert live.client_order_id == "after-restart" and live.seq == unseen[-1][0] + 1
        resumed.cancel()
    finally:
        _kill(proc)
    assert [f.seq for f in seen] == [1, 2]
