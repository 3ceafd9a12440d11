"""Daemon restart time against journal history: snapshots + segments keep it flat.

For each size, a paper journal of N orders (99 % market orders filled at once: a ``new`` and an ``ack``
record with one fill each; 1 % resting limit orders, at most 100 open at a time, the oldest cancelled) is
written in the daemon's own format with the daemon's segment size (10,000 records), closing segments and
snapshotting the open state exactly as a running daemon does. Then the real daemon is started as its own
process (``python -m execution.daemon --mode demo``) on that data dir and timed from process start to the
"listening" line (the port is open). The baseline, measured in the same run, is the same start on an
empty journal. Prints per size: history size, start time, ratio to the baseline, the in-process replay
(``execution.core.journal.load``) time and the MB/s it read, and the ratio largest/smallest size (goal < 2).

    .venv/bin/python bench/daemon_restart.py [--sizes 10000,100000,1000000] [--repeat 3] [--quick]

Each size extends the previous history in place; a last row grows the largest until its active segment
holds 9,900 records (nearly full: the slowest point of the segment cycle).

Records are built from one canonical template per record kind with the ids substituted (same bytes as
``Journal.append_nowait`` would write, without paying RFC 8785 serialisation a million times).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("OEM_KDF_COST", "test")

from audit.trust.canonical import canonical_bytes  # noqa: E402
from execution.core.journal import Journal, load  # noqa: E402
from execution.core.journal_scan import CutRecord  # noqa: E402
from execution.core.orders import Fill, Order, OrderStatus  # noqa: E402
from execution.daemon.devkit import Deployment  # noqa: E402

_CID = "bench-" + "z" * 30
_VID = "paper-0-o" + "Z" * 12
_FID = "paper-0-f" + "Y" * 12
_SEQ = 777_777_777


def _templates() -> dict[str, bytes]:
    base = dict(symbol="ETH/BTC", qty=1.0, owner="bench", created_ts=1.7e9, updated_ts=1.7e9)
    new = Order(_CID, side="buy", **base)
    filled = Order(_CID, side="buy", **base)
    filled.venue, filled.venue_order_id = "paper", _VID
    filled.apply_fill(Fill("paper", _VID, _FID, 1.0, 0.05, 0.00005, 1.7e9, _SEQ))
    resting = Order(_CID, side="buy", type="limit", limit_price=0.049, **base)
    acked = Order(_CID, side="buy", type="limit", limit_price=0.049, **base)
    acked.venue, acked.venue_order_id = "paper", _VID
    acked.transition(OrderStatus.ACKED, ts=1.7e9)
    cancelled = Order(_CID, side="buy", type="limit", limit_price=0.049, **base)
    cancelled.venue, cancelled.venue_order_id = "paper", _VID
    cancelled.transition(OrderStatus.CANCELLED, ts=1.7e9, reason="USER_CANCEL")
    return {
        k: canonical_bytes(o.to_dict())
        for k, o in {
            "new": new,
            "filled": filled,
            "resting": resting,
            "acked": acked,
            "cancelled": cancelled,
        }.items()
    }


class JournalBuilder:
    """Writes the history in place; ``extend(n)`` grows it to n orders (each size extends the previous)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tpl = _templates()
        self.orders = 0
        self.fill_seq = 0
        self.open: dict[str, None] = {}

    def extend(self, orders: int | None = None, *, until_active: int = 0) -> None:
        """Grow to ``orders`` orders, or until the active segment holds ``until_active`` records."""
        tpl = self.tpl
        ts = b',"ts":' + canonical_bytes(1.7e9) + b"}"
        journal = Journal(self.path, sync=False)
        journal.open()

        def write(event: str, kind: str, n: int, status: str) -> None:
            cid = f"bench-{n:030d}"
            body = tpl[kind].replace(_CID.encode(), cid.encode())
            body = body.replace(_VID.encode(), b"paper-0-o%012d" % n)
            if kind == "filled":
                body = body.replace(_FID.encode(), b"paper-0-f%012d" % n)
                body = body.replace(b"%d" % _SEQ, b"%d" % self.fill_seq)
            head = b'{"event":"' + event.encode() + b'","order":' + body
            journal._write(head, ts, CutRecord(0, event, cid, status), cid, self.fill_seq)  # noqa: SLF001

        try:
            n = self.orders
            while (n < orders) if orders is not None else (journal._records < until_active):  # noqa: SLF001
                if n % 100 == 50:
                    write("new", "resting", n, "NEW")
                    write("ack", "acked", n, "ACKED")
                    self.open[f"bench-{n:030d}"] = None
                    if len(self.open) > 100:
                        oldest = next(iter(self.open))
                        del self.open[oldest]
                        write("cancel", "cancelled", int(oldest[6:]), "CANCELLED")
                else:
                    self.fill_seq += 1
                    write("new", "new", n, "NEW")
                    write("ack", "filled", n, "FILLED")
                if journal.segment_full:
                    snapshot = [_open_order(cid) for cid in self.open]
                    journal.rotate(open_orders=snapshot, fill_seq=self.fill_seq, extra={"risk": {}})
                n += 1
        finally:
            journal.close()
        self.orders = n


def _open_order(cid: str) -> Order:
    n = int(cid[6:])
    order = Order(cid, "ETH/BTC", "buy", 1.0, type="limit", limit_price=0.049, owner="bench")
    order.created_ts = order.updated_ts = 1.7e9
    order.venue, order.venue_order_id = "paper", f"paper-0-o{n:012d}"
    order.transition(OrderStatus.ACKED, ts=1.7e9)
    return order


def _history_bytes(journal_dir: Path) -> int:
    return sum(p.stat().st_size for p in journal_dir.rglob("*") if p.is_file())


def time_start(dep: Deployment) -> float:
    """Seconds from process start to the daemon's "listening" line (its port is open)."""
    argv = [sys.executable, "-m", "execution.daemon", "--data-dir", str(dep.data_dir)]
    argv += ["--config", str(dep.config_path), "--mode", "demo", "--certs", str(dep.certs_dir)]
    argv += ["--listen", "127.0.0.1:0"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    started = time.perf_counter()
    pipe = subprocess.PIPE
    proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=pipe, stderr=pipe, text=True)
    try:
        line = proc.stdout.readline()
        elapsed = time.perf_counter() - started
        if not re.search(r"listening on 127\.0\.0\.1:\d+", line):
            raise SystemExit(f"daemon did not start: {line.strip()} {proc.stderr.read().strip()}")
        return elapsed
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1,000 and 10,000 orders, one start each")
    args = parser.parse_args(argv)
    sizes = [1000, 10_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    repeat = 1 if args.quick else args.repeat
    root = Path(tempfile.mkdtemp(prefix="oem-restart-bench-"))
    try:
        dep = Deployment.create(root, operators=("bench",))
        journal_dir = dep.data_dir / "journal"
        baseline = statistics.median(time_start(dep) for _ in range(repeat))
        print(f"baseline: empty journal, start to port open {baseline:.3f} s (median of {repeat})")
        rows = []
        builder = JournalBuilder(journal_dir / "paper.jsonl")
        # a last row grows the largest history until the active segment is nearly full (the slowest start)
        for size in [*sizes, None]:
            t0 = time.perf_counter()
            builder.extend(size, until_active=9_900)
            built = time.perf_counter() - t0
            size = builder.orders
            history = _history_bytes(journal_dir)
            t0 = time.perf_counter()
            report, state = load(journal_dir / "paper.jsonl")
            replay = time.perf_counter() - t0
            snapshot = report.archive.snapshots_dir / f"{report.snapshot_segment:08d}.json"
            read = state["size"] + (snapshot.stat().st_size if report.snapshot_segment else 0)
            report.archive.close()
            start = statistics.median(time_start(dep) for _ in range(repeat))
            rows.append((size, start))
            print(
                f"{size:>9,} orders: history {history / 1e6:8.1f} MB in {report.segments} closed segments "
                f"(+{built:.1f} s to build); start to port open {start:.3f} s = {start / baseline:.2f}x "
                f"baseline; replay {replay * 1000:.0f} ms reading {read / 1e6:.1f} MB "
                f"({read / 1e6 / max(replay, 1e-9):.0f} MB/s; "
                f"{history / 1e6 / max(replay, 1e-9):.0f} MB/s of history), "
                f"{len(report.orders)} orders in memory"
            )
        (small, t_small), (large, t_large), (worst, t_worst) = rows[0], rows[-2], rows[-1]
        verdict = "met" if t_large / t_small < 2 else "NOT met"
        print(f"ratio: start {large:,}/{small:,} orders {t_large / t_small:.2f} (goal < 2: {verdict})")
        print(f"ratio: start {worst:,} (active segment nearly full)/{small:,} orders {t_worst / t_small:.2f}")
        cpu = platform.processor() or platform.machine()
        python = platform.python_version()
        print(f"machine: {platform.platform()}; {cpu}; {os.cpu_count()} CPUs; Python {python}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
