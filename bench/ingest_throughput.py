"""Drain the same QoS 1 backlog from the same mosquitto: a bare paho counter vs `ifpulse ingest`.

    python bench/ingest_throughput.py                     # 50,000 samples, SQLite, batch 500
    python bench/ingest_throughput.py --samples 20000 --batch-size 1000
Each contender gets its own persistent session, created before the backlog is published, so
both read the same N queued messages at broker speed (the publisher is not in the timing).
The ingestor runs as a child process (`python -m ifpulse ingest`) and is timed from its first
received message to N stored, read from its /metrics.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from schemas import TopicScheme, encode
from tests.integration.ingestor.helpers import Publisher, samples_for
from tests.services.mosquitto import Mosquitto
from tests.services.proc import free_port

PREFIX = "bench"


def _session(broker: Mosquitto, client_id: str, topic: str) -> None:
    """Create a persistent session with a subscription, then leave (the broker queues)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    client.connect(broker.host, broker.port, clean_start=True, properties=props)
    client.loop_start()
    client.subscribe(topic, qos=1)[1]
    time.sleep(0.3)
    client.disconnect()
    client.loop_stop()


def bare(broker: Mosquitto, n: int, topic: str) -> float:
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
    props.ReceiveMaximum = 1000
    client.connect(broker.host, broker.port, clean_start=False, properties=props)
    client.loop_start()
    if not done.wait(600):
        raise SystemExit(f"bare subscriber got only {count[0]} of {n}")
    elapsed = time.perf_counter() - count[1]
    client.disconnect()
    client.loop_stop()
    return n / elapsed


def _metric(port: int, name: str) -> float:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:
            for line in resp.read().decode().splitlines():
                if line.startswith(name + " "):
                    return float(line.split()[1])
    except OSError:
        pass
    return 0.0


def ingest_argv(broker: Mosquitto, store: str, port: int, batch: int) -> list[str]:
    """The ingestor's command line."""
    return [
        sys.executable, "-m", "ifpulse", "ingest", "--broker", broker.url, "--store", store,
        "--topic-prefix", PREFIX, "--client-id", "bench-ingest", "--batch-size", str(batch),
        "--flush-interval", "0.5", "--metrics-port", str(port), "--log-level", "WARNING",
    ]  # fmt: skip


def ingestor(argv: list[str], port: int, n: int, log: Path) -> float:
    """Run `ifpulse ingest` until N stored; returns msg/s from first received to N stored."""
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 600
        first = None
        while time.monotonic() < deadline:
            if first is None and _metric(port, "ifpulse_ingest_received_total") > 0:
                first = time.perf_counter()
            if first is not None and _metric(port, "ifpulse_ingest_stored_total") >= n:
                elapsed = time.perf_counter() - first
                store_s = _metric(port, "ifpulse_ingest_store_write_seconds_sum")
                print(f"ingestor: {store_s:.1f} s of {elapsed:.1f} s inside store.write_batch")
                return n / elapsed
            if proc.poll() is not None:
                raise SystemExit(f"ingestor exited: {log.read_text()[-2000:]}")
            time.sleep(0.02)
        raise SystemExit("ingestor did not store everything within 600 s")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)


def main() -> int:
    """Run both contenders on one backlog and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=50_000)
    parser.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args()
    scheme = TopicScheme(PREFIX)
    with tempfile.TemporaryDirectory(prefix="ifpulse-bench-") as tmp:
        broker = Mosquitto(Path(tmp) / "mosquitto", persistence=False)
        broker.start()
        try:
            port = free_port()
            argv = ingest_argv(broker, f"sqlite:///{tmp}/bench.db", port, args.batch_size)
            _session(broker, "bench-bare", scheme.sample_filter())
            _session(broker, "bench-ingest", scheme.sample_filter())
            hosts = max(1, args.samples // 10_000)
            samples = [
                s
                for h in range(hosts)
                for s in samples_for(f"h{h}", args.samples // hosts, [f"eth{i}" for i in range(10)])
            ]
            size = len(encode(samples[0]))
            pub = Publisher(broker)
            started = time.perf_counter()
            pub.publish_samples(scheme, samples)
            pub_rate = len(samples) / (time.perf_counter() - started)
            pub.close()
            n = len(samples)
            bare_rate = bare(broker, n, scheme.sample_filter())
            ing_rate = ingestor(argv, port, n, Path(tmp) / "ingest.log")
        finally:
            broker.stop()
    print(f"backlog: {n} samples of {size} B, QoS 1, published at {pub_rate:,.0f}/s (paho)")
    print(f"bare paho subscriber (count only): {bare_rate:,.0f} samples/s")
    print(f"ifpulse ingest -> SQLite:          {ing_rate:,.0f} samples/s")
    print(f"ratio ingestor / bare:             {ing_rate / bare_rate:.2f}")
    print("ingestor command: " + shlex.join(argv[1:]).replace(tmp, "$TMP"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
