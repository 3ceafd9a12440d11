"""The desktop session resumes StreamFills from the last fill it saw after the daemon restarts: the fills
made while it was away arrive once, none twice."""

import threading
import time

from desktop_qml.profile import Profile
from desktop_qml.session import Backoff, Session
from tests.execution.daemon_world import traded_world


def _profile(world, port: int) -> Profile:
    ca, key, cert = world.dep.client_files("alice")
    return Profile(f"localhost:{port}", ca, cert, key, world.dep.token("alice", ["operator"]))


def _wait(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_session_resumes_fills_from_its_last_seq_after_a_daemon_restart(tmp_path):
    world = traded_world(tmp_path, orders=1)  # one fill before the session: not replayed to it
    daemon = world.start()
    port = daemon.port
    fills, lock = [], threading.Lock()

    def sink(kind, payload):
        if kind == "fill":
            with lock:
                fills.append((payload.seq, payload.client_order_id))

    session = Session(_profile(world, port), sink, poll_s=0.2, backoff=Backoff(0.1, 2.0, 0.3)).start()
    try:
        assert _wait(lambda: session.last_fill_seq is not None and session.client is not None)
        time.sleep(0.3)  # the fill stream is subscribed
        stub = world.stub(port)
        world.submit(stub, "while-connected")
        assert _wait(lambda: len(fills) == 1)
        daemon.stop(0)
        # the session cannot reach its port: these fills are made by a daemon on another port
        elsewhere = world.start()
        try:
            other = world.stub(elsewhere.port)
            for n in range(3):
                world.submit(other, f"while-away-{n}")
        finally:
            elsewhere.stop(0)
        assert len(fills) == 1
        daemon = world.start(listen=f"127.0.0.1:{port}")
        assert _wait(lambda: len(fills) == 4), fills
        time.sleep(0.5)
    finally:
        session.stop()
        daemon.stop(0)
    assert [seq for seq, _ in fills] == [2, 3, 4, 5]
    assert [cid for _, cid in fills] == ["while-connected", "while-away-0", "while-away-1", "while-away-2"]
