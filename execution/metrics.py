"""Prometheus telemetry of the daemon, fed from the router's event sink. Loopback only.

Names match the alert rules in config/core.yaml (``oem_order_latency_seconds``, ``oem_fill_ratio``,
``oem_venue_up``). Each daemon owns its own ``CollectorRegistry`` so several daemons (tests) can live in
one process.
"""

from __future__ import annotations

import threading

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

_CIRCUIT = {"closed": 0.0, "half_open": 1.0, "open": 2.0}
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class DaemonMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.latency = Histogram(
            "oem_order_latency_seconds",
            "Order latency per venue and stage (submit: venue call; rpc: SubmitOrder end to end)",
            ["venue", "stage"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.fills = Counter("oem_fills_total", "Fills received", ["venue"], registry=r)
        self.rejects = Counter("oem_order_rejects_total", "Rejected orders by reason", ["reason"], registry=r)
        self.orders = Counter("oem_orders_total", "Orders reaching a terminal state", ["status"], registry=r)
        self.fill_ratio = Gauge("oem_fill_ratio", "Filled / terminal orders (1.0 before any)", registry=r)
        self.fallbacks = Counter("oem_fallbacks_total", "Venue fallbacks", ["venue"], registry=r)
        self.venue_up = Gauge("oem_venue_up", "1 when the venue's health probe is up", ["venue"], registry=r)
        self.circuit = Gauge(
            "oem_circuit_state", "Circuit breaker: 0 closed, 1 half-open, 2 open", ["venue"], registry=r
        )
        self.cert_days = Gauge(
            "oem_certificate_days_left", "Days until the certificate expires", ["cert"], registry=r
        )
        self.gate = Gauge("oem_gate_state", "1 when the gate passes", ["gate"], registry=r)
        self.live_unlocked = Gauge("oem_live_unlocked", "1 when live trading is unlocked", registry=r)
        self.access = Counter(
            "oem_daemon_access_total", "RPC access decisions", ["decision", "reason"], registry=r
        )
        self.fill_ratio.set(1.0)
        self._lock = threading.Lock()
        self._children: dict[tuple, object] = {}
        self._terminal = 0
        self._filled = 0
        self._server = None

    def _child(self, metric, *labels: str):
        """``metric.labels(*labels)``, remembered: every order asks for the same few children, and
        prometheus_client validates and locks on each ``labels`` call. Bounded however many labels appear."""
        key = (metric, labels)
        child = self._children.get(key)
        if child is None:
            if len(self._children) >= 4096:
                self._children.clear()
            child = self._children[key] = metric.labels(*labels)
        return child

    # -- the router's event sink ---------------------------------------------------------------------------
    def on_event(self, event) -> None:  # RouterEvent
        data = event.data
        kind = event.kind
        if kind in ("submitted", "resolved") and "latency_s" in data:
            self._child(self.latency, event.venue or "-", data.get("stage", kind)).observe(data["latency_s"])
        elif kind == "fill":
            self._child(self.fills, event.venue or "-").inc()
        elif kind in ("risk_reject", "venue_reject"):
            self._child(self.rejects, str(data.get("reason", "UNKNOWN"))).inc()
        elif kind == "fallback":
            self.fallbacks.labels(event.venue or "-").inc()
        elif kind == "circuit":
            self.circuit.labels(event.venue).set(_CIRCUIT.get(str(data.get("state")), 2.0))
        elif kind == "terminal":
            status = str(data.get("status", ""))
            self._child(self.orders, status).inc()
            with self._lock:
                self._terminal += 1
                self._filled += status == "FILLED"
                self.fill_ratio.set(self._filled / self._terminal)

    def count_access(self, decision: str, reason: str) -> None:
        self._child(self.access, decision, reason).inc()

    def observe_rpc(self, venue: str, seconds: float) -> None:
        self._child(self.latency, venue or "-", "rpc").observe(seconds)

    def set_venues(self, health: dict[str, dict]) -> None:
        for name, info in health.items():
            self.venue_up.labels(name).set(1.0 if info.get("up") else 0.0)
            self.circuit.labels(name).set(_CIRCUIT.get(str(info.get("circuit")), 2.0))

    def set_gates(self, gates: dict[str, bool], live_unlocked: bool) -> None:
        for name, passed in gates.items():
            self.gate.labels(name).set(1.0 if passed else 0.0)
        self.live_unlocked.set(1.0 if live_unlocked else 0.0)

    def serve(self, port: int, host: str = "127.0.0.1") -> int:
        """Expose /metrics on loopback. Returns the bound port (``port`` 0 picks a free one)."""
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise ValueError("the metrics endpoint binds to loopback only")
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        self._server = server
        return server.server_address[1]

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
