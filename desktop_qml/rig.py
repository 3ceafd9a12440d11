"""A throwaway daemon and an order generator, each in its own process, for the headless check and
``bench/ui_frames.py``. No Qt.

On an operator's machine the daemon is another process; running it (or the order load) inside the client's
interpreter would make the client's GUI thread wait for the GIL and measure that instead of the client. So:

- ``DaemonProcess`` spawns ``execution.drills.harness.local_daemon`` (paper mode, its own key ring, signed
  config copy, mTLS bundle; the dry run's loose risk limits; no fsync: it is thrown away) and hands back the
  port, the operator's certificate files and tokens;
- ``run_load`` spawns a generator that sends market orders (each fills once on the paper venue) at a given
  rate from several connections of the same operator, so every fill reaches the client's own fill stream,
  while the caller keeps its event loop running.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Callable
from pathlib import Path

OPERATOR = "ui-operator"
SYMBOL = "ETH/BTC"


def _serve(root: str, conn) -> None:
    from execution.drills.dry_run import LOOSE
    from execution.drills.harness import local_daemon

    with local_daemon(
        Path(root),
        "ui-rig",
        mode="paper",
        operators=(OPERATOR,),
        risk_limits=LOOSE,
        journal_sync=False,
        access_sync=False,
        workers=64,
    ) as ld:
        dep = ld.deployment
        ca, key, cert = dep.client_files(OPERATOR)
        conn.send(
            {
                "port": ld.daemon.port,
                "ca": ca,
                "key": key,
                "cert": cert,
                "client_token": dep.token(OPERATOR, ["operator", "admin"]),
                "load_token": dep.token(OPERATOR, ["operator"]),
                "data_dir": str(ld.daemon.options.data_dir),
            }
        )
        try:
            conn.recv()  # stop
        except EOFError:  # the parent died: stop as well, quietly
            pass


def _generate(info: dict, rate: float, seconds: float, threads: int, conn) -> None:
    import grpc

    from execution.proto.gen import oem_daemon_v1_pb2 as pb
    from execution.proto.gen import oem_daemon_v1_pb2_grpc as pb_grpc

    creds = grpc.ssl_channel_credentials(info["ca"], info["key"], info["cert"])
    metadata = [("authorization", f"Bearer {info['load_token']}")]
    counts = {"sent": 0, "accepted": 0, "errors": 0}
    lock = threading.Lock()
    conn.send("ready")
    conn.recv()  # go
    start = time.perf_counter()
    per_thread = rate / threads

    def run(k: int) -> None:
        channel = grpc.secure_channel(f"localhost:{info['port']}", creds)
        stub = pb_grpc.OemDaemonStub(channel)
        n = 0
        while n / per_thread < seconds:
            pause = start + n / per_thread - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            side = "buy" if n % 2 == 0 else "sell"
            request = pb.SubmitOrderRequest(
                client_order_id=f"u{k}-{n:07d}", symbol=SYMBOL, side=side, qty=0.01
            )
            n += 1
            try:
                ok = stub.SubmitOrder(request, metadata=metadata, timeout=5).accepted
                with lock:
                    counts["sent"] += 1
                    counts["accepted"] += ok
            except grpc.RpcError:
                with lock:
                    counts["errors"] += 1
        channel.close()

    workers = [threading.Thread(target=run, args=(k,)) for k in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    counts["seconds"] = time.perf_counter() - start
    conn.send(counts)


class DaemonProcess:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._ctx = multiprocessing.get_context("spawn")
        self.info: dict = {}
        self._conn = None
        self._proc = None

    def __enter__(self) -> DaemonProcess:
        self._conn, child = self._ctx.Pipe()
        self._proc = self._ctx.Process(target=_serve, args=(str(self.root), child), daemon=True)
        self._proc.start()
        if not self._conn.poll(60):
            raise RuntimeError("the throwaway daemon did not start within 60 s")
        self.info = self._conn.recv()
        return self

    @property
    def target(self) -> str:
        return f"localhost:{self.info['port']}"

    def stub(self, role_set: str = "client"):
        """(stub, metadata, channel) as the operator: ``role_set`` "client" (operator + admin) or "load"."""
        import grpc

        from execution.proto.gen import oem_daemon_v1_pb2_grpc as pb_grpc

        creds = grpc.ssl_channel_credentials(self.info["ca"], self.info["key"], self.info["cert"])
        channel = grpc.secure_channel(self.target, creds)
        metadata = [("authorization", f"Bearer {self.info[role_set + '_token']}")]
        return pb_grpc.OemDaemonStub(channel), metadata, channel

    def run_load(self, rate: float, seconds: float, pump: Callable[[float], None], threads: int = 16) -> dict:
        """Orders at ``rate``/s for ``seconds`` from a child process; ``pump(s)`` runs the caller's event loop
        meanwhile. Returns sent / accepted / errors / seconds."""
        conn, child = self._ctx.Pipe()
        gen = self._ctx.Process(
            target=_generate, args=(self.info, rate, seconds, threads, child), daemon=True
        )
        gen.start()
        while not conn.poll():  # the generator's interpreter starts while the caller keeps rendering
            pump(0.05)
        conn.recv()
        conn.send("go")
        while not conn.poll():
            pump(0.05)
        counts = conn.recv()
        gen.join(10)
        return counts

    def __exit__(self, *exc) -> None:
        if self._proc is not None:
            try:
                self._conn.send("stop")
            except (OSError, BrokenPipeError):
                pass
            self._proc.join(15)
            if self._proc.is_alive():
                self._proc.terminate()
                self._proc.join(5)
