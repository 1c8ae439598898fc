from __future__ import annotations

import time
import urllib.request

from ingestor.metrics import Metrics, MetricsServer
from schemas import Reason


def test_metrics_endpoint_serves_counters_by_reason() -> None:
    metrics = Metrics()
    metrics.received.inc(3)
    metrics.on_written(2, 0.004)
    metrics.on_rejected(Reason.BAD_JSON)
    metrics.queue_depth.set(1)
    server = MetricsServer(metrics, "127.0.0.1", 0)
    server.start()
    try:
        url = f"http://127.0.0.1:{server.port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as resp:
            text = resp.read().decode()
    finally:
        server.stop()
    assert "ifpulse_ingest_received_total 3.0" in text
    assert "ifpulse_ingest_stored_total 2.0" in text
    assert 'ifpulse_ingest_rejected_total{reason="bad_json"} 1.0' in text
    assert 'ifpulse_ingest_rejected_total{reason="clock_skew"} 0.0' in text
    assert "ifpulse_ingest_store_write_seconds_count 1.0" in text
    assert "ifpulse_ingest_queue_depth 1.0" in text
    stamp = [line for line in text.splitlines() if line.startswith("ifpulse_ingest_last_write_")]
    assert len(stamp) == 1 and abs(float(stamp[0].split()[1]) - time.time()) < 60
