"""A throw-away deployment with a daemon that trades, shared by the journal damage / query / resume tests."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from execution.daemon.devkit import Deployment
from execution.daemon.license_hook import LicenseCheck
from execution.daemon.server import Daemon, DaemonOptions
from execution.proto.gen import oem_daemon_v1_pb2 as pb
from execution.proto.gen import oem_daemon_v1_pb2_grpc as pb_grpc

REPO = Path(__file__).resolve().parents[2]


def options(dep: Deployment, **kw) -> DaemonOptions:
    base = dict(
        config_path=dep.config_path,
        mode="paper",
        data_dir=dep.data_dir,
        certs_dir=dep.certs_dir,
        license_checker=lambda stage: LicenseCheck(True, "stub"),
        gate_poll_s=60,
        tick_s=0.1,
        paper_needs_demo_exit=False,
    )
    base.update(kw)
    return DaemonOptions(**base)


@dataclass
class World:
    dep: Deployment

    @property
    def journal(self) -> Path:
        return self.dep.data_dir / "journal" / "paper.jsonl"

    def start(self, **kw) -> Daemon:
        return Daemon(options(self.dep, **kw)).start()

    def stub(self, daemon_port: int, who: str = "alice"):
        return pb_grpc.OemDaemonStub(self.dep.channel(daemon_port, who))

    def md(self, who: str = "alice", roles=("operator",)):
        return [("authorization", f"Bearer {self.dep.token(who, list(roles))}")]

    def submit(self, stub, cid: str, who: str = "alice", **kw) -> pb.OrderReply:
        fields = dict(client_order_id=cid, symbol="ETH/BTC", side="buy", qty=0.5)
        fields.update(kw)
        return stub.SubmitOrder(pb.SubmitOrderRequest(**fields), metadata=self.md(who), timeout=10)

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        env = {**os.environ, "PYTHONPATH": str(REPO), "OEM_DATA_DIR": str(self.dep.data_dir)}
        argv = [sys.executable, "-m", "execution.daemon", "--data-dir", str(self.dep.data_dir), *args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO)

    def start_argv(self) -> list[str]:
        return [
            "--config",
            str(self.dep.config_path),
            "--mode",
            "demo",
            "--certs",
            str(self.dep.certs_dir),
            "--listen",
            "127.0.0.1:0",
        ]


def traded_world(root: Path, orders: int = 3) -> World:
    """A deployment whose paper journal holds ``orders`` filled market orders of alice."""
    world = World(Deployment.create(root, operators=("alice", "bob", "root-admin")))
    daemon = world.start()
    try:
        stub = world.stub(daemon.port)
        for n in range(orders):
            reply = world.submit(stub, f"order-{n}")
            assert reply.status == "FILLED", reply
    finally:
        daemon.stop(0)
    return world
