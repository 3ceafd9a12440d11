"""``python -m desktop_qml.check``: the real client offscreen against a throwaway daemon writes a PNG per
screen, the UI telemetry log and a summary with the frame figures and every step."""

import json
import os
import subprocess
import sys
from pathlib import Path

from desktop_qml.evidence import check_ui_telemetry_log
from desktop_qml.models.backend import SCREENS

REPO = Path(__file__).resolve().parents[2]
FUNCTIONAL = (
    "connect over mTLS",
    "submit market order",
    "rest a limit order and cancel it",
    "kill switch",
    "resume trading (admin)",
    "license from a file",
    "reduce motion",
    "stream fills at load",
    "screenshot every screen",
    "daemon: UI guard healthy",
)


def _run(*args, env=None):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "desktop_qml.check", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_check_writes_a_png_per_screen_the_telemetry_log_and_a_summary(tmp_path):
    out = tmp_path / "ui_check"
    result = _run(
        "--out",
        str(out),
        "--load-seconds",
        "2",
        "--fill-rate",
        "50",
        "--window-s",
        "1",
        "--min-covered-s",
        "2",
    )
    assert result.returncode in (0, 1), result.stderr
    summary = json.loads((out / "summary.json").read_text())
    steps = {s["name"]: s for s in summary["steps"]}
    for name in FUNCTIONAL:
        assert steps[name]["ok"], f"{name}: {steps[name]['detail']}"
    shots = {s["screen"]: out / s["png"] for s in summary["screens"]}
    assert set(SCREENS) <= set(shots)
    for path in shots.values():
        assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    frames = summary["frames"]
    assert frames["frames"] > 0 and {"p95_frame_ms", "jank_percent", "fps"} <= set(frames)
    assert summary["load"]["fills_seen"] >= summary["load"]["accepted"] > 0
    assert summary["passed"] == (not summary["failures"])
    assert result.returncode == (0 if summary["passed"] else 1)
    log = (out / "ui_telemetry_alerts.jsonl").read_bytes()
    assert check_ui_telemetry_log(log, min_covered_s=2) == summary["telemetry_log"]["problems"]
    assert summary["daemon_reports"]["sent"] > 0 and summary["guard_events"]["sample"] > 0


def test_bad_arguments_exit_2_with_one_line_and_write_nothing(tmp_path):
    result = _run("--out", str(tmp_path / "x"), "--fill-rate", "0")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "--fill-rate" in result.stderr
    assert not (tmp_path / "x").exists()
