"""The ingestor's own health: Prometheus counters, gauges and a store-latency histogram."""

from __future__ import annotations

import threading
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from schemas import Reason


class Metrics:
    """Counters of one ingestor, in their own registry (so tests can build many)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.received = Counter(
            "ifpulse_ingest_received", "Messages received from the broker", registry=r
        )
        self.stored = Counter(
            "ifpulse_ingest_stored", "Messages durably written to the store", registry=r
        )
        self.rejected = Counter(
            "ifpulse_ingest_rejected", "Messages dead-lettered, by reason", ["reason"], registry=r
        )
        self.store_unavailable = Counter(
            "ifpulse_ingest_store_unavailable",
            "Store writes that failed as unavailable (and were retried)",
            registry=r,
        )
        self.store_latency = Histogram(
            "ifpulse_ingest_store_write_seconds",
            "Duration of one successful store write",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.last_write = Gauge(
            "ifpulse_ingest_last_write_timestamp_seconds",
            "Unix time at which the last successful store write ended (0: none yet)",
            registry=r,
        )
        self.queue_depth = Gauge(
            "ifpulse_ingest_queue_depth", "Messages received and not yet acked", registry=r
        )
        self.connected = Gauge(
            "ifpulse_ingest_connected", "1 while connected to the broker", registry=r
        )
        for reason in Reason:
            self.rejected.labels(reason=reason.value)  # export zeros, so rates work from start

    def on_written(self, count: int, seconds: float) -> None:
        """Record one successful store write."""
        self.stored.inc(count)
        self.store_latency.observe(seconds)
        self.last_write.set_to_current_time()

    def on_rejected(self, reason: Reason) -> None:
        """Record one dead letter."""
        self.rejected.labels(reason=reason.value).inc()


class MetricsServer:
    """The /metrics HTTP endpoint, started and stopped with the service."""

    def __init__(self, metrics: Metrics, host: str, port: int) -> None:
        self._metrics = metrics
        self._host = host
        self._port = port
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port (useful when 0 was not asked: the real one once started)."""
        return self._server.server_port if self._server else self._port

    def start(self) -> None:
        """Serve /metrics in a daemon thread."""
        self._server, self._thread = start_http_server(
            self._port, addr=self._host, registry=self._metrics.registry
        )

    def stop(self) -> None:
        """Shut the server down."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)
