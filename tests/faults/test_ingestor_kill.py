"""Scenario 2: the ingestor is SIGKILLed under load (a live publisher plus a 20,000-sample burst)
and restarted on the same session: every sample is stored exactly once."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from schemas import TopicScheme
from tests.faults.pipeline import (
    count,
    fake_host,
    finish,
    start_ingestor,
    start_publisher,
    stop_all,
    stored_count,
)
from tests.integration.ingestor.helpers import Publisher, samples_for, wait_for
from tests.integration.publisher.test_sigkill import Traffic
from tests.services.mosquitto import Mosquitto

pytestmark = pytest.mark.faults
BURST = 20_000


def test_ingestor_sigkill_under_load_then_restart(
    broker_factory: Callable[..., Mosquitto],
    sqlite_url: str,
    topic_prefix: str,
    unique: str,
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    broker = broker_factory()
    fake = fake_host(tmp_path / "host")
    traffic = Traffic(fake)
    client_id = f"ing-{unique}"
    first = start_ingestor(broker, sqlite_url, topic_prefix, client_id, tmp_path / "i1.log")
    second = None
    pub = start_publisher(fake, tmp_path / "pub", broker.url, unique, topic_prefix)
    load_host = f"{unique}-load"
    burst = samples_for(load_host, BURST, ifaces=("eth0", "eth1", "eth2", "eth3"))
    loader = Publisher(broker)
    sending = threading.Thread(
        target=loader.publish_samples, args=(TopicScheme(topic_prefix), burst), daemon=True
    )
    try:
        sending.start()
        wait_for(lambda: stored_count(sqlite_url, load_host) >= 2000, 30, first.tail)
        assert first.stop(signal.SIGKILL) == -signal.SIGKILL
        in_flight = stored_count(sqlite_url, load_host)
        assert in_flight < BURST, "all stored before the kill: the test proved nothing"
        time.sleep(2)  # samples keep arriving at the broker, which queues them for the session
        second = start_ingestor(broker, sqlite_url, topic_prefix, client_id, tmp_path / "i2.log")
        sending.join(60)
        assert not sending.is_alive(), f"publishing {BURST} samples took over 60 s"
        wait_for(lambda: stored_count(sqlite_url, load_host) >= BURST, 60, second.tail)
        sent = finish(pub, second, sqlite_url, unique)
    finally:
        traffic.close()
        loader.close()
        stop_all(pub, first, second)
    sent |= {(s.host, s.iface, s.seq) for s in burst}
    note = f"killed with {in_flight} of the burst stored"
    figures = count("2. ingestor kill -9 under load", sqlite_url, sent, started, note)
    assert (figures.lost, figures.duplicates) == (0, 0)
    assert figures.stored == figures.sent
