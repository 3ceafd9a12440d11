"""``run_metrics_service``: the daemon's Prometheus metrics on loopback, plus JSONL snapshots as evidence.

What is served (``http://127.0.0.1:<port>/metrics``, loopback only) and snapshotted:

- default: the live numbers of the running daemon, scraped from ``--scrape URL`` (default
  ``http://127.0.0.1:9464/metrics``: the daemon started with ``--metrics-port 9464``; loopback only) and
  re-exposed as they are, plus ``oem_metrics_scrape_up`` (1 when the last scrape worked). This is the
  evidence form (kind ``metrics_log``): a one-shot snapshot (``--shutdown-after 0``) whose scrape failed
  exits non-zero;
- ``--local-registry``: an own, idle ``DaemonMetrics`` registry — every metric family of the daemon (the
  names the alert rules in config/core.yaml use) — with ``oem_certificate_days_left{cert="server"}``
  refreshed from ``<data-dir>/certs/server.pem``; for wiring Prometheus, never evidence.

Every ``--interval`` seconds (and once at start and once at shutdown) one line is appended to ``--jsonl``:
``{"ts": ISO-8601 UTC, "unix": seconds, "source": ..., "samples": [{"name", "labels", "value"}, ...]}``.
Strict JSON: a non-finite value (NaN, +Inf, -Inf) is written as ``"value": null`` with
``"nonfinite": "NaN" | "+Inf" | "-Inf"`` (the histogram bucket label ``le="+Inf"`` is a label, kept as is).
``--shutdown-after 0`` writes exactly one snapshot and exits without binding a port.
"""

from __future__ import annotations

import json
import math
import os
import signal
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.parser import text_string_to_metric_families

from audit.trust import paths as trust_paths
from audit.trust.cliutil import EXIT_OK, OneLineParser, UsageError, run
from execution.metrics import DaemonMetrics

LOOPBACK = ("127.0.0.1", "::1", "localhost")
DEFAULT_PORT = 9465
DAEMON_METRICS_URL = "http://127.0.0.1:9464/metrics"


def _value(value: float) -> dict:
    if math.isfinite(value):
        return {"value": value}
    return {"value": None, "nonfinite": "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")}


def collect_samples(registry: CollectorRegistry) -> list[dict]:
    out = []
    for family in registry.collect():
        for sample in family.samples:
            out.append(
                {"name": sample.name, "labels": dict(sorted(sample.labels.items())), **_value(sample.value)}
            )
    return out


class ScrapeCollector:
    """Re-exposes a running daemon's /metrics (loopback) and reports whether the last scrape worked."""

    def __init__(self, url: str, timeout_s: float = 2.0) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.hostname not in LOOPBACK:
            raise UsageError(f"run_metrics_service: --scrape {url}: expected http://127.0.0.1:PORT/metrics")
        self.url = url
        self.timeout_s = timeout_s
        self.last_error = ""

    def describe(self):  # no scrape at registration time
        return []

    def collect(self):
        up = GaugeMetricFamily("oem_metrics_scrape_up", "1 when the last scrape of the daemon worked")
        try:
            with urllib.request.urlopen(self.url, timeout=self.timeout_s) as response:  # noqa: S310 - loopback http only
                text = response.read().decode("utf-8")
            families = list(text_string_to_metric_families(text))
        except (OSError, ValueError) as exc:
            self.last_error = str(exc)
            up.add_metric([], 0.0)
            yield up
            return
        self.last_error = ""
        up.add_metric([], 1.0)
        yield up
        yield from families


class MetricsService:
    def __init__(
        self,
        registry: CollectorRegistry,
        jsonl: Path,
        *,
        source: str,
        refresh: Callable[[], None] | None = None,
    ) -> None:
        self.registry = registry
        self.jsonl = Path(jsonl)
        self.source = source
        self.refresh = refresh or (lambda: None)
        self.port: int | None = None
        self._server = None
        self.snapshots = 0
        self.scraper: ScrapeCollector | None = None

    def serve(self, port: int, host: str = "127.0.0.1") -> int:
        if host not in LOOPBACK:
            raise ValueError("the metrics service binds to loopback only")
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        self._server = server
        self.port = server.server_address[1]
        return self.port

    def snapshot(self) -> dict:
        self.refresh()
        now = time.time()
        return {
            "ts": datetime.fromtimestamp(now, UTC).isoformat(),
            "unix": now,
            "source": self.source,
            "samples": collect_samples(self.registry),
        }

    def write_snapshot(self) -> dict:
        record = self.snapshot()
        line = json.dumps(record, sort_keys=True, allow_nan=False, separators=(",", ":")).encode() + b"\n"
        self.jsonl.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.jsonl, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, line)  # one write per line: a reader never sees half a snapshot
            os.fsync(fd)
        finally:
            os.close(fd)
        self.snapshots += 1
        return record

    def run(self, shutdown_after: float, interval: float, stop: threading.Event | None = None) -> int:
        """Snapshot now, every ``interval`` and at the end; returns the number of snapshots written."""
        stop = stop or threading.Event()
        deadline = time.monotonic() + shutdown_after
        self.write_snapshot()
        if shutdown_after <= 0:
            return self.snapshots
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or stop.wait(min(interval, left)):
                break
            if deadline - time.monotonic() > 1e-3:
                self.write_snapshot()
        self.write_snapshot()
        return self.snapshots

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def build_service(args) -> MetricsService:
    data_dir = (args.data_dir or trust_paths.data_dir()).resolve()
    if not args.local_registry:
        registry = CollectorRegistry()
        scraper = ScrapeCollector(args.scrape)
        registry.register(scraper)
        service = MetricsService(registry, args.jsonl, source=f"scrape {args.scrape}")
        service.scraper = scraper
        return service
    metrics = DaemonMetrics()
    server_pem = data_dir / "certs" / "server.pem"

    def refresh() -> None:
        if server_pem.is_file():
            from cryptography import x509

            from execution.mtls.bundle import days_left

            try:
                from audit.trust.fsutil import MAX_PEM_FILE, read_regular_file

                pem = read_regular_file(server_pem, max_bytes=MAX_PEM_FILE, what="server certificate")
                cert = x509.load_pem_x509_certificate(pem)
                metrics.cert_days.labels("server").set(days_left(cert.not_valid_after_utc))
            except (OSError, ValueError):
                pass

    return MetricsService(
        metrics.registry, args.jsonl, source=f"daemon registry ({data_dir})", refresh=refresh
    )


def _parser() -> OneLineParser:
    parser = OneLineParser(prog="run_metrics_service", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--shutdown-after", type=float, required=True, help="seconds to run (0: one snapshot)"
    )
    parser.add_argument("--jsonl", type=Path, required=True, help="snapshot file (appended)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"loopback port (default {DEFAULT_PORT}, 0: any)"
    )
    parser.add_argument("--interval", type=float, default=15.0, help="seconds between snapshots (default 15)")
    parser.add_argument("--data-dir", type=Path, default=None, help="default: $OEM_DATA_DIR (./var)")
    parser.add_argument(
        "--scrape",
        default=DAEMON_METRICS_URL,
        help=f"the running daemon's metrics URL (default {DAEMON_METRICS_URL})",
    )
    parser.add_argument(
        "--local-registry", action="store_true", help="serve an idle own registry instead (never evidence)"
    )
    return parser


def validate(args) -> None:
    prog = "run_metrics_service"
    if not (math.isfinite(args.shutdown_after) and args.shutdown_after >= 0):
        raise UsageError(
            f"{prog}: --shutdown-after must be a number of seconds >= 0, got {args.shutdown_after}"
        )
    if not (math.isfinite(args.interval) and args.interval > 0):
        raise UsageError(f"{prog}: --interval must be > 0, got {args.interval}")
    if not 0 <= args.port <= 65535:
        raise UsageError(f"{prog}: --port must be 0..65535, got {args.port}")
    if args.jsonl.is_dir():
        raise UsageError(f"{prog}: --jsonl {args.jsonl} is a directory")


def run_metrics_service_main(argv: Sequence[str] | None = None) -> int:
    def action(args) -> int:
        validate(args)
        service = build_service(args)
        stop = threading.Event()
        previous = {}
        if args.shutdown_after > 0 and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):  # stop early: final snapshot, exit 0
                previous[sig] = signal.signal(sig, lambda *_: stop.set())
        try:
            if args.shutdown_after > 0:
                port = service.serve(args.port)
                print(f"serving metrics on http://127.0.0.1:{port}/metrics ({service.source})", flush=True)
            count = service.run(args.shutdown_after, args.interval, stop)
        finally:
            service.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        print(f"wrote {count} snapshot(s) to {args.jsonl}")
        if args.shutdown_after <= 0 and service.scraper is not None and service.scraper.last_error:
            error = " ".join(service.scraper.last_error.split())[:120]
            raise ValueError(f"the daemon at {args.scrape} could not be scraped: {error}")
        return EXIT_OK

    return run(_parser(), argv, action)
