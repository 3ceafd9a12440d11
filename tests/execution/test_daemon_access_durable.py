"""The access-log line of an order is on disk before any venue outside the daemon sees the order, and
before its reply.

SubmitOrder's allow line is made durable by the order journal's group commit (docs/daemon.md
"Durability"), not by an fsync of its own; this checks the guarantee that replaced. Every fdatasync of the
access log notes the file size it covers (taken before the call: bytes written during the call may not be
covered); at every venue submission and at every acknowledgement, the covered prefix must already hold a
SubmitOrder line for each order the venue has seen / the client has been told about. An in-process
(paper) venue gets the order before the one commit that makes its NEW, its fills and its access line
durable together: there only the reply is checked.
"""

from __future__ import annotations

import os
import threading

import pytest

from execution.daemon import access
from execution.daemon.devkit import Deployment
from execution.drills.dry_run import LOOSE
from execution.proto.gen import oem_daemon_v1_pb2 as pb
from tests.execution.daemon_world import World

IN_FLIGHT = 32
ORDERS = 200
SUBMIT_LINE = b'"method":"/oem.daemon.v1.OemDaemon/SubmitOrder"'


@pytest.mark.parametrize("outside", [True, False], ids=["venue-outside-the-daemon", "in-process-venue"])
def test_order_access_lines_are_durable_before_the_venue_and_the_reply(tmp_path, monkeypatch, outside):
    world = World(Deployment.create(tmp_path, operators=("alice",)))
    daemon = world.start(tick_s=3600, risk_limits=LOOSE)  # risk never interferes
    if outside:  # the paper venue stands in for an exchange: the router treats it as one
        for venue in daemon.core.routers["paper"].venues.values():
            venue.in_process = False
    log_path = daemon.access_log.path
    access_fd = daemon.access_log._fd
    covered = [0]
    real_fdatasync = os.fdatasync

    def fdatasync(fd: int) -> None:
        size = os.fstat(fd).st_size if fd == access_fd else 0
        real_fdatasync(fd)
        if fd == access_fd:
            covered[0] = max(covered[0], size)

    monkeypatch.setattr(access.os, "fdatasync", fdatasync)

    def durable_submit_lines() -> int:
        with open(log_path, "rb") as fh:
            return fh.read(covered[0]).count(SUBMIT_LINE)

    problems: list[str] = []
    venue = daemon.core.routers["paper"].venues["paper"]
    real_submit = venue.submit
    seen = [0]
    seen_lock = threading.Lock()

    def submit(order):
        with seen_lock:
            seen[0] += 1
            need = seen[0]
        have = durable_submit_lines()
        if outside and have < need:
            problems.append(f"venue saw order {need} with {have} durable SubmitOrder lines")
        return real_submit(order)

    venue.submit = submit
    try:
        stub = world.stub(daemon.port)
        md = world.md()
        for i in range(20):  # one at a time
            reply = world.submit(stub, f"seq-{i}", qty=0.01)
            assert reply.accepted and reply.status == "FILLED", reply
            have = durable_submit_lines()
            assert have >= i + 1, f"order {i} acknowledged with {have} durable SubmitOrder lines"

        acked = [20]
        lock = threading.Lock()
        slots = threading.Semaphore(IN_FLIGHT)
        done = threading.Event()
        remaining = [ORDERS]

        def finished(future) -> None:
            slots.release()
            if future.exception() is None and future.result().accepted:
                with lock:
                    acked[0] += 1
                    need = acked[0]
                have = durable_submit_lines()
                if have < need:
                    problems.append(f"{need} orders acknowledged with {have} durable SubmitOrder lines")
            else:
                problems.append(f"order failed: {future.exception() or future.result()}")
            with lock:
                remaining[0] -= 1
                if remaining[0] == 0:
                    done.set()

        for i in range(ORDERS):
            slots.acquire()
            request = pb.SubmitOrderRequest(
                client_order_id=f"par-{i}", symbol="ETH/BTC", side="buy", qty=0.01
            )
            stub.SubmitOrder.future(request, metadata=md, timeout=30).add_done_callback(finished)
        assert done.wait(120)
    finally:
        venue.submit = real_submit
        daemon.stop(0)
    assert not problems, problems[:5]
    assert acked[0] == 20 + ORDERS
    assert seen[0] == 20 + ORDERS


def test_a_refused_order_still_has_a_durable_access_line(tmp_path, monkeypatch):
    """No journal record (bad side): the interceptor makes the line durable itself before the error."""
    world = World(Deployment.create(tmp_path, operators=("alice",)))
    daemon = world.start(tick_s=3600)
    access_fd = daemon.access_log._fd
    covered = [0]
    real_fdatasync = os.fdatasync

    def fdatasync(fd: int) -> None:
        size = os.fstat(fd).st_size if fd == access_fd else 0
        real_fdatasync(fd)
        if fd == access_fd:
            covered[0] = max(covered[0], size)

    monkeypatch.setattr(access.os, "fdatasync", fdatasync)
    try:
        stub = world.stub(daemon.port)
        try:
            world.submit(stub, "bad-1", side="sideways")
        except Exception as exc:  # noqa: BLE001 - grpc.RpcError
            assert "side must be buy or sell" in str(exc)
        else:
            raise AssertionError("a bad side was accepted")
        data = daemon.access_log.path.read_bytes()
        assert data.count(SUBMIT_LINE) == 1
        assert covered[0] == len(data)  # the whole log, the refused order's line included, is on disk
    finally:
        daemon.stop(0)
