"""run_metrics_service: one snapshot with --shutdown-after 0, a real loopback serve, scraping a daemon."""

import json
import math
import socket
import threading
import time
import urllib.request

from prometheus_client import Gauge

from execution.drills.harness import local_daemon
from execution.drills.metrics_service import MetricsService, collect_samples, run_metrics_service_main
from execution.metrics import DaemonMetrics


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_shutdown_after_zero_writes_exactly_one_strict_snapshot(tmp_path, capsys):
    out = tmp_path / "snap" / "metrics.jsonl"
    assert (
        run_metrics_service_main(
            ["--shutdown-after", "0", "--jsonl", str(out), "--data-dir", str(tmp_path), "--local-registry"]
        )
        == 0
    )
    lines = out.read_bytes().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0], parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    assert set(record) == {"ts", "unix", "source", "samples"}
    names = {s["name"] for s in record["samples"]}
    assert {"oem_fill_ratio", "oem_live_unlocked"} <= names
    assert "wrote 1 snapshot(s)" in capsys.readouterr().out


def test_non_finite_values_become_null_with_a_marker(tmp_path):
    metrics = DaemonMetrics()
    Gauge("oem_test_nan", "x", registry=metrics.registry).set(math.nan)
    metrics.latency.labels("paper", "submit").observe(0.01)
    samples = collect_samples(metrics.registry)
    nan = next(s for s in samples if s["name"] == "oem_test_nan")
    assert nan["value"] is None and nan["nonfinite"] == "NaN"
    inf_bucket = next(s for s in samples if s["labels"].get("le") == "+Inf")
    assert inf_bucket["value"] == 1.0
    service = MetricsService(metrics.registry, tmp_path / "m.jsonl", source="test")
    service.write_snapshot()
    json.loads(
        (tmp_path / "m.jsonl").read_text(), parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c))
    )


def test_serves_prometheus_text_on_loopback_and_snapshots_every_interval(tmp_path):
    port = _free_port()
    out = tmp_path / "metrics.jsonl"
    argv = ["--shutdown-after", "2", "--interval", "0.5", "--port", str(port), "--jsonl", str(out)]
    argv.append("--local-registry")
    rc = []
    thread = threading.Thread(target=lambda: rc.append(run_metrics_service_main(argv)))
    thread.start()
    body, ctype = "", ""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not body:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
                body, ctype = response.read().decode(), response.headers["Content-Type"]
        except OSError:
            time.sleep(0.05)
    thread.join(10)
    assert rc == [0]
    assert ctype.startswith("text/plain") and "# TYPE oem_fill_ratio gauge" in body
    assert "oem_order_latency_seconds" in body
    assert len(out.read_text().splitlines()) >= 4  # start, each 0.5 s, shutdown


def test_scrapes_a_running_daemon(tmp_path):
    with local_daemon(
        tmp_path, "metrics", mode="demo", operators=("m",), metrics_port=0, tick_s=0.2
    ) as local:
        url = f"http://127.0.0.1:{local.daemon.metrics_port}/metrics"
        out = tmp_path / "scraped.jsonl"
        assert run_metrics_service_main(["--shutdown-after", "0", "--jsonl", str(out), "--scrape", url]) == 0
    record = json.loads(out.read_text())
    samples = {(s["name"], tuple(sorted(s["labels"].items()))): s["value"] for s in record["samples"]}
    assert samples[("oem_metrics_scrape_up", ())] == 1.0
    assert samples[("oem_venue_up", (("venue", "paper"),))] == 1.0
    assert ("oem_gate_state", (("gate", "live_go"),)) in samples


def test_bad_arguments_one_line_non_zero_nothing_written(tmp_path, capsys):
    out = tmp_path / "never.jsonl"
    for argv in (
        ["--shutdown-after", "-1", "--jsonl", str(out)],
        ["--shutdown-after", "nan", "--jsonl", str(out)],
        ["--shutdown-after", "0", "--jsonl", str(out), "--port", "70000"],
        ["--shutdown-after", "0", "--jsonl", str(out), "--scrape", "http://example.com/metrics"],
        ["--jsonl", str(out)],
        ["--shutdown-after", "0", "--jsonl", str(tmp_path)],
    ):
        assert run_metrics_service_main(argv) != 0, argv
        captured = capsys.readouterr()
        assert len(captured.err.strip().splitlines()) == 1 and captured.out == "", (argv, captured)
    assert not out.exists()
