"""The ingestor under faults: SIGKILL with samples in flight, a locked store, SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from schemas import TopicScheme
from tests.integration.ingestor.helpers import (
    ProcessIngestor,
    Publisher,
    ThreadIngestor,
    progress,
    samples_for,
    settings,
    stored_keys,
    wait_for,
)
from tests.services.influxd import Influxd
from tests.services.mosquitto import Mosquitto
from tests.services.proc import free_port

pytestmark = pytest.mark.integration


def _args(broker: Mosquitto, store_url: str, prefix: str, client_id: str) -> list[str]:
    return [
        "--broker", broker.url, "--store", store_url, "--topic-prefix", prefix,
        "--client-id", client_id, "--batch-size", "500", "--flush-interval", "0.2",
        "--retry-max-backoff", "0.5",
    ]  # fmt: skip


def _publish_in_background(
    pub: Publisher, scheme: TopicScheme, n: int, host: str
) -> threading.Thread:
    samples = samples_for(host, n, ifaces=("eth0", "eth1", "eth2", "eth3"))
    thread = threading.Thread(target=pub.publish_samples, args=(scheme, samples), daemon=True)
    thread.start()
    return thread


def test_kill9_with_10000_in_flight_then_restart_stores_each_once(
    mosquitto: Mosquitto, store_url: str, topic_prefix: str, unique: str, tmp_path: Path
) -> None:
    scheme = TopicScheme(topic_prefix)
    port = free_port()
    args = [
        *_args(mosquitto, store_url, topic_prefix, f"kill-{unique}"),
        *("--metrics-port", str(port)),
    ]
    first = ProcessIngestor(args, tmp_path / "ingest1.log")
    second: ProcessIngestor | None = None
    pub = Publisher(mosquitto)
    try:
        first.wait_connected()
        wait_for(lambda: "subscribed to" in first.tail(), 10, first.tail)
        publishing = _publish_in_background(pub, scheme, 10_000, unique)
        wait_for(lambda: _metric(port, "ifpulse_ingest_stored_total") >= 1000, 30, first.tail)
        in_flight = publishing.is_alive() or _metric(port, "ifpulse_ingest_stored_total") < 10_000
        assert first.stop(signal.SIGKILL) == -signal.SIGKILL
        assert in_flight, "everything was stored before the kill: the test proved nothing"
        publishing.join(60)
        assert not publishing.is_alive(), "publishing 10,000 samples took over 60 s"
        second = ProcessIngestor(args, tmp_path / "ingest2.log")
        wait_for(
            lambda: progress(store_url, unique) >= 10_000,
            60,
            lambda: f"{progress(store_url, unique)} of 10000 stored; log:\n{second.tail()}",
        )
        assert second.stop(signal.SIGTERM) == 0, second.tail()
    finally:
        pub.close()
        for proc in (first, second):
            if proc is not None and proc.popen.poll() is None:
                proc.stop(signal.SIGKILL)
    keys = stored_keys(store_url, unique)
    assert len(keys) == 10_000, f"{len(keys)} points for 10,000 samples"
    assert len(set(keys)) == 10_000, f"{len(keys) - len(set(keys))} duplicate points"


# The issue asks for 30 s; 8 s exercises the same path (several failed retries with backoff)
# and keeps the suite fast.
LOCK_SECONDS = 30  # issue 4: the store unavailable for 30 s
OUTAGE_SECONDS = 30

_HOLD_LOCK = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("COMMIT")
"""


def test_sqlite_locked_by_another_process_nothing_lost(
    mosquitto: Mosquitto, sqlite_url: str, topic_prefix: str, unique: str
) -> None:
    scheme = TopicScheme(topic_prefix)
    # Receive Maximum 200: while the store is locked the broker may hand over only 200.
    ing = ThreadIngestor(
        settings(mosquitto, sqlite_url, topic_prefix, batch_size=100, receive_maximum=200)
    )
    pub = Publisher(mosquitto)
    path = sqlite_url.removeprefix("sqlite:///")
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, path, str(LOCK_SECONDS)], stdout=subprocess.PIPE
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"locked"
        pub.publish_samples(scheme, samples_for(unique, 1000, ifaces=("eth0", "eth1")))
        assert ing.ingestor is not None
        metrics = ing.ingestor.metrics
        wait_for(
            lambda: metrics.store_unavailable._value.get() >= 1, LOCK_SECONDS, "a failed write"
        )
        assert metrics.stored._value.get() == 0, "wrote through an exclusive lock?"
        # paho's thread waits while a write attempt holds the turn (ingestor/turns.py) and
        # reads on between retries: the window fills up to Receive Maximum, never past it.
        wait_for(lambda: metrics.received._value.get() >= 200, LOCK_SECONDS, "a full window (200)")
        assert metrics.stored._value.get() == 0, "wrote through an exclusive lock?"
        assert metrics.received._value.get() == 200, "broker should hold the rest for us"
        assert holder.wait(LOCK_SECONDS + 10) == 0
        wait_for(
            lambda: len(stored_keys(sqlite_url, unique)) >= 1000,
            20,
            lambda: f"{len(stored_keys(sqlite_url, unique))} of 1000 stored after the lock",
        )
        assert ing.thread.is_alive(), "the ingestor died while the store was locked"
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        pub.close()
        assert ing.stop() == 0
    assert len(stored_keys(sqlite_url, unique)) == 1000


def test_sigterm_drains_writes_acks_and_exits_0(
    mosquitto: Mosquitto, sqlite_url: str, topic_prefix: str, unique: str, tmp_path: Path
) -> None:
    scheme = TopicScheme(topic_prefix)
    # A long flush interval: without the drain, these would sit in a partial batch.
    port = free_port()
    args = [
        *_args(mosquitto, sqlite_url, topic_prefix, f"term-{unique}"),
        *("--flush-interval", "60", "--metrics-port", str(port)),
    ]
    proc = ProcessIngestor(args, tmp_path / "ingest.log")
    pub = Publisher(mosquitto)
    try:
        proc.wait_connected()
        wait_for(lambda: "subscribed to" in proc.tail(), 10, proc.tail)
        pub.publish_samples(scheme, samples_for(unique, 50))
        wait_for(lambda: _metric(port, "ifpulse_ingest_received_total") >= 50, 10, proc.tail)
        assert _metric(port, "ifpulse_ingest_queue_depth") == 50
        assert stored_keys(sqlite_url, unique) == []
        assert proc.stop(signal.SIGTERM) == 0, proc.tail()
    finally:
        pub.close()
        if proc.popen.poll() is None:
            proc.stop(signal.SIGKILL)
    assert len(stored_keys(sqlite_url, unique)) == 50


def _metric(port: int, name: str) -> float:
    """One value from the ingestor's /metrics endpoint."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        for line in resp.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


def test_broker_restart_mid_stream_loses_nothing(
    broker_factory: Callable[..., Mosquitto], sqlite_url: str, topic_prefix: str, unique: str
) -> None:
    broker = broker_factory()
    scheme = TopicScheme(topic_prefix)
    # One big batch with a long flush interval: the first 500 are still unacked (held in
    # the ingestor's batch) when the broker goes down.
    ing = ThreadIngestor(
        settings(broker, sqlite_url, topic_prefix, batch_size=2000, flush_interval=2.0)
    )
    assert ing.ingestor is not None
    metrics = ing.ingestor.metrics
    first = samples_for(unique, 1000, ifaces=("eth0", "eth1"))
    pub = Publisher(broker)
    pub.publish_samples(scheme, first[:500])
    pub.close()
    wait_for(lambda: metrics.received._value.get() >= 500, 10, "500 received")
    assert metrics.stored._value.get() == 0
    broker.restart()  # persistent: our session and its unacked messages survive
    wait_for(lambda: ing.ingestor.consumer.connected.is_set(), 20, "ingestor did not reconnect")
    pub = Publisher(broker)
    try:
        pub.publish_samples(scheme, first[500:])
        wait_for(
            lambda: len(stored_keys(sqlite_url, unique)) >= 1000,
            20,
            lambda: f"{len(stored_keys(sqlite_url, unique))} of 1000 stored",
        )
    finally:
        pub.close()
        assert ing.stop() == 0
    assert len(stored_keys(sqlite_url, unique)) == 1000
    # The first 500 were written from the old connection (not acked: their packet ids died
    # with it) and again when the broker redelivered them: idempotent, one point each.
    assert metrics.received._value.get() >= 1500


def test_influxd_stopped_then_back_nothing_lost(
    mosquitto: Mosquitto, influxd_factory: Callable[[], Influxd], topic_prefix: str, unique: str
) -> None:
    server = influxd_factory()
    store_url = server.store_url(unique)
    ing = ThreadIngestor(settings(mosquitto, store_url, topic_prefix, batch_size=100))
    assert ing.ingestor is not None
    metrics = ing.ingestor.metrics
    pub = Publisher(mosquitto)
    try:
        server.stop()
        down_since = time.monotonic()
        scheme, sent = TopicScheme(topic_prefix), samples_for(unique, 1000)
        pub.publish_samples(scheme, sent[:500])
        failed = metrics.store_unavailable
        wait_for(lambda: failed._value.get() >= 2, 20, "failed writes while influxd is down")
        assert metrics.stored._value.get() == 0
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down_since)))
        assert ing.thread.is_alive(), "the ingestor died while influxd was down"
        server.start()
        pub.publish_samples(scheme, sent[500:])
        wait_for(
            lambda: progress(store_url, unique) >= 1000,
            30,
            lambda: f"{progress(store_url, unique)} of 1000 stored after influxd is back",
        )
        assert ing.thread.is_alive(), "the ingestor died while influxd was down"
    finally:
        pub.close()
        assert ing.stop() == 0
    assert len(stored_keys(store_url, unique)) == 1000
