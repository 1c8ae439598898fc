"""Backlog replay: a publisher with 1 hour of spooled samples for 20 interfaces reconnects.

    python bench/backlog_replay.py                        # default --replay-rate (200/s)
    python bench/backlog_replay.py --rates 200,1000 --store influx
The spool of host `replay` is filled with 1 h x 20 interfaces of 10 s samples (7,200
publisher-form samples, oldest first) as if the broker had been away; then the real
`ifpulse publish` starts over a fake /proc + /sys tree with the same 20 interfaces, next to a
running mosquitto and `ifpulse ingest`. Reported per replay rate: time until the backlog is
stored, the achieved rate, and the CPU share of publisher, broker and ingestor meanwhile.
"""

from __future__ import annotations

import argparse
import contextlib
import shlex
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import (
    Mosquitto,
    Process,
    command_line,
    cpu_seconds,
    free_port,
    ifpulse,
    metric,
    port_open,
    sigterm_as_interrupt,
    start,
    started_broker,
    started_influxd,
)
from store_load import INTERVAL, fake_sample

from publisher.spool import Spool
from schemas import TopicScheme, encode
from tests.fixtures.proc_trees import FakeHost

PREFIX = "bench"
IFACES = 20


def fill_spool(path: Path, host: str, hours: float) -> int:
    """Spool `hours` of 10 s samples of IFACES interfaces, oldest first; how many."""
    scheme = TopicScheme(PREFIX)
    steps = int(hours * 3600) // INTERVAL
    start_ts = datetime.now(UTC) - timedelta(seconds=steps * INTERVAL)
    spool = Spool(path)
    try:
        for k in range(steps):
            ts = start_ts + timedelta(seconds=k * INTERVAL)
            items = [
                (scheme.sample(host, f"eth{i}"), encode(fake_sample(host, f"eth{i}", ts, k)))
                for i in range(IFACES)
            ]
            spool.put(items, last_seq=k)
    finally:
        spool.close()
    return steps * IFACES


def replay(
    stack: contextlib.ExitStack, tmp: Path, broker: Mosquitto, url: str, rate: float, hours: float
) -> tuple[dict[str, float], str]:
    """One replay at `rate`: figures and the publisher's command line."""
    host = f"replay{int(rate)}"
    work = tmp / host
    fake = FakeHost(work / "host")
    for i in range(IFACES):
        fake.add(f"eth{i}", speed=1000)
    n = fill_spool(work / "spool.db", host, hours)
    port = free_port()
    ing_cmd = ifpulse("ingest", "--broker", broker.url, "--store", url, "--topic-prefix", PREFIX,
                      "--client-id", f"bench-{host}", "--metrics-port", str(port),
                      "--log-level", "WARNING")  # fmt: skip
    ing = start(stack, ing_cmd, work / "ingest.log", lambda: port_open(port), "ingestor")
    time.sleep(1.5)  # subscribed
    spool = str(work / "spool.db")
    pub_cmd = ifpulse("publish", "--broker", broker.url, "--host-id", host, "--proc-root",
                      str(fake.proc), "--sys-root", str(fake.sys), "--spool", spool,
                      "--topic-prefix", PREFIX, "--replay-rate", f"{rate:g}",
                      "--no-ha-discovery", "--log-level", "WARNING")  # fmt: skip
    pub = start(stack, pub_cmd, work / "publish.log", lambda: True, "publisher")
    procs: dict[str, Process] = {"publisher": pub, "ingestor": ing, "broker": broker.process}
    # The clock starts at the first sample the ingestor receives: the publisher's start-up
    # (imports, connect) is not part of the replay.
    while metric(port, "ifpulse_ingest_received_total") == 0:
        if pub.popen and pub.popen.poll() is not None:
            raise SystemExit(f"publisher exited:\n{pub.tail()}")
        time.sleep(0.01)
    t0 = time.perf_counter()
    before = {k: cpu_seconds(p.popen.pid) for k, p in procs.items() if p.popen}
    while metric(port, "ifpulse_ingest_stored_total") < n:
        if pub.popen and pub.popen.poll() is not None:
            raise SystemExit(f"publisher exited:\n{pub.tail()}")
        if time.perf_counter() - t0 > 3600:
            raise SystemExit("backlog not stored within an hour")
        time.sleep(0.1)  # a /metrics scrape costs the ingestor CPU: not too often
    took = time.perf_counter() - t0
    figures = {"samples": n, "seconds": took, "rate": n / took}
    for k, p in procs.items():
        if p.popen:
            figures[k] = (cpu_seconds(p.popen.pid) - before[k]) / took
    pub.stop()
    ing.stop()
    return figures, shlex.join(pub_cmd[1:]).replace(str(tmp), "$TMP")


def main(argv: list[str]) -> int:
    """Replay the same backlog at each rate; print drain time and load."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="200", help="publisher --replay-rate values")
    parser.add_argument("--hours", type=float, default=1.0, help="of spooled samples")
    parser.add_argument("--store", choices=("sqlite", "influx"), default="sqlite")
    args = parser.parse_args(argv)
    sigterm_as_interrupt()
    rows, cmd = [], ""
    with tempfile.TemporaryDirectory(prefix="ifpulse-bench-") as t, contextlib.ExitStack() as stack:
        tmp = Path(t)
        broker = started_broker(stack, tmp)
        url = f"sqlite:///{tmp}/replay.db"
        if args.store == "influx":
            influxd = started_influxd(stack, tmp)
            url = influxd.store_url("replay")
        for rate in (float(r) for r in args.rates.split(",")):
            figures, cmd = replay(stack, tmp, broker, url, rate, args.hours)
            rows.append((rate, figures))
    print(f"command: {command_line()}")
    print(f"backlog: {args.hours:g} h x {IFACES} ifaces at {INTERVAL} s in the spool, store "
          f"{args.store}; CPU = share of one core while draining")  # fmt: skip
    print(f"{'replay-rate':>11} {'samples':>8} {'drained in':>10} {'achieved':>9} "
          f"{'publisher':>9} {'broker':>7} {'ingestor':>8}")  # fmt: skip
    for rate, f in rows:
        print(f"{rate:>9,.0f}/s {f['samples']:>8,.0f} {f['seconds']:>8.1f} s {f['rate']:>7,.0f}/s "
              f"{f['publisher']:>9.0%} {f['broker']:>7.0%} {f['ingestor']:>8.0%}")  # fmt: skip
    print(f"publisher: {cmd}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
