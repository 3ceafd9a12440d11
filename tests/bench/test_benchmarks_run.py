"""Every benchmark runs at its --quick size and prints its ratio line, so none can silently rot.

A benchmark's exit status says whether it measured, not whether the machine met its goal: speed is never
asserted here (a shared machine makes any time flaky). The ratio line format is in bench/README.md.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = sorted((ROOT / "bench").glob("*.py"))
RATIO_LINE = re.compile(r"^ratio: \S.*?\d+(?:\.\d+)?", re.MULTILINE)
TIMEOUT_S = 300  # generous: the quick sizes take seconds, a loaded machine may take many times that


def test_the_benchmarks_are_found():
    assert len(BENCHMARKS) >= 7, [p.name for p in BENCHMARKS]


@pytest.mark.parametrize("bench", BENCHMARKS, ids=[p.stem for p in BENCHMARKS])
def test_benchmark_completes_at_its_quick_size_and_prints_its_ratio_line(bench: Path, tmp_path: Path):
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",  # ui_frames shows the real client; no display here
        "OEM_DATA_DIR": str(tmp_path / "var"),  # a benchmark never touches the suite's data dir
        "TMPDIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, str(bench), "--quick"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    tail = (result.stdout[-2000:] + "\n--- stderr ---\n" + result.stderr[-3000:]).strip()
    assert result.returncode == 0, tail
    assert RATIO_LINE.search(result.stdout), f"no line starting 'ratio: <what> <number>':\n{tail}"
    assert "machine" in result.stdout.lower(), f"no machine description:\n{tail}"
