"""Scenario 1: the broker stops mid-stream for OUTAGE_S and comes back, with and without
mosquitto persistence. With persistence every sample is stored exactly once.

Without persistence the restarted broker has forgotten the ingestor's subscriptions; the
publisher notices that the broker lost its own session too and holds its backlog
(--broker-reset-hold) until the ingestor has had time to subscribe again. What such a broker
had acknowledged but not yet forwarded when it stopped is gone (at most the publisher's
in-flight window): no client can recover it, which is why deploy/ runs with persistence."""

from __future__ import annotations

import re
import signal
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
from tests.integration.publisher.test_sigkill import Traffic
from tests.services.mosquitto import Mosquitto

pytestmark = pytest.mark.faults
OUTAGE_S = 60  # issue 9: the broker stopped 60 s mid-stream
MAX_INFLIGHT = 20  # the publisher's default --max-inflight


def _spool_depth(log: str) -> int:
    """The spool depth the publisher's last cycle reported (its DEBUG log)."""
    depths = re.findall(r"spool depth (\d+)", log[-5000:])
    return int(depths[-1]) if depths else 1 << 30


@pytest.mark.parametrize("persistence", [True, False], ids=["persistent", "in-memory"])
def test_broker_down_then_back_loses_nothing(
    broker_factory: Callable[..., Mosquitto],
    sqlite_url: str,
    topic_prefix: str,
    unique: str,
    tmp_path: Path,
    persistence: bool,
) -> None:
    started = time.monotonic()
    broker = broker_factory(persistence=persistence)
    fake = fake_host(tmp_path / "host")
    traffic = Traffic(fake)
    ing = start_ingestor(broker, sqlite_url, topic_prefix, f"ing-{unique}", tmp_path / "i.log")
    pub = start_publisher(
        fake, tmp_path / "pub", broker.url, unique, topic_prefix, "--broker-reset-hold", "3"
    )
    try:
        wait_for(lambda: stored_count(sqlite_url, unique) >= 30, 20, ing.tail)
        broker.stop()
        time.sleep(OUTAGE_S)
        broker.start()
        reconnected = lambda: ing.tail().count("connected (session present") >= 2  # noqa: E731
        wait_for(reconnected, 20, ing.tail)
        # Past any hold, the backlog drains while live samples flow; then stop the publisher.
        time.sleep(4)
        wait_for(lambda: _spool_depth(pub.output()) < 10, 30, lambda: pub.output()[-2000:])
        sent = finish(pub, ing, sqlite_url, unique, complete=persistence)
    finally:
        traffic.close()
        stop_all(pub, ing)
    mode = "persistent" if persistence else "in-memory"
    note = (
        ""
        if persistence
        else "backlog held until the ingestor resubscribed; lost = acked by the dying broker"
    )
    figures = count(f"1. broker down {OUTAGE_S} s ({mode})", sqlite_url, sent, started, note)
    assert figures.sent >= 30 * (OUTAGE_S + 2) * 0.8, "the publisher kept sampling meanwhile"
    assert figures.duplicates == 0
    if persistence:
        assert figures.lost == 0
    else:
        assert "the broker lost our session" in pub.output()
        assert figures.lost <= MAX_INFLIGHT, "only what the dying broker had acknowledged"
    assert ing.popen.returncode == 0 and pub.popen.returncode == 0
    assert "connection to the broker lost" in pub.output()
    assert signal.SIGKILL not in (ing.popen.returncode, pub.popen.returncode)
