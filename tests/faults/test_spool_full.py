"""Scenario 7: the broker is away long enough to fill a small spool: the size cap holds, the
oldest samples are dropped, and the count of dropped samples reaches the host's status in
the store (which the api serves as `spool_dropped`)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from stores import open_store
from tests.faults.pipeline import (
    count,
    fake_host,
    finish,
    start_ingestor,
    start_publisher,
    stop_all,
    stored_points,
)
from tests.integration.ingestor.helpers import wait_for
from tests.integration.publisher.test_sigkill import pub_depth
from tests.services.mosquitto import Mosquitto

pytestmark = pytest.mark.faults
CAP_MB = 0.02  # ~30 samples
CAP_BYTES = int(CAP_MB * 2**20)
MAX_INFLIGHT = 20  # the publisher's default --max-inflight


def spool_bytes(path: Path) -> int:
    """Bytes the spool accounts for (the figure its cap applies to)."""
    if not path.exists():
        return 0
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(db.execute("SELECT coalesce(sum(size), 0) FROM batch").fetchone()[0])
    except sqlite3.OperationalError:  # not created yet
        return 0
    finally:
        db.close()


def test_spool_cap_drops_the_oldest_and_reports_the_count(
    broker_factory: Callable[..., Mosquitto],
    sqlite_url: str,
    topic_prefix: str,
    unique: str,
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    broker = broker_factory()
    ing = start_ingestor(broker, sqlite_url, topic_prefix, f"ing-{unique}", tmp_path / "i.log")
    broker.stop()  # the ingestor's session stays on the (persistent) broker
    fake = fake_host(tmp_path / "host")
    pub = start_publisher(
        fake, tmp_path / "pub", broker.url, unique, topic_prefix, "--spool-max-mb", str(CAP_MB)
    )
    try:
        peak = 0
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # ~150 samples into a ~30-sample spool
            peak = max(peak, spool_bytes(pub.spool))
            time.sleep(0.05)
        wait_for(lambda: "spool full" in pub.output(), 5, "the spool filling up")
        broker.start()
        wait_for(lambda: pub_depth(pub) < 10, 20, "the spool drained after the broker's return")
        sent = finish(pub, ing, sqlite_url, unique, complete=False)
    finally:
        stop_all(pub, ing)
    stored = sorted(seq for h, _, seq in stored_points(sqlite_url) if h == unique)
    store = open_store(sqlite_url)
    try:
        record = store.host(unique)
    finally:
        store.close()
    assert record is not None
    note = f"cap {CAP_BYTES} B, peak {peak} B, spool_dropped {record.spool_dropped}"
    figures = count("7. spool full (broker away 5 s)", sqlite_url, sent, started, note)
    assert peak <= CAP_BYTES, "the spool grew past its cap"
    assert figures.lost > 0 and figures.duplicates == 0
    # The oldest went first: what is missing is seq 0 .. lost-1, and nothing after.
    assert stored == list(range(figures.lost, len(sent)))
    # Every lost sample is counted. Up to the in-flight window (--max-inflight, 20) of the
    # dropped rows may already have been handed to the MQTT client and still arrive, so the
    # count is an upper bound, never an undercount.
    assert figures.lost <= record.spool_dropped <= figures.lost + MAX_INFLIGHT
