"""Scenario 6: publishers with clock trouble. One whose wall clock jumps an hour back
mid-run, one running 10 minutes ahead. As docs/protocol.md says: old sample times are
accepted (stored under their own time), times beyond --max-clock-skew (5 min) ahead are
dead-lettered `clock_skew`; nothing crashes and nothing is stored twice.

The clock is moved by a test-only wrapper around `ifpulse publish` that injects a skewed
wall clock into the publisher (the constructor's `wallclock` default), read from a file
the test rewrites; no user-facing option exists for it.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from schemas import Reason, decode_rejection
from stores import open_store
from tests.faults.pipeline import (
    clean_env,
    count,
    fake_host,
    publisher_args,
    publisher_sent,
    python_in,
    start_ingestor,
    stop_all,
    stored_count,
)
from tests.fixtures.proc_trees import FakeHost
from tests.integration.ingestor.helpers import FAR_FUTURE, FAR_PAST, Collector, wait_for
from tests.integration.publisher.helpers import ROOT, PublisherProcess
from tests.services.mosquitto import Mosquitto

pytestmark = pytest.mark.faults

_SKEWED_PUBLISHER = """
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from publisher import service
from publisher.cli import main

offset_file = Path(sys.argv[1])


def skewed_clock() -> datetime:
    try:
        offset = float(offset_file.read_text())
    except (OSError, ValueError):
        offset = 0.0
    return datetime.now(UTC) + timedelta(seconds=offset)


service.Publisher.__init__.__kwdefaults__["wallclock"] = skewed_clock
sys.exit(main(sys.argv[2:]))
"""


class SkewedPublisher(PublisherProcess):
    """`ifpulse publish` whose wall clock is now + the seconds written in `offset_file`."""

    def __init__(self, fake: FakeHost, workdir: Path, offset: float, *args: str) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.log = workdir / "publisher.log"
        self.spool = workdir / "spool.db"
        self.offset_file = workdir / "offset"
        self.jump(offset)
        argv = [
            *python_in(), "-c", _SKEWED_PUBLISHER, str(self.offset_file),
            "--proc-root", str(fake.proc), "--sys-root", str(fake.sys),
            "--spool", str(self.spool), *args,
        ]  # fmt: skip
        with self.log.open("wb") as out:
            self.popen = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=clean_env()
            )

    def jump(self, offset: float) -> None:
        """Set the clock to now + offset seconds (atomically: the publisher reads it live)."""
        tmp = self.offset_file.with_suffix(".tmp")
        tmp.write_text(str(offset))
        tmp.replace(self.offset_file)


def test_clock_jumping_back_is_stored_and_ahead_is_dead_lettered(
    broker_factory: Callable[..., Mosquitto],
    sqlite_url: str,
    topic_prefix: str,
    unique: str,
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    broker = broker_factory()
    fake = fake_host(tmp_path / "host")
    back, ahead = f"{unique}-back", f"{unique}-ahead"
    rejected = Collector(broker, f"{topic_prefix}/v1/_rejected")
    ing = start_ingestor(broker, sqlite_url, topic_prefix, f"ing-{unique}", tmp_path / "i.log")
    jumper = SkewedPublisher(
        fake, tmp_path / "back", 0, *publisher_args(broker.url, back, topic_prefix)
    )
    future = SkewedPublisher(
        fake, tmp_path / "ahead", 600, *publisher_args(broker.url, ahead, topic_prefix)
    )
    try:
        wait_for(lambda: stored_count(sqlite_url, back) >= 30, 20, ing.tail)
        jumper.jump(-3600)  # NTP corrects a clock that was an hour fast, say
        before = stored_count(sqlite_url, back)
        wait_for(lambda: stored_count(sqlite_url, back) >= before + 30, 20, ing.tail)
        wait_for(lambda: rejected.count() >= 30, 20, ing.tail)
        for proc in (jumper, future):
            assert proc.popen.poll() is None, proc.output()[-2000:]
            assert proc.terminate() == 0, proc.output()[-2000:]
        sent_back = publisher_sent(back, jumper.spool)
        sent_ahead = publisher_sent(ahead, future.spool)
        wait_for(lambda: stored_count(sqlite_url, back) >= len(sent_back), 20, ing.tail)
        wait_for(lambda: rejected.count() >= len(sent_ahead), 20, ing.tail)
        assert ing.popen.poll() is None, f"the ingestor crashed:\n{ing.tail()}"
        assert ing.stop(signal.SIGTERM) == 0, ing.tail()
    finally:
        rejected.close()
        stop_all(jumper, future, ing)
    dead = [decode_rejection(p) for p in rejected.payloads]
    assert {d.reason for d in dead} == {Reason.CLOCK_SKEW}
    assert len(dead) == len(sent_ahead), "one dead letter per future sample, no more"
    assert all(f"/{ahead}/" in d.topic for d in dead)
    store = open_store(sqlite_url)
    try:
        times = [s.ts for s in store.samples(back, None, FAR_PAST, FAR_FUTURE)]
    finally:
        store.close()
    assert max(times) - min(times) > timedelta(minutes=50), "the clock did not jump"
    figures = count("6a. clock jumps back 1 h", sqlite_url, sent_back, started, host=back)
    assert (figures.lost, figures.duplicates) == (0, 0)
    note = f"{len(dead)} dead-lettered clock_skew (by design)"
    figures = count("6b. clock 10 min ahead", sqlite_url, sent_ahead, started, note, host=ahead)
    assert figures.stored == 0 and figures.lost == len(sent_ahead) == len(dead)
