"""Publisher footprint: CPU per collection cycle and RSS over many cycles, 10/50/200 interfaces.

Each size runs in its own fresh process (so RSS figures do not mix), over a fake /proc + /sys
tree whose counters change every cycle. A "cycle" is what the publisher does each interval:
read /proc/net/dev and sysfs, compute deltas and rates, build and encode every sample, commit
them to the SQLite spool, hand them to the transport and delete them from the spool on ack.
`--mqtt` adds the cost of really publishing through a private mosquitto (QoS 1, PUBACKs),
which CPU time then includes (paho's network thread is in the same process).

    python bench/publisher_footprint.py [--cycles 1000] [--sizes 10,50,200] [--mqtt]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class AckingTransport:
    """Acknowledges every message at once: the loop's own cost, without the network."""

    generation = 0
    connected = True

    def __init__(self) -> None:
        self._mid = 0
        self._acks: list[int] = []

    def start(self) -> None:
        pass

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> int:
        self._mid += 1
        self._acks.append(self._mid)
        return self._mid

    def take_acks(self) -> list[int]:
        acks, self._acks = self._acks, []
        return acks

    def close(self, timeout: float = 5.0) -> None:
        pass


def worker(size: int, cycles: int, broker: str | None) -> dict[str, Any]:
    from publisher.cli import build_publisher
    from publisher.settings import load_settings
    from tests.fixtures.proc_trees import FakeHost

    workdir = Path(tempfile.mkdtemp(prefix="ifpulse-bench-"))
    fake = FakeHost(workdir / "host")
    names = [f"eth{i}" if i % 3 else f"veth{i}" for i in range(size)]
    for name in names:
        fake.add(name, speed=1000)
    settings = load_settings(
        {
            "broker": broker or "mqtt://127.0.0.1:1",
            "host_id": "bench",
            "proc_root": str(fake.proc),
            "sys_root": str(fake.sys),
            "spool": str(workdir / "spool.db"),
            "replay_rate": 1e9,
            "max_inflight": 65535,
        }
    )
    publisher = build_publisher(settings)
    if broker is None:
        publisher.transport = AckingTransport()
    publisher.transport.start()
    deadline = time.monotonic() + 10
    while not publisher.transport.connected and time.monotonic() < deadline:
        time.sleep(0.01)

    def one_cycle() -> float:
        for name in names[::7]:  # some traffic on some links
            fake.links[name].counters["rx_bytes"] += 1500
        fake.write_net_dev()  # outside the measurement: the kernel's work, not ours
        start = time.process_time()
        publisher.cycle()
        publisher.pump()
        while not publisher.delivered:
            publisher.wake.wait(0.01)
            publisher.wake.clear()
            publisher.pump()
        return time.process_time() - start

    for _ in range(50):  # warm up: caches, SQLite pages, allocator
        one_cycle()
    rss_start = rss_kib()
    cpu = [one_cycle() for _ in range(cycles)]
    rss_end = rss_kib()
    publisher.shutdown()
    shutil.rmtree(workdir, ignore_errors=True)
    return {
        "size": size,
        "median_ms": statistics.median(cpu) * 1e3,
        "p90_ms": statistics.quantiles(cpu, n=10)[-1] * 1e3,
        "mean_ms": statistics.fmean(cpu) * 1e3,
        "rss_start_mib": rss_start / 1024,
        "rss_end_mib": rss_end / 1024,
    }


def start_mosquitto(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conf = workdir / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_inflight_messages 1000\n"
        + ("user root\n" if os.geteuid() == 0 else "")
    )
    proc = subprocess.Popen([binary, "-c", str(conf)], stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), 0.1).close()
            break
        except OSError:
            time.sleep(0.05)
    return proc, f"mqtt://127.0.0.1:{port}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=1000)
    parser.add_argument("--sizes", default="10,50,200")
    parser.add_argument("--mqtt", action="store_true", help="publish through a real mosquitto")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--broker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.cycles, args.broker)))
        return 0

    print("command:", " ".join([Path(sys.executable).name, *sys.argv]))
    broker_proc, broker = None, None
    if args.mqtt:
        broker_proc, broker = start_mosquitto(Path(tempfile.mkdtemp(prefix="ifpulse-bench-mq-")))
    rows = []
    try:
        for size in (int(s) for s in args.sizes.split(",")):
            cmd = [sys.executable, __file__, "--worker", str(size), "--cycles", str(args.cycles)]
            cmd += ["--broker", broker] if broker else []
            out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT)
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    finally:
        if broker_proc is not None:
            broker_proc.terminate()
            broker_proc.wait(10)
    transport = "real mosquitto, QoS 1" if broker else "acking fake transport (no network)"
    print(f"cycles per size: {args.cycles} (after 50 warm-up); transport: {transport}")
    print(f"{'ifaces':>6} {'cpu/cycle median':>17} {'p90':>8} {'mean':>8} "
          f"{'per iface':>10} {'RSS start':>10} {'RSS end':>9} {'growth':>8}")  # fmt: skip
    for r in rows:
        print(
            f"{r['size']:>6} {r['median_ms']:>14.3f} ms {r['p90_ms']:>5.3f} ms "
            f"{r['mean_ms']:>5.3f} ms {r['median_ms'] * 1e3 / r['size']:>7.1f} us "
            f"{r['rss_start_mib']:>6.1f} MiB {r['rss_end_mib']:>5.1f} MiB "
            f"{r['rss_end_mib'] - r['rss_start_mib']:>+5.2f} MiB"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
