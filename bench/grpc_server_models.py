"""The gRPC server model under the daemon: a bare Echo on the synchronous server (a thread pool, as the daemon
runs it) against the same Echo on grpc.aio (one event loop), both behind loopback mTLS (TLS 1.3).

Why it exists: orders/s at 32 in flight is bounded by what a Python gRPC server can answer at all on this
machine. This measures that ceiling for both server models with nothing of the product in the handler (no
token, no access log, no journal), so the choice of model is made on a figure, not on a belief. The client is
the same for both: grpc.aio in this process, `--inflight` calls outstanding; each server runs in a process of
its own. Rounds alternate sync/aio so both see the same machine; the medians are compared.

    .venv/bin/python bench/grpc_server_models.py [--calls 8000] [--rounds 3] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import platform
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import grpc  # noqa: E402

from execution.mtls.bundle import generate_bundle  # noqa: E402
from execution.proto.gen import oem_daemon_v1_pb2 as pb  # noqa: E402
from execution.proto.gen import oem_daemon_v1_pb2_grpc as pb_grpc  # noqa: E402

OPERATOR = "bench"
PAYLOAD = b"x" * 64


class _SyncEcho(pb_grpc.OemDaemonServicer):
    def Echo(self, request, context):  # noqa: N802 - the generated method name
        return pb.EchoReply(payload=request.payload)


class _AioEcho(pb_grpc.OemDaemonServicer):
    async def Echo(self, request, context):  # noqa: N802 - the generated method name
        return pb.EchoReply(payload=request.payload)


def _server_credentials(certs: Path) -> grpc.ServerCredentials:
    return grpc.ssl_server_credentials(
        [((certs / "server.key").read_bytes(), (certs / "server.pem").read_bytes())],
        root_certificates=(certs / "ca.pem").read_bytes(),
        require_client_auth=True,
    )


def _serve(model: str, certs: str, conn) -> None:
    """Child process: one server of `model`, until the parent says stop."""
    credentials = _server_credentials(Path(certs))
    if model == "sync":
        server = grpc.server(ThreadPoolExecutor(max_workers=64))
        pb_grpc.add_OemDaemonServicer_to_server(_SyncEcho(), server)
        conn.send(server.add_secure_port("127.0.0.1:0", credentials))
        server.start()
        conn.recv()
        server.stop(0)
        return

    async def main() -> None:
        server = grpc.aio.server()
        pb_grpc.add_OemDaemonServicer_to_server(_AioEcho(), server)
        port = server.add_secure_port("127.0.0.1:0", credentials)
        await server.start()
        conn.send(port)
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)
        await server.stop(0)

    asyncio.run(main())


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _flood(port: int, certs: Path, calls: int, inflight: int) -> float:
    clients = certs / "clients"
    credentials = grpc.ssl_channel_credentials(
        (certs / "ca.pem").read_bytes(),
        (clients / f"{OPERATOR}.key").read_bytes(),
        (clients / f"{OPERATOR}.pem").read_bytes(),
    )
    async with grpc.aio.secure_channel(f"localhost:{port}", credentials) as channel:
        stub = pb_grpc.OemDaemonStub(channel)
        for _ in range(200):  # warm up: handshake, server threads, caches
            await stub.Echo(pb.EchoRequest(payload=PAYLOAD))
        gate = asyncio.Semaphore(inflight)

        async def one() -> None:
            async with gate:
                reply = await stub.Echo(pb.EchoRequest(payload=PAYLOAD))
                assert reply.payload == PAYLOAD

        t0 = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(calls)))
        return calls / (time.perf_counter() - t0)


def _round(model: str, certs: Path, calls: int, inflight: int) -> tuple[float, float]:
    """(calls/s, server CPU seconds per call) for one server of `model`."""
    ctx = multiprocessing.get_context("spawn")
    conn, child = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(model, str(certs), child), daemon=True)
    proc.start()
    try:
        port = conn.recv()
        cpu0 = _cpu_seconds(proc.pid)
        rate = asyncio.run(_flood(port, certs, calls, inflight))
        cpu = (_cpu_seconds(proc.pid) - cpu0) / calls
    finally:
        conn.send("stop")
        proc.join(10)
    return rate, cpu


def _machine() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor()
    return (
        f"machine: {platform.platform()}; {cpu}; {os.cpu_count()} CPUs; Python {platform.python_version()}; "
        f"grpcio {grpc.__version__}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=8000, help="Echo calls per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per server model, alternating")
    parser.add_argument("--inflight", type=int, default=32)
    parser.add_argument("--quick", action="store_true", help="400 calls, one round each (a smoke run)")
    args = parser.parse_args(argv)
    if args.quick:
        args.calls, args.rounds = 400, 1

    certs = Path(tempfile.mkdtemp(prefix="oem-bench-grpc-")) / "certs"
    generate_bundle(certs, [OPERATOR])
    results: dict[str, list[tuple[float, float]]] = {"sync": [], "aio": []}
    for _ in range(args.rounds):
        for model in results:
            results[model].append(_round(model, certs, args.calls, args.inflight))

    print(_machine())
    print(
        f"Echo over loopback mTLS, bare handler; client grpc.aio in another process, {args.inflight} in "
        f"flight, {args.calls} calls x {args.rounds} rounds per model (alternating)"
    )
    medians = {}
    for model, label in (("sync", "sync server, thread pool of 64"), ("aio", "grpc.aio server")):
        rates = [rate for rate, _ in results[model]]
        cpu = statistics.median(cpu for _, cpu in results[model])
        medians[model] = statistics.median(rates)
        print(
            f"{label:32s} median {medians[model]:8,.0f} calls/s (rounds: "
            f"{', '.join(f'{rate:,.0f}' for rate in rates)}); server CPU {cpu * 1000:.3f} ms per call"
        )
    ratio = medians["aio"] / medians["sync"]
    print(f"ratio: aio/sync calls/s {ratio:.2f} (above 1: grpc.aio answers more; the daemon runs sync)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
