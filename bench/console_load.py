"""Console under load: a year's volume, the production server, concurrent sessions on every list page.

    .venv/bin/python bench/console_load.py [--quick] [--users 20] [--seconds 30] [--workers 3]

Builds the volume in a throw-away data dir with the product's own code: `seed_demo` (installation, users,
signer keys), decision entries signed by the demo signers' keys with the decision-log signing input and a
co-signed checkpoint (the verify_decision_log bench's fast path: appending 100,000 entries one by one would
take hours), audit events through `audit_event_record`, jobs through `job_create`, lab runs through
`lab_run_start`. Then starts gunicorn (`oemconsole.wsgi`, its own SQLite database, an ephemeral port) and,
logged in as compliance, runs N concurrent sessions for S seconds per page, printing p50/p95/p99 and
requests/s per page; then the single-request time of the decisions and gate pages of a deployment with
the small log and one with the large log (1,000 vs 100,000 entries; --quick: 100 vs 1,000), whose ratio
should be ~1 (a view costs what was appended, not the log). Prints the machine and a `ratio:` line.
"""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PASSWORD = "bench-demo-password"  # noqa: S105 - a throw-away installation's password

FULL = {"entries": 10_000, "small": 1_000, "large": 100_000, "events": 14_000, "jobs": 2_000, "runs": 30}
QUICK = {"entries": 200, "small": 100, "large": 1_000, "events": 40, "jobs": 20, "runs": 1}


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.platform()} | {cpu} | cpus={os.cpu_count()} | Python {platform.python_version()}"


def environment(data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "oemconsole.settings",
        "OEM_DATA_DIR": str(data_dir),
        "OEM_WITNESS_DIR": str(data_dir.parent / "witness"),
        "DATABASE_URL": "",
        "CELERY_BROKER_URL": "filesystem://",
        "OEM_ENV": "development",
        "DEBUG": "false",
        "OEM_DEMO_PASSWORD": PASSWORD,
        # A throw-away installation: scrypt at its lowest cost (key unlocking is not what is measured).
        "OEM_KDF_COST": "10",
    }


def write_log(deployment, count: int) -> None:
    """`count` demo_ready entries signed by the demo owner and compliance keys, chained and checkpointed."""
    from django.conf import settings

    from audit.trust.canonical import canonical_bytes
    from audit.trust.decision_log import build_entry, sign_entry
    from audit.trust.decision_rules import (
        checkpoint_document,
        genesis_hash,
        line_hash,
        sign_checkpoint,
        signing_context,
        witness_key,
    )
    from audit.trust.fsutil import atomic_write_bytes
    from audit.trust.keyring import KeyRing, utc_now
    from audit.trust.paths import checkpoint_path, decision_log_path
    from audit.trust.witness import Mark, witness_for

    ring = KeyRing.load(settings.OEM_DATA_DIR)
    base = deployment.evidence_dir
    context = signing_context(ring, base)
    signers = {
        "owner": ring.signer_for("product_owner", PASSWORD, role="owner"),
        "compliance": ring.signer_for("compliance", PASSWORD, role="compliance"),
    }
    log_path = decision_log_path("demo", base)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    flags = {"StrategyContext.require_demo_mode": True, "runtime.compliance_confirmed": False}
    start, prev = utc_now() + timedelta(milliseconds=5), genesis_hash("demo")
    witness_for(ring.installation.data_dir).begin(
        witness_key("demo", context), Mark(0, prev), label=str(log_path)
    )
    with open(log_path, "wb") as handle:
        for seq in range(1, count + 1):
            entry = build_entry(
                seq=seq,
                prev_hash=prev,
                stage="demo",
                status="demo_ready",
                artefacts={"smoke_run_id": f"run-{seq}"},
                runtime_flags=flags,
                timestamp=start + timedelta(microseconds=seq),
            )
            signed = sign_entry(entry, "demo", signers, context=context)
            line = canonical_bytes(signed)
            handle.write(line + b"\n")
            prev = line_hash(line)
    last = {k: v for k, v in signed.items() if k != "signatures"}
    checkpoint = checkpoint_document(
        signed, "demo", context, sign_checkpoint(last, "demo", signers, context=context)
    )
    atomic_write_bytes(checkpoint_path(log_path), canonical_bytes(checkpoint) + b"\n")


def build(data_dir: Path, sizes: dict) -> dict:
    """The volume, through the product's services; returns ids, the session cookie and the build time."""
    import django

    os.environ.update(environment(data_dir))
    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    from audit.evidence import deployment_evidence
    from audit.models import Deployment
    from audit.services import audit_event_record, deployment_assign_user, deployment_create
    from jobs.services import job_create
    from risklab.engine.lab import plan_tasks
    from risklab.services import lab_run_start

    phases: dict[str, float] = {}
    t0 = mark = time.perf_counter()

    def phase(name: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        phases[name] = now - mark
        mark = now

    call_command("migrate", verbosity=0)
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    phase("seed")
    compliance = get_user_model().objects.get(username="compliance")
    main = Deployment.objects.get(name="demo-deployment")
    small = deployment_create(name="scale-small", customer="Bench")
    large = deployment_create(name="scale-large", customer="Bench")
    for deployment in (small, large):
        deployment_assign_user(deployment=deployment, user=compliance)
    for deployment, count in ((main, sizes["entries"]), (small, sizes["small"]), (large, sizes["large"])):
        write_log(deployment, count)
    phase("decision logs")
    for n in range(sizes["events"]):
        audit_event_record(action="bench.event", actor=compliance, deployment=main, detail={"n": n})
    phase("audit events")
    for _ in range(sizes["jobs"]):
        job_create(actor=compliance, kind="hash_artefact", params={"path": "missing"}, deployment=main)
    phase("jobs")
    plan = plan_tasks(profiles=["conservative"], strategies="all", scenarios=["flash_crash"])
    for _ in range(sizes["runs"]):
        lab_run_start(actor=compliance, plan=plan, deployment=main)
    phase("lab runs")
    built = time.perf_counter() - t0
    warm = {}
    for deployment in (main, small, large):  # the first strict verification of each log, recorded
        t1 = time.perf_counter()
        state = deployment_evidence(deployment)
        assert state.report.ok, [str(p) for p in state.report.problems[:3]]
        warm[deployment.name] = time.perf_counter() - t1
    client = Client()
    client.force_login(compliance)
    return {
        "main": main.pk,
        "small": small.pk,
        "large": large.pk,
        "cookie": f"sessionid={client.cookies['sessionid'].value}",
        "built": built,
        "phases": phases,
        "warm": warm,
    }


class Server:
    """gunicorn on an ephemeral loopback port (the socket is opened here and handed over)."""

    def __init__(self, data_dir: Path, workers: int):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        fd = self.sock.fileno()
        os.set_inheritable(fd, True)
        self.process = subprocess.Popen(
            [
                str(ROOT / ".venv" / "bin" / "gunicorn"),
                "oemconsole.wsgi",
                "--bind",
                f"fd://{fd}",
                "--workers",
                str(workers),
                "--timeout",
                "300",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=environment(data_dir),
            pass_fds=(fd,),
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn exited: {self.process.stderr.read().decode()[-500:]}")
            try:
                status, _ = request(self.port, "/login/", "")
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise SystemExit("gunicorn did not answer /login/ in time")

    def stop(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.sock.close()


def request(port: int, path: str, cookie: str, connection=None) -> tuple[int, float]:
    conn = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    t0 = time.perf_counter()
    conn.request("GET", path, headers={"Cookie": cookie, "Host": "127.0.0.1"})
    response = conn.getresponse()
    response.read()
    elapsed = time.perf_counter() - t0
    if connection is None:
        conn.close()
    return response.status, elapsed


def load(port: int, path: str, cookie: str, users: int, seconds: float) -> dict:
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def session() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        mine, bad = [], 0
        while time.perf_counter() < stop_at:
            try:
                status, elapsed = request(port, path, cookie, conn)
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
                bad += 1
                continue
            mine.append(elapsed)
            bad += status != 200
        conn.close()
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    t0 = time.perf_counter()
    threads = [threading.Thread(target=session) for _ in range(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - t0
    ordered = sorted(latencies) or [float("nan")]

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000

    return {
        "n": len(latencies),
        "p50": pct(0.50),
        "p95": pct(0.95),
        "p99": pct(0.99),
        "rps": len(latencies) / wall,
        "errors": errors[0],
    }


def single(port: int, path: str, cookie: str, rounds: int = 3) -> float:
    times = []
    for _ in range(rounds):
        status, elapsed = request(port, path, cookie)
        assert status == 200, (path, status)
        times.append(elapsed)
    return statistics.median(times) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small volume, 4 users, 0.8 s per page")
    parser.add_argument("--users", type=int, default=None)
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--workers", type=int, default=3)
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    users = args.users or (4 if args.quick else 20)
    seconds = args.seconds or (0.8 if args.quick else 30.0)

    print(f"machine: {machine()}")
    tmp = Path(tempfile.mkdtemp(prefix="oem-console-load-"))
    server = None
    try:
        data_dir = tmp / "var"
        data_dir.mkdir()
        ids = build(data_dir, sizes)
        print(
            f"volume: {sizes['entries']} decision entries (+ {sizes['small']} and {sizes['large']} on two "
            f"more deployments), {sizes['events']} audit events, {sizes['jobs']} jobs, {sizes['runs']} lab "
            f"runs, built in {ids['built']:.1f}s ("
            + ", ".join(f"{name} {s:.1f}s" for name, s in ids["phases"].items())
            + "); first strict verification "
            + ", ".join(f"{name} {s:.2f}s" for name, s in ids["warm"].items())
        )
        server = Server(data_dir, args.workers)
        server.wait_ready()
        main_pk, cookie = ids["main"], ids["cookie"]
        pages = {
            "dashboard": "/",
            "deployment": f"/deployments/{main_pk}/",
            "decisions": f"/deployments/{main_pk}/decisions/",
            "gate": f"/deployments/{main_pk}/gates/demo_exit/",
            "checklist": f"/deployments/{main_pk}/checklists/demo_stage1/",
            "audit": "/audit/",
            "labs": "/labs/",
            "api jobs": "/api/v1/jobs/",
            "api audit events": "/api/v1/audit/events/",
            "api lab runs": "/api/v1/paper-labs/runs/",
            "api decision log": f"/api/v1/deployments/{main_pk}/decision-log/",
        }
        print(f"gunicorn -w {args.workers}, {users} concurrent sessions, {seconds:g} s per page (ms):")
        print(f"  {'page':18} {'p50':>8} {'p95':>8} {'p99':>8} {'req/s':>8} {'errors':>6}")
        worst = 0.0
        for name, path in pages.items():
            single(server.port, path, cookie, rounds=1)  # warm this worker path
            r = load(server.port, path, cookie, users, seconds)
            worst = max(worst, r["p95"])
            cells = " ".join(f"{r[k]:8.1f}" for k in ("p50", "p95", "p99", "rps"))
            print(f"  {name:18} {cells} {r['errors']:6d}")
        results = {}
        for label, pk in (("small", ids["small"]), ("large", ids["large"])):
            results[label] = (
                single(server.port, f"/deployments/{pk}/decisions/", cookie),
                single(server.port, f"/deployments/{pk}/gates/demo_exit/", cookie),
            )
        (ds, gs), (dl, gl) = results["small"], results["large"]
        print(
            f"single request (median of 3): decisions {ds:.1f} ms at {sizes['small']} entries, "
            f"{dl:.1f} ms at {sizes['large']}; gate {gs:.1f} ms / {gl:.1f} ms"
        )
        print(f"worst p95 {worst:.1f} ms (goal < 150 ms at 20 users); large-log pages goal < 100 ms")
        print(
            f"ratio: {dl / ds:.2f} decisions page {sizes['large']} vs {sizes['small']} entries "
            f"(gate {gl / gs:.2f}; goal ~1)"
        )
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
