"""Order round trip over the real daemon: Echo (baseline) vs SubmitOrder -> ack, throughput, failover.

One in-process daemon in paper mode (two paper venues: ``paper`` primary, ``paper_b`` backup), reached over
loopback mTLS (TLS 1.3) with an RBAC token, exactly as an operator client would. Prints the machine, p50/p99
of both RPCs and their ratios (goals: p50 <= 1.5x, p99 <= 2x Echo), orders/s with 32 in flight (goal >= 2000),
the CPU the daemon and the client spend per order and per Echo at 32 in flight (Echo's rate there is the
server's own ceiling), and the failover time after the primary venue goes down (several rounds: p50 and max,
goal: their p50 <= retry back-off + 5 ms; the max is printed beside it).

`--daemon-cpus 1` pins the daemon to one core as `python -m execution.daemon --cpus 1` does (docs/daemon.md
"Pinning the daemon").

    .venv/bin/python bench/order_roundtrip.py [--n 2000] [--no-fsync] [--daemon-cpus LIST]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("OEM_KDF_COST", "test")

import grpc  # noqa: E402
import yaml  # noqa: E402

from audit.trust import paths as trust_paths  # noqa: E402
from audit.trust.keyring import KeyRing  # noqa: E402
from execution.daemon.cpus import CpuListError, parse_cpu_list, pin_process  # noqa: E402
from execution.daemon.devkit import Deployment  # noqa: E402
from execution.daemon.license_hook import LicenseCheck  # noqa: E402
from execution.daemon.server import Daemon, DaemonOptions  # noqa: E402
from execution.drills.dry_run import LOOSE  # noqa: E402 - the dry run's limits: risk never interferes
from execution.proto.gen import oem_daemon_v1_pb2 as pb  # noqa: E402
from execution.proto.gen import oem_daemon_v1_pb2_grpc as pb_grpc  # noqa: E402


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _fdatasync_cost(directory: Path, n: int = 200) -> float:
    """p50 of one small O_APPEND write + fdatasync on this disk: the unit cost of a journal/audit append."""
    path = directory / "fsync_probe.bin"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    costs = []
    try:
        for _ in range(n):
            t0 = time.perf_counter()
            os.write(fd, b"x" * 400 + b"\n")
            os.fdatasync(fd)
            costs.append(time.perf_counter() - t0)
    finally:
        os.close(fd)
        path.unlink()
    return _pct(costs, 0.5)


def _config(root: Path) -> Path:
    config = yaml.safe_load(trust_paths.DEFAULT_CONFIG_PATH.read_text())
    config["venues"]["paper_b"] = {"kind": "paper", "timeout_ms": 500}
    for name in ("demo", "paper"):
        config["profiles"][name]["venues"] = ["paper", "paper_b"]
    config["routing"] = {"default": ["paper", "paper_b"]}
    path = root / "bench_core.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _options(dep: Deployment, no_fsync: bool) -> DaemonOptions:
    return DaemonOptions(
        config_path=dep.config_path,
        mode="paper",
        data_dir=dep.data_dir,
        certs_dir=dep.certs_dir,
        license_checker=lambda stage: LicenseCheck(False, "not needed in paper mode"),
        journal_sync=not no_fsync,
        access_sync=not no_fsync,
        risk_limits=LOOSE,
        gate_poll_s=60,
        tick_s=3600,
        workers=64,
        paper_needs_demo_exit=False,  # a throw-away deployment: no decision logs
    )


def _serve(root: str, no_fsync: bool, cpus: frozenset[int] | None, conn) -> None:
    """Child process: the daemon gets its own interpreter (and GIL), as in production; with `cpus`, pinned
    as `python -m execution.daemon --cpus` pins it."""
    if cpus:
        pin_process(cpus)
    dep = Deployment(
        Path(root),
        Path(root) / "var",
        Path(root) / "var" / "certs",
        Path(root) / "config" / "core.yaml",
        KeyRing.load(Path(root) / "var"),
    )
    daemon = Daemon(_options(dep, no_fsync)).start()
    conn.send(daemon.port)
    while True:
        command = conn.recv()
        if command == "down":
            daemon.core.routers["paper"].venues["paper"].faults.down = True
            conn.send("ok")
        elif command == "up":
            _primary_back(daemon)
            conn.send("ok")
        elif command == "state":
            router = daemon.core.routers["paper"]
            conn.send((router.retry_backoff_s, str(router.breakers["paper"].state)))
        elif command == "journal":
            journal = daemon.core.journals["paper"]
            conn.send((journal.seq, journal.fsyncs))
        else:
            daemon.stop(0)
            conn.send("stopped")
            return


def _primary_back(daemon: Daemon) -> None:
    """The primary answers again and its circuit is closed, as after a cool-down and a good probe."""
    router = daemon.core.routers["paper"]
    with router._lock:
        router.venues["paper"].faults.down = False
        router.breakers["paper"].record_success()


def _task_switches(pid: int) -> int:
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            for line in (task / "status").read_text().splitlines():
                if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                    total += int(line.split()[1])
        except OSError:
            pass  # a thread that ended meanwhile
    return total


class _Remote:
    def __init__(self, root: Path, no_fsync: bool, cpus: frozenset[int] | None) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(str(root), no_fsync, cpus, child), daemon=True)
        self.proc.start()
        self.port = self.conn.recv()

    def primary_down(self) -> None:
        self.conn.send("down")
        self.conn.recv()

    def primary_up(self) -> None:
        self.conn.send("up")
        self.conn.recv()

    def router_state(self) -> tuple[float, str]:
        self.conn.send("state")
        return self.conn.recv()

    def journal_counts(self) -> tuple[int, int]:
        self.conn.send("journal")
        return self.conn.recv()

    def switches(self) -> int:
        """Context switches of the daemon's threads so far (voluntary and not): the hand-offs a call costs."""
        return _task_switches(self.proc.pid)

    def cpu_seconds(self) -> float:
        """User + system CPU the daemon's process has used (every thread: Python, gRPC core, kernel)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.conn.send("stop")
        self.conn.recv()
        self.proc.join(10)


class _Local:
    def __init__(self, dep: Deployment, no_fsync: bool) -> None:
        self.daemon = Daemon(_options(dep, no_fsync)).start()
        self.port = self.daemon.port

    def primary_down(self) -> None:
        self.daemon.core.routers["paper"].venues["paper"].faults.down = True

    def primary_up(self) -> None:
        _primary_back(self.daemon)

    def router_state(self) -> tuple[float, str]:
        router = self.daemon.core.routers["paper"]
        return router.retry_backoff_s, str(router.breakers["paper"].state)

    def journal_counts(self) -> tuple[int, int]:
        journal = self.daemon.core.journals["paper"]
        return journal.seq, journal.fsyncs

    def switches(self) -> int:
        return _task_switches(os.getpid())

    def cpu_seconds(self) -> float:
        return sum(os.times()[:2])

    def stop(self) -> None:
        self.daemon.stop(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000, help="sequential calls per RPC for latency")
    parser.add_argument("--throughput-orders", type=int, default=4000)
    parser.add_argument("--inflight", type=int, default=32)
    parser.add_argument("--failover-rounds", type=int, default=9)
    parser.add_argument("--no-fsync", action="store_true", help="journal and access log without fsync")
    parser.add_argument(
        "--in-process", action="store_true", help="daemon in the client's process (shared GIL)"
    )
    parser.add_argument(
        "--daemon-cpus", default=None, help="pin the daemon to these cores, as its --cpus does (e.g. 1)"
    )
    parser.add_argument("--quick", action="store_true", help="200 calls per RPC, 400 orders (a smoke run)")
    args = parser.parse_args(argv)
    cpus = None
    if args.daemon_cpus is not None:
        try:
            cpus = parse_cpu_list(args.daemon_cpus)
        except CpuListError as exc:
            parser.error(f"--daemon-cpus: {exc}")
        if args.in_process:
            parser.error("--daemon-cpus pins a separate daemon process; not with --in-process")
    if args.quick:
        args.n, args.throughput_orders, args.failover_rounds = 200, 400, 3

    root = Path(tempfile.mkdtemp(prefix="oem-bench-"))
    dep = Deployment.create(root, operators=("bench",), source_config=_config(root))
    daemon = _Local(dep, args.no_fsync) if args.in_process else _Remote(root, args.no_fsync, cpus)
    stub = pb_grpc.OemDaemonStub(dep.channel(daemon.port, "bench"))
    md = [("authorization", f"Bearer {dep.token('bench', ['operator'])}")]
    counter = iter(range(10**9))

    def order() -> pb.SubmitOrderRequest:
        return pb.SubmitOrderRequest(
            client_order_id=f"b-{next(counter)}", symbol="ETH/BTC", side="buy", qty=0.01
        )

    try:
        for _ in range(200):  # warm up: connection, caches, JIT-free paths
            stub.Echo(pb.EchoRequest(payload=b"x" * 64), metadata=md)
            stub.SubmitOrder(order(), metadata=md)
        echo, submit = [], []
        for _ in range(args.n):  # interleaved, so both see the same machine state
            t0 = time.perf_counter()
            stub.Echo(pb.EchoRequest(payload=b"x" * 64), metadata=md)
            t1 = time.perf_counter()
            reply = stub.SubmitOrder(order(), metadata=md)
            t2 = time.perf_counter()
            assert reply.accepted, reply
            echo.append(t1 - t0)
            submit.append(t2 - t1)

        # throughput: N calls with `inflight` outstanding futures; Echo first (the server's own ceiling)
        def flood(call, make, count: int) -> tuple[float, int, float, float, float]:
            sem = threading.Semaphore(args.inflight)
            done = threading.Event()
            remaining = [count]
            lock = threading.Lock()
            failures = [0]

            def finished(future) -> None:
                sem.release()
                if future.exception() is not None or not getattr(future.result(), "accepted", True):
                    failures[0] += 1
                with lock:
                    remaining[0] -= 1
                    if remaining[0] == 0:
                        done.set()

            cpu0, client0, switches0 = daemon.cpu_seconds(), sum(os.times()[:2]), daemon.switches()
            t0 = time.perf_counter()
            for _ in range(count):
                sem.acquire()
                call.future(make(), metadata=md).add_done_callback(finished)
            done.wait(300)
            elapsed = time.perf_counter() - t0
            cpu = (daemon.cpu_seconds() - cpu0) / count
            client = (sum(os.times()[:2]) - client0) / count
            switches = (daemon.switches() - switches0) / count
            return count / elapsed, failures[0], cpu, client, switches

        echo_rate, _, echo_cpu, echo_client, echo_switches = flood(
            stub.Echo, lambda: pb.EchoRequest(payload=b"x" * 64), args.throughput_orders
        )
        records0, fsyncs0 = daemon.journal_counts()
        rate, failed, order_cpu, order_client, order_switches = flood(
            stub.SubmitOrder, order, args.throughput_orders
        )
        records1, fsyncs1 = daemon.journal_counts()

        # failover, several times: the primary goes down; time from that moment to the first fill at the
        # backup. Between rounds the primary comes back (circuit closed) and takes orders again.
        failovers = []
        for round_ in range(args.failover_rounds):
            if round_:
                daemon.primary_up()
                for _ in range(20):
                    reply = stub.SubmitOrder(order(), metadata=md)
                assert reply.venue == "paper", reply
            t0 = time.perf_counter()
            daemon.primary_down()
            reply = stub.SubmitOrder(order(), metadata=md)
            failovers.append(time.perf_counter() - t0)
            assert reply.venue == "paper_b" and reply.status == "FILLED", reply
        after = []
        for _ in range(50):
            t1 = time.perf_counter()
            stub.SubmitOrder(order(), metadata=md)
            after.append(time.perf_counter() - t1)
        backoff_s, circuit = daemon.router_state()
    finally:
        daemon.stop()

    cpu = ""
    try:
        cpu = next(
            line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")
        )
    except (OSError, StopIteration):
        cpu = platform.processor()
    p50e, p99e, p50s, p99s = _pct(echo, 0.5), _pct(echo, 0.99), _pct(submit, 0.5), _pct(submit, 0.99)
    ms = 1000.0
    print(
        f"machine: {platform.platform()}; {cpu}; {os.cpu_count()} CPUs; Python {platform.python_version()}; "
        f"grpcio {grpc.__version__}"
    )
    print(
        f"daemon: {'in the client process' if args.in_process else 'separate process'}; "
        f"mTLS TLS 1.3 + token; {f'pinned to CPU {args.daemon_cpus}' if cpus else 'not pinned (any core)'}"
    )
    print(
        f"durability: journal+access-log fsync {'OFF' if args.no_fsync else 'ON'}; data dir {dep.data_dir}; "
        f"one append+fdatasync here p50 {_fdatasync_cost(dep.data_dir) * ms:.3f} ms "
        "(SubmitOrder to the in-process paper venues: 1 journal commit for NEW and its fill, after its "
        "access-log line's fsync; journal fsyncs shared by concurrent orders (group commit, router lock "
        "released while syncing); Echo: 1 access-log fsync)"
    )
    print(
        f"Echo         n={len(echo)}  p50 {p50e * ms:.3f} ms  p99 {p99e * ms:.3f} ms  mean "
        f"{statistics.fmean(echo) * ms:.3f} ms"
    )
    print(
        f"SubmitOrder  n={len(submit)}  p50 {p50s * ms:.3f} ms  p99 {p99s * ms:.3f} ms  mean "
        f"{statistics.fmean(submit) * ms:.3f} ms"
    )
    p50_ratio, p99_ratio = p50s / p50e, p99s / p99e
    p50_verdict = "met" if p50_ratio <= 1.5 else "NOT met"
    p99_verdict = "met" if p99_ratio <= 2 else "NOT met"
    print(f"ratio: SubmitOrder/Echo p50 {p50_ratio:.2f}x (goal <= 1.5x: {p50_verdict})")
    print(f"ratio: SubmitOrder/Echo p99 {p99_ratio:.2f}x (goal <= 2x: {p99_verdict})")
    print(
        f"throughput: {rate:,.0f} orders/s with {args.inflight} in flight "
        f"({args.throughput_orders} orders, {failed} failed; goal >= 2,000); journal "
        f"{records1 - records0} records in {fsyncs1 - fsyncs0} fsyncs"
        f" ({(records1 - records0) / max(1, fsyncs1 - fsyncs0):.1f} records/fsync)"
    )
    print(
        f"cpu at {args.inflight} in flight: daemon {order_cpu * ms:.3f} ms per order, "
        f"{echo_cpu * ms:.3f} ms per Echo (Echo {echo_rate:,.0f}/s); client {order_client * ms:.3f} ms per "
        f"order, {echo_client * ms:.3f} ms per Echo"
        + (" (one process: daemon and client columns both count everything)" if args.in_process else "")
    )
    print(
        f"context switches at {args.inflight} in flight: daemon {order_switches:.1f} per order, "
        f"{echo_switches:.1f} per Echo (thread hand-offs: gRPC's pool, GIL, durable waits)"
        + (" (one process: the client's count too)" if args.in_process else "")
    )
    failover_p50, failover_max = statistics.median(failovers), max(failovers)
    failover_goal = backoff_s + 0.005
    print(
        f"failover: primary down -> filled at backup, {len(failovers)} times: p50 "
        f"{failover_p50 * ms:.1f} ms, max {failover_max * ms:.1f} ms (retry back-off {backoff_s * ms:.0f} ms "
        f"+ fallback; goal p50 <= back-off + 5 ms = {failover_goal * ms:.0f} ms: "
        f"{'met' if failover_p50 <= failover_goal else 'NOT met'}); "
        f"next orders p50 {_pct(after, 0.5) * ms:.3f} ms (primary circuit {circuit})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
