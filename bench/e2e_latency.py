"""End-to-end latency: a sample's timestamp to the moment `/api/v1/servers/{id}` shows it.

    python bench/e2e_latency.py                       # 1,000 hosts x 10 ifaces every 10 s, 6 rounds
    python bench/e2e_latency.py --rounds 30 --store influx
One child process simulates the fleet: every host publishes its 10 samples (QoS 1, stamped
with the wall clock at publish) once per interval, hosts spread evenly over the interval as
unsynchronised hosts would be. mosquitto, `ifpulse ingest` (default batching: 500 / 1 s) and
`ifpulse api` run as processes. Probe threads poll a few hosts' `/servers/{id}` every 50 ms
from the moment each is due, and record (first poll showing the new last_seen) - last_seen.
The first round is warm-up and not counted; resolution is the 50 ms poll period.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx2 as httpx
import paho.mqtt.client as mqtt
from common import (
    command_line,
    cpu_seconds,
    free_port,
    ifpulse,
    median,
    pct,
    port_open,
    sigterm_as_interrupt,
    start,
    started_broker,
    started_influxd,
)
from paho.mqtt.enums import CallbackAPIVersion
from store_load import fake_sample

from schemas import TopicScheme, encode

PREFIX = "bench"
POLL = 0.05


def fleet(port: int, hosts: int, ifaces: int, interval: float, rounds: int, t0: float) -> None:
    """The simulated hosts (child process): each host's samples at its slot in every round."""
    scheme = TopicScheme(PREFIX)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(1000)
    client.connect("127.0.0.1", port)
    client.loop_start()
    names = [f"eth{i}" for i in range(ifaces)]
    late = 0.0
    for r in range(rounds):
        for h in range(hosts):
            due = t0 + r * interval + h * interval / hosts
            wait = due - time.time()
            if wait > 0:
                time.sleep(wait)
            else:
                late = max(late, -wait)
            host, now = f"sim{h:04d}", datetime.now(UTC)
            for i in names:
                client.publish(scheme.sample(host, i), encode(fake_sample(host, i, now, r)), qos=1)
    time.sleep(1)
    client.disconnect()
    client.loop_stop()
    print(f"fleet: worst lag behind schedule {late * 1000:.0f} ms", flush=True)


def probe(
    api: str, host: int, hosts: int, interval: float, rounds: int, t0: float, out: list[float]
) -> None:
    """Follow one host: after each due time, poll until every interface shows the new sample."""
    sid = f"sim{host:04d}"
    with httpx.Client(base_url=api, timeout=10) as http:
        for r in range(rounds):
            due = t0 + r * interval + host * interval / hosts
            time.sleep(max(0.0, due - time.time()))
            seen: set[str] = set()
            deadline = due + interval
            while time.time() < deadline:
                reply = http.get(f"/api/v1/servers/{sid}")
                now = time.time()
                if reply.status_code == 200:
                    for iface in reply.json()["network_interfaces"]:
                        ts = datetime.fromisoformat(iface["last_seen"]).timestamp()
                        if ts >= due - 0.001 and iface["name"] not in seen:
                            seen.add(iface["name"])
                            if r > 0:
                                out.append(now - ts)
                    if len(seen) == len(reply.json()["network_interfaces"]) and seen:
                        break
                time.sleep(POLL)


def main(argv: list[str]) -> int:
    """Start broker, ingestor, api and the fleet; probe; print p50/p99."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--ifaces", type=int, default=10)
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=6, help="the first one is warm-up")
    parser.add_argument("--probes", type=int, default=20, help="hosts followed through the api")
    parser.add_argument("--store", choices=("sqlite", "influx"), default="sqlite")
    parser.add_argument("--fleet", nargs=2, type=float, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.fleet:
        fleet(
            int(args.fleet[0]), args.hosts, args.ifaces, args.interval, args.rounds, args.fleet[1]
        )
        return 0
    sigterm_as_interrupt()
    latencies: list[float] = []
    with tempfile.TemporaryDirectory(prefix="ifpulse-bench-") as t, contextlib.ExitStack() as stack:
        tmp = Path(t)
        broker = started_broker(stack, tmp)
        url = f"sqlite:///{tmp}/e2e.db"
        if args.store == "influx":
            influxd = started_influxd(stack, tmp)
            url = influxd.store_url("e2e")
        ing_cmd = ifpulse("ingest", "--broker", broker.url, "--store", url, "--topic-prefix",
                          PREFIX, "--client-id", "bench-e2e", "--log-level", "WARNING")  # fmt: skip
        ing = start(stack, ing_cmd, tmp / "ingest.log", lambda: True, "ingestor")
        api_port = free_port()
        api_cmd = ifpulse("api", "--store", url, "--port", str(api_port), "--log-level", "warning")
        api = start(stack, api_cmd, tmp / "api.log", lambda: port_open(api_port), "api")
        time.sleep(2)  # the ingestor subscribes
        t0 = time.time() + 2
        fleet_cmd = [sys.executable, __file__, *argv, "--fleet", str(broker.port), str(t0)]
        fleet_proc = subprocess.Popen(fleet_cmd, stdout=subprocess.PIPE, text=True)
        stack.callback(fleet_proc.kill)
        cpu0 = {p.name: cpu_seconds(p.popen.pid) for p in (ing, api) if p.popen}
        api_url = f"http://127.0.0.1:{api_port}"
        timing = (args.hosts, args.interval, args.rounds, t0, latencies)
        # Random hosts, not every k-th: hosts k apart sit at the same place in the ingestor's
        # 500-sample batches (500 = 50 hosts x 10), which would alias the latency.
        chosen = random.Random(1).sample(range(args.hosts), min(args.probes, args.hosts))
        probes = [
            threading.Thread(target=probe, args=(api_url, h, *timing), daemon=True) for h in chosen
        ]
        for th in probes:
            th.start()
        for th in probes:
            th.join()
        wall = time.time() - t0
        cpu = {p.name: cpu_seconds(p.popen.pid) - cpu0[p.name] for p in (ing, api) if p.popen}
        fleet_out, _ = fleet_proc.communicate(timeout=60)
        commands = [shlex.join(c[1:]).replace(t, "$TMP") for c in (ing_cmd, api_cmd)]
    rate = args.hosts * args.ifaces / args.interval
    print(f"command: {command_line()}")
    print(f"fleet: {args.hosts} hosts x {args.ifaces} ifaces every {args.interval:g} s "
          f"= {rate:,.0f} samples/s, {args.rounds} rounds (first is warm-up)")  # fmt: skip
    print(f"store: {args.store}, ingestor and api with default settings")
    print(fleet_out.strip())
    print(f"probed {len(probes)} hosts: {len(latencies)} samples seen through the api")
    print(f"latency ts -> visible: p50 {median(latencies):.2f} s  p99 {pct(latencies, 99):.2f} s  "
          f"max {max(latencies, default=float('nan')):.2f} s")  # fmt: skip
    print("CPU during the run: " + ", ".join(f"{k} {v / wall:.0%}" for k, v in cpu.items()))
    for c in commands:
        print(f"{c}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
