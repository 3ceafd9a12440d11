"""`--cpus`: the daemon runs only on the cores it is given; a bad list refuses the start, writing nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from execution.daemon.cpus import CpuListError, parse_cpu_list
from execution.daemon.server import main

ROOT = Path(__file__).resolve().parents[2]
MACHINE = frozenset(range(8))


@pytest.mark.parametrize(
    "text, cpus",
    [("1", {1}), ("0,2", {0, 2}), ("2-3", {2, 3}), ("0,4-6", {0, 4, 5, 6}), ("3-3", {3})],
)
def test_a_cpu_list_is_read_in_the_kernels_spelling(text, cpus):
    assert parse_cpu_list(text, MACHINE) == cpus


@pytest.mark.parametrize(
    "text, why",
    [
        ("", "expected a CPU list"),
        ("a", "not a CPU number"),
        ("1,", "not a CPU number"),
        ("-1", "not a CPU number"),
        ("1 ", "not a CPU number"),
        ("١", "not a CPU number"),  # a digit, but not an ASCII one
        ("3-1", "runs backwards"),
        ("123456", "not a CPU number"),
        ("0-99999", "longer than any machine"),
        ("0-9999", "longer than any machine"),
        ("8", "not available"),
        ("1," * 200, "expected a CPU list"),
    ],
)
def test_a_bad_cpu_list_is_refused_with_its_reason(text, why):
    with pytest.raises(CpuListError, match=why):
        parse_cpu_list(text, MACHINE)


def test_pinning_covers_every_thread_the_process_has_and_starts():
    cpu = min(os.sched_getaffinity(0))
    script = textwrap.dedent(
        f"""
        import os, threading
        from pathlib import Path
        from execution.daemon.cpus import pin_process
        ready, done = threading.Event(), threading.Event()
        earlier = threading.Thread(target=lambda: (ready.set(), done.wait()))
        earlier.start(); ready.wait()
        pin_process(frozenset({{{cpu}}}))
        later = threading.Thread(target=done.wait); later.start()
        tasks = [int(t.name) for t in Path("/proc/self/task").iterdir()]
        masks = {{tuple(sorted(os.sched_getaffinity(tid))) for tid in tasks}}
        done.set(); earlier.join(); later.join()
        print(sorted(masks))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == f"[({cpu},)]"


def test_the_daemon_refuses_a_bad_cpu_list_before_it_writes_anything(tmp_path, capsys):
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    before = os.sched_getaffinity(0)
    code = main(["--mode", "paper", "--data-dir", str(data_dir), "--cpus", "4096"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("daemon refused: --cpus: CPU 4096 is not available") and "\n" not in err
    assert list(data_dir.iterdir()) == []
    assert os.sched_getaffinity(0) == before  # nothing was pinned
