"""Scenario 4: the publisher is SIGKILLed with a backlog in its spool (broker down) and
restarted on the same spool: the backlog and the new samples are all stored, once."""

from __future__ import annotations

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
from tests.integration.publisher.helpers import read_spool
from tests.integration.publisher.test_sigkill import Traffic, pub_depth
from tests.services.mosquitto import Mosquitto

pytestmark = pytest.mark.faults
BACKLOG = 150


def test_publisher_sigkill_with_a_backlog_then_restart(
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
    ing = start_ingestor(broker, sqlite_url, topic_prefix, f"ing-{unique}", tmp_path / "i.log")
    first = start_publisher(fake, tmp_path / "pub", broker.url, unique, topic_prefix)
    second = None
    try:
        wait_for(lambda: stored_count(sqlite_url, unique) >= 30, 20, ing.tail)
        broker.stop()
        wait_for(lambda: pub_depth(first) >= BACKLOG, 30, "a backlog in the spool")
        first.kill()
        backlog, _ = read_spool(first.spool)
        broker.start()
        second = start_publisher(fake, tmp_path / "pub", broker.url, unique, topic_prefix)
        wait_for(lambda: pub_depth(second) < 30, 30, "the backlog replayed")
        time.sleep(1)
        sent = finish(second, ing, sqlite_url, unique)
    finally:
        traffic.close()
        stop_all(first, second, ing)
    note = f"{len(backlog)} in the spool at the kill"
    figures = count("4. publisher kill -9 with a backlog", sqlite_url, sent, started, note)
    assert len(backlog) >= BACKLOG
    assert (figures.lost, figures.duplicates) == (0, 0)
