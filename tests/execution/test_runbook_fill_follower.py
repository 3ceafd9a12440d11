"""The dry run's fill reader resumes StreamFills from the last seq it saw when the stream breaks."""

import time

from execution.drills.dry_run import FillFollower
from execution.proto.gen import oem_daemon_v1_pb2 as pb
from tests.execution.daemon_world import traded_world


def _wait(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not predicate():
        time.sleep(0.05)
    return predicate()


def test_fill_follower_resumes_after_a_dropped_stream_without_gap_or_duplicate(tmp_path):
    world = traded_world(tmp_path, orders=0)
    daemon = world.start()
    stub = world.stub(daemon.port)
    md = world.md()
    follower = FillFollower(
        lambda since: stub.StreamFills(pb.StreamFillsRequest(since_seq=since), metadata=md), "test-fills"
    )
    try:
        for n in range(2):
            world.submit(stub, f"first-{n}")
        assert _wait(lambda: len(follower.snapshot()) == 2)
        follower.call.cancel()  # the connection drops
        for n in range(3):
            world.submit(stub, f"second-{n}")
        assert _wait(lambda: len(follower.snapshot()) == 5)
    finally:
        follower.close()
        daemon.stop(0)
    assert [f.seq for f in follower.snapshot()] == [1, 2, 3, 4, 5]
    assert follower.resumes >= 1 and not follower.error
