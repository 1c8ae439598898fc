"""Scenario 3: the store is unavailable for STORE_DOWN_S (influxd stopped; the SQLite file
locked by another process) while a publisher keeps sending: the ingestor stays alive, holds
the messages unacknowledged, and drains the backlog when the store is back; nothing is lost."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.faults.pipeline import (
    count,
    fake_host,
    finish,
    start_ingestor,
    start_publisher,
    stop_all,
    stored_count,
)
from tests.integration.ingestor.helpers import wait_for
from tests.integration.ingestor.test_faults import _HOLD_LOCK
from tests.services.influxd import Influxd
from tests.services.mosquitto import Mosquitto

pytestmark = pytest.mark.faults
STORE_DOWN_S = 60  # issue 9: the store down 60 s


def _run_with_store_down(
    broker: Mosquitto,
    store_url: str,
    prefix: str,
    host: str,
    workdir: Path,
    outage: Callable[[], None],
) -> tuple[set[tuple[str, str | None, int]], int]:
    """Publisher + ingestor; `outage()` makes the store unavailable for a while and returns."""
    fake = fake_host(workdir / "host")
    ing = start_ingestor(broker, store_url, prefix, f"ing-{host}", workdir / "i.log")
    pub = start_publisher(fake, workdir / "pub", broker.url, host, prefix)
    try:
        wait_for(lambda: stored_count(store_url, host) >= 30, 20, ing.tail)
        before = stored_count(store_url, host)
        outage()
        assert ing.popen.poll() is None, f"the ingestor died with the store down:\n{ing.tail()}"
        failures = ing.log.read_text().count("store unavailable")
        assert failures >= 2, f"no failed writes seen during the outage:\n{ing.tail()}"
        sent = finish(pub, ing, store_url, host)
    finally:
        stop_all(pub, ing)
    assert len(sent) > before + 30 * STORE_DOWN_S * 0.8
    return sent, failures


def test_influxd_stopped(
    broker_factory: Callable[..., Mosquitto],
    influxd_factory: Callable[[], Influxd],
    topic_prefix: str,
    unique: str,
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    server = influxd_factory()
    store_url = server.store_url(unique)

    def outage() -> None:
        server.stop()
        time.sleep(STORE_DOWN_S)
        server.start()

    sent, failures = _run_with_store_down(
        broker_factory(), store_url, topic_prefix, unique, tmp_path, outage
    )
    note = f"{failures} failed writes retried"
    figures = count(f"3a. influxd stopped {STORE_DOWN_S} s", store_url, sent, started, note)
    assert (figures.lost, figures.duplicates) == (0, 0)


def test_sqlite_locked(
    broker_factory: Callable[..., Mosquitto],
    sqlite_url: str,
    topic_prefix: str,
    unique: str,
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    path = sqlite_url.removeprefix("sqlite:///")

    def outage() -> None:
        holder = subprocess.Popen(
            [sys.executable, "-c", _HOLD_LOCK, path, str(STORE_DOWN_S)], stdout=subprocess.PIPE
        )
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == b"locked"
            assert holder.wait(STORE_DOWN_S + 10) == 0
        finally:
            stop_all(holder)

    sent, failures = _run_with_store_down(
        broker_factory(), sqlite_url, topic_prefix, unique, tmp_path, outage
    )
    note = f"{failures} failed writes retried"
    figures = count(f"3b. SQLite locked {STORE_DOWN_S} s", sqlite_url, sent, started, note)
    assert (figures.lost, figures.duplicates) == (0, 0)
