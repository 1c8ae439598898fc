"""Drain one QoS 1 backlog from one mosquitto: a bare paho counter vs `ifpulse ingest`.

    python bench/ingest_throughput.py                       # 30,000 samples: bare, SQLite, influxd
    python bench/ingest_throughput.py --samples 100000 --batch-size 1000 --stores sqlite
    python bench/ingest_throughput.py --stores influx --age-hours 24   # a day-old backlog
    git worktree add /tmp/before HEAD~3 && python bench/ingest_throughput.py --baseline /tmp/before
Every contender gets its own persistent session, created before the backlog is published, so
all read the same N queued messages at broker speed (the publisher is not in the timing). The
samples are full publisher-form `InterfaceSample`s (deltas, rates, link facts; ~690 B). The
ingestors run as child processes (`python -m ifpulse ingest`), ack-after-write, and are timed
from their first received message to N stored, read from their /metrics.
"""

from __future__ import annotations

import argparse
import contextlib
import shlex
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
from common import (
    Mosquitto,
    command_line,
    cpu_seconds,
    free_port,
    ifpulse,
    metric,
    sigterm_as_interrupt,
    start,
    started_broker,
    started_influxd,
)
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from store_load import fake_sample

from ingestor.settings import Settings
from schemas import TopicScheme, encode
from tests.integration.ingestor.helpers import Publisher

PREFIX = "bench"
LAST_WRITE = "ifpulse_ingest_last_write_timestamp_seconds"
SCHEME = TopicScheme(PREFIX)


def session(broker: Mosquitto, client_id: str, topic: str) -> None:
    """Create a persistent session with a subscription, then leave (the broker queues)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    client.connect(broker.host, broker.port, clean_start=True, properties=props)
    client.loop_start()
    client.subscribe(topic, qos=1)
    time.sleep(0.3)
    client.disconnect()
    client.loop_stop()


def backlog(
    broker: Mosquitto, n: int, hosts: int = 10, ifaces: int = 10, age: float = 0.0
) -> tuple[int, float]:
    """Publish n distinct samples at QoS 1, `age` s old (PUBACKs awaited); (bytes, msg/s)."""
    names = [(f"host{h:03d}", f"eth{i}") for h in range(hosts) for i in range(ifaces)]
    per = -(-n // len(names))
    # Recent times, 0.1 s apart: live traffic. Old samples take the stores' backfill path
    # (influx recomputes rollups per batch), which bench/backlog_replay.py measures.
    t0 = datetime.now(UTC) - timedelta(seconds=per * 0.1 + 5 + age)
    step = timedelta(milliseconds=100)
    samples = [fake_sample(h, i, t0 + k * step, k) for k in range(per) for h, i in names][:n]
    pub = Publisher(broker)
    started = time.perf_counter()
    pub.publish_samples(SCHEME, samples)
    rate = n / (time.perf_counter() - started)
    pub.close()
    return len(encode(samples[0])), rate


def bare(broker: Mosquitto, n: int, receive_maximum: int) -> float:
    """A paho subscriber that only counts (QoS 1, auto ack); returns msg/s."""
    done = threading.Event()
    count = [0, 0.0]

    def on_message(_c: mqtt.Client, _u: object, _m: mqtt.MQTTMessage) -> None:
        if count[0] == 0:
            count[1] = time.perf_counter()
        count[0] += 1
        if count[0] >= n:
            done.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-bare", protocol=mqtt.MQTTv5)
    client.on_message = on_message
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    props.ReceiveMaximum = receive_maximum
    client.connect(broker.host, broker.port, clean_start=False, properties=props)
    client.loop_start()
    if not done.wait(600):
        raise SystemExit(f"bare subscriber got only {count[0]} of {n}")
    elapsed = time.perf_counter() - count[1]
    client.disconnect()
    client.loop_stop()
    return n / elapsed


def ingest_args(
    broker: Mosquitto, store: str, client_id: str, port: int, batch: int, group: str | None
) -> list[str]:
    """The arguments of `ifpulse ingest` for one bench ingestor."""
    args = [
        "ingest", "--broker", broker.url, "--store", store, "--topic-prefix", PREFIX,
        "--client-id", client_id, "--batch-size", str(batch), "--metrics-port", str(port),
        "--log-level", "WARNING",
    ]  # fmt: skip
    return args + (["--group", group] if group else [])


@dataclass
class Run:
    """What a set of ingestors did with the backlog."""

    rate: float
    elapsed: float
    received: float
    stored: float
    store_s: float
    cpu_s: float
    polled_rate: float
    """The rate with the end taken when this script saw N stored (up to one poll late)."""


def stamps_writes(port: int) -> bool | None:
    """Whether the ingestor behind `port` exports the time of its last write (None: not up)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:
            return LAST_WRITE.encode() in resp.read()
    except OSError:
        return None


def ingestors(
    stack: contextlib.ExitStack, argvs: Sequence[list[str]], ports: Sequence[int], n: int, tmp: Path
) -> Run:
    """Start ingestors at once; time from the first received message to N stored in total."""
    procs = []
    for k, argv in enumerate(argvs):
        log = tmp / f"ingest-{argv[argv.index('--client-id') + 1]}.log"
        # Not waiting for each to be ready: all start together, and the clock starts at the
        # first message any of them received.
        procs.append(start(stack, argv, log, lambda: True, f"ingestor {k}"))
    cpu0 = sum(cpu_seconds(p.popen.pid) for p in procs if p.popen)

    def total(name: str) -> float:
        return sum(metric(port, name) for port in ports)

    deadline, first, poll = time.monotonic() + 900, 0.0, 0.01
    while time.monotonic() < deadline:
        if not first and total("ifpulse_ingest_received_total") > 0:
            first = time.time()
            # Each scrape costs the ingestor CPU (~3.6 % of its GIL time at 10 scrapes/s,
            # py-spy), a cost the bare counter does not pay. Ingestors that stamp their last
            # write are polled every 0.5 s (the end is the stamp); older ones every 0.1 s
            # (their end is when this loop saw N stored, up to 0.1 s late).
            poll = 0.0
        if first and not poll:
            # Decided once every ingestor answers: with several, one may still be starting
            # when another receives the first message.
            answers = [stamps_writes(port) for port in ports]
            if None not in answers:
                poll = 0.5 if all(answers) else 0.1
        if first and total("ifpulse_ingest_stored_total") >= n:
            polled = time.time() - first
            # The end: when the last write finished, by the ingestors' own stamp (an ingestor
            # older than that metric: when this loop saw it).
            stamp = max(metric(port, LAST_WRITE) for port in ports)
            elapsed = stamp - first if stamp > first else polled
            cpu = sum(cpu_seconds(p.popen.pid) for p in procs if p.popen) - cpu0
            time.sleep(0.3)  # let late duplicates, if any, show in the counters
            run = Run(n / elapsed, elapsed, total("ifpulse_ingest_received_total"),
                      total("ifpulse_ingest_stored_total"),
                      total("ifpulse_ingest_store_write_seconds_sum"), cpu, n / polled)  # fmt: skip
            for p in procs:
                p.stop()
            return run
        for p in procs:
            if p.popen and p.popen.poll() is not None:
                raise SystemExit(f"{p.name} exited:\n{p.tail()}")
        # Fast until the first message (the start is then up to 0.01 s late), then `poll`.
        time.sleep(poll or 0.01)
    raise SystemExit(f"ingestors did not store {n} within 900 s")


def baseline_cmd(checkout: Path, args: list[str]) -> list[str]:
    """argv of `python -m ifpulse ARGS` running the code of another checkout."""
    # -m would put the current directory (this checkout) first on sys.path.
    code = (f"import runpy, sys; sys.path.insert(0, {str(checkout.resolve())!r}); "
            "runpy.run_module('ifpulse', run_name='__main__', alter_sys=True)")  # fmt: skip
    return [sys.executable, "-c", code, *args]


def main(argv: list[str]) -> int:
    """Run the bare counter and one ingestor per store on one backlog; print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=30_000)
    parser.add_argument("--batch-size", type=int, default=500, help="ingestor --batch-size")
    parser.add_argument("--stores", default="sqlite,influx", help="sqlite, influx or both")
    parser.add_argument(
        "--age-hours", type=float, default=0.0, help="stamp the samples this old (a replay)"
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        help="also run the ingestor of this checkout (e.g. a git worktree of an older commit), "
        "on the same backlog, for a before/after comparison in one run",
    )
    args = parser.parse_args(argv)
    sigterm_as_interrupt()
    stores = [s for s in args.stores.split(",") if s]
    rows: list[tuple[str, float, Run | None]] = []
    with tempfile.TemporaryDirectory(prefix="ifpulse-bench-") as t, contextlib.ExitStack() as stack:
        tmp = Path(t)
        broker = started_broker(stack, tmp)
        urls = {"sqlite": lambda db: f"sqlite:///{tmp}/{db}.db"}
        if "influx" in stores:
            influxd = started_influxd(stack, tmp)
            urls["influx"] = influxd.store_url
        contenders = [(s, "", "ifpulse ingest") for s in stores]
        if args.baseline:
            # Interleaved, so that a change in the machine's load hits both alike.
            contenders = [c for s in stores for c in ((s, "", "ifpulse ingest"),
                          (s, "-base", "baseline ingest"))]  # fmt: skip
        for cid in ["bench-bare", *(f"bench-{s}{tag}" for s, tag, _ in contenders)]:
            session(broker, cid, SCHEME.sample_filter())
        size, pub_rate = backlog(broker, args.samples, age=args.age_hours * 3600)
        # The same window as the ingestors ask for, so that the ceiling is not held back.
        window = Settings.model_validate({"store": "x", "batch_size": args.batch_size})
        bare_rate = bare(broker, args.samples, window.effective_receive_maximum)
        rows.append(("bare paho subscriber (count only)", bare_rate, None))
        commands = []
        for s, tag, label in contenders:
            port = free_port()
            # Each contender writes into a store of its own: none overwrites another's points.
            url = urls[s](f"bench{tag.replace('-', '_')}")
            ingest = ingest_args(broker, url, f"bench-{s}{tag}", port, args.batch_size, None)
            cmd = baseline_cmd(args.baseline, ingest) if tag else ifpulse(*ingest)
            commands.append(shlex.join(cmd[1:]).replace(t, "$TMP"))
            run = ingestors(stack, [cmd], [port], args.samples, tmp)
            rows.append((f"{label} -> {s}", run.rate, run))
    print(f"command: {command_line()}")
    print(f"backlog: {args.samples} samples of {size} B, QoS 1, one mosquitto "
          f"(published at {pub_rate:,.0f}/s by paho, not timed)")  # fmt: skip
    for name, rate, run in rows:
        extra = ""
        if run is not None:
            extra = (f"  ratio {rate / bare_rate:.2f}  store.write_batch {run.store_s:.1f} s of "
                     f"{run.elapsed:.1f} s, ingestor CPU {run.cpu_s / args.samples * 1e6:.0f} "
                     f"us/sample (end as polled: {run.polled_rate / bare_rate:.2f})")  # fmt: skip
        print(f"{name:<36} {rate:>8,.0f} samples/s{extra}")
    for c in commands:
        print(f"ingestor: {c}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
