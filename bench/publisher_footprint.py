"""Publisher footprint: CPU per collection cycle and RSS over many cycles, 10/50/200 interfaces.

Each size runs in its own fresh process (so RSS figures do not mix), over a fake /proc + /sys
tree whose counters change every cycle. A "cycle" is what the publisher does each interval:
read /proc/net/dev and sysfs, compute deltas and rates, build and encode every sample, commit
them to the SQLite spool, hand them to the transport and delete them from the spool on ack.
`--mqtt` adds the cost of really publishing through a private mosquitto (QoS 1, PUBACKs),
which CPU time then includes (paho's network thread is in the same process).

`--real N` then runs the real `ifpulse publish` process (50 interfaces, --interval 0.1, real
mosquitto, QoS 1, `--no-ha-discovery` unless `--ha`; with `--netns` over real links, the
broker in their namespace) for N cycles and reads its RSS and CPU time from /proc: the
figure a user sees in `top` (10,000 cycles take 17 minutes at the minimum interval). For
scale, a bare paho client does the same MQTT work in a process of its own: 50 QoS 1 messages
of 700 bytes every 0.1 s, nothing else (no pydantic, no sqlite, no settings), for N cycles
but at most 1,000. Then the floor: the same client importing and using, once, the other
libraries the publisher must have by design (a pydantic model encodes the payload, a
pydantic-settings class gives the broker address), for at most 200 cycles. Its RSS is the
least any publisher built on the project's libraries can have.

    python bench/publisher_footprint.py [--cycles 1000] [--sizes 10,50,200] [--mqtt | --netns]
                                        [--real 600] [--ha]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Literal, get_args

from common import (
    ROOT,
    Mosquitto,
    cpu_seconds,
    ifpulse,
    rss_mib,
    sigterm_as_interrupt,
    start,
    started_broker,
)
from kernel_links import BUSY_EVERY, KernelLinks, Traffic


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class AckingTransport:
    """Acknowledges every message at once: the loop's own cost, without the network."""

    generation = 0
    session_resets = 0
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


def links_to_read(
    root: Path, names: list[str], busy: list[str] | None
) -> tuple[str, str, Callable[[], None]]:
    """(proc root, sys root, traffic) for a fake tree of `names` made under `root`, or, with
    `busy` (the peers to send to), for the real /proc and /sys of the namespace this runs in.
    Calling traffic() moves the counters of every 7th link, as between two cycles."""
    from tests.fixtures.proc_trees import FakeHost

    if busy is not None:
        return "/proc", "/sys", Traffic(busy).send
    fake = FakeHost(root)
    for name in names:
        fake.add(name, speed=1000)

    def traffic() -> None:
        for name in names[::BUSY_EVERY]:  # some traffic on some links
            fake.links[name].counters["rx_bytes"] += 1500
        fake.write_net_dev()  # outside the measurement: the kernel's work, not ours

    return str(fake.proc), str(fake.sys), traffic


def floor_cycle(
    proc: str, sys_root: str, names: list[str], fake: bool, db: Path
) -> Callable[[], None]:
    """What any publisher must do each cycle at the least, and nothing else: read the counters
    (`/proc/net/dev`) and, on a fake tree (which has no link notices), each link's `operstate`
    and `ifindex` by path; then commit the cycle's messages (700 bytes each, as one row, as
    the spool stores them) to a SQLite WAL file and delete the previous cycle's row."""
    import os
    import sqlite3

    paths = [f"{proc}/net/dev"]
    if fake:
        paths += [f"{sys_root}/class/net/{n}/{a}" for n in names for a in ("operstate", "ifindex")]
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE batch (first INTEGER PRIMARY KEY, payloads BLOB)")
    row = b"x" * (700 * len(names))
    last = [0]

    def cycle() -> None:
        for path in paths:
            fd = os.open(path, os.O_RDONLY)
            while os.read(fd, 65536):
                pass
            os.close(fd)
        last[0] += 1
        conn.execute("BEGIN")
        conn.execute("INSERT INTO batch VALUES (?, ?)", (last[0], row))
        conn.execute("DELETE FROM batch WHERE first = ?", (last[0] - 1,))
        conn.execute("COMMIT")

    return cycle


def worker(
    size: int, cycles: int, broker: str | None, busy: list[str] | None = None
) -> dict[str, Any]:
    """Cycles over a fake tree of `size` links, or (busy: the peers to send to) over the real
    /proc and /sys of the network namespace this runs in (see kernel_links.py)."""
    from publisher.cli import build_publisher
    from publisher.settings import load_settings

    workdir = Path(tempfile.mkdtemp(prefix="ifpulse-bench-"))
    names = [f"eth{i}" if i % 3 else f"veth{i}" for i in range(size)]
    proc, sys_root, traffic = links_to_read(workdir / "host", names, busy)
    settings = load_settings(
        {
            "broker": broker or "mqtt://127.0.0.1:1",
            "host_id": "bench",
            "proc_root": proc,
            "sys_root": sys_root,
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
        traffic()
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
    floor = floor_cycle(proc, sys_root, names, busy is None, workdir / "floor.db")

    def one_floor() -> float:
        traffic()
        time.sleep(0.01)  # the pause the publisher's cycle has while it waits for acks
        start = time.process_time()
        floor()
        return time.process_time() - start

    floor_cpu = [one_floor() for _ in range(50 + min(cycles, 500))][50:]
    shutil.rmtree(workdir, ignore_errors=True)
    return {
        "size": size,
        "median_ms": statistics.median(cpu) * 1e3,
        "floor_ms": statistics.median(floor_cpu) * 1e3,
        "p90_ms": statistics.quantiles(cpu, n=10)[-1] * 1e3,
        "mean_ms": statistics.fmean(cpu) * 1e3,
        "rss_start_mib": rss_start / 1024,
        "rss_end_mib": rss_end / 1024,
    }


Process = Literal["ifpulse", "bare", "floor"]
PROCESSES: tuple[Process, ...] = get_args(Process)

# The bare client runs as `python -c` so that nothing but paho is imported (RSS). With a 4th
# argument it is the floor: paho plus the other libraries the publisher must use by design
# (pydantic for the payload models, pydantic-settings for the settings), each used once.
BARE_PAHO = """
import signal, sys, time
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
url, topic, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
payload = b"x" * 700
if len(sys.argv) > 4:
    from pydantic import BaseModel
    from pydantic_settings import BaseSettings
    class Settings(BaseSettings):
        broker: str = url
    class Message(BaseModel):
        data: str
    url = Settings().broker
    payload = Message(data="x" * 689).model_dump_json().encode()
host, port = url.removeprefix("mqtt://").rsplit(":", 1)
client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
client.max_inflight_messages_set(1000)
client.connect(host, int(port))
client.loop_start()
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
topics = [topic.replace("eth0", f"eth{i}") for i in range(size)]
while True:  # size QoS 1 messages of an encoded sample's size every 0.1 s
    for t in topics:
        client.publish(t, payload, qos=1)
    time.sleep(0.1)
"""


def real(
    cycles: int,
    size: int = 50,
    *,
    ha: bool = False,
    process: Process = "ifpulse",
    busy: list[str] | None = None,
) -> dict[str, float]:
    """Run `process` for `cycles` cycles: `ifpulse publish --interval 0.1`, the bare paho
    client ("bare"), or the floor of the publisher's required libraries ("floor"). It reads
    a fake tree, or (busy: the peers to send to) the real /proc and /sys of the network
    namespace this runs in, with the broker in it too."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from schemas import DEFAULT_PREFIX, TopicScheme

    interval = 0.1
    with tempfile.TemporaryDirectory(prefix="ifpulse-bench-") as t, ExitStack() as stack:
        tmp = Path(t)
        broker = started_broker(stack, tmp)
        names = [f"eth{i}" for i in range(size)]
        proc, sys_root, traffic = links_to_read(tmp / "host", names, busy)
        got = [0]
        sub = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        sub.on_message = lambda _c, _u, _m: got.__setitem__(0, got[0] + 1)
        sub.connect(broker.host, broker.port)
        sub.subscribe(TopicScheme(DEFAULT_PREFIX).sample_filter(), qos=0)
        sub.loop_start()
        stack.callback(sub.loop_stop)
        cmd = ifpulse("publish", "--broker", broker.url, "--host-id", "bench",
                      "--proc-root", proc, "--sys-root", sys_root,
                      "--spool", str(tmp / "spool.db"), "--interval", str(interval),
                      # 500 samples/s: past the default replay rate (200/s) and in-flight
                      # window, which would make the spool grow and cycles look slow.
                      "--replay-rate", "100000", "--max-inflight", "1000",
                      "--log-level", "WARNING")  # fmt: skip
        cmd += [] if ha else ["--no-ha-discovery"]
        if process != "ifpulse":
            topic = TopicScheme(DEFAULT_PREFIX).sample("bench", "eth0")
            cmd = [sys.executable, "-c", BARE_PAHO, broker.url, topic, str(size)]
            cmd += ["floor"] if process == "floor" else []
        pub = start(stack, cmd, tmp / "publish.log", lambda: got[0] > 0, "publisher")
        assert pub.popen is not None
        pid = pub.popen.pid

        def run_cycles(n: int) -> None:
            target = got[0] + n * size
            while got[0] < target:
                traffic()
                time.sleep(interval)
                if pub.popen is not None and pub.popen.poll() is not None:
                    raise SystemExit(f"publisher exited:\n{pub.tail()}")

        run_cycles(50)  # warm up
        rss0, cpu0, n0, t0 = rss_mib(pid), cpu_seconds(pid), got[0], time.perf_counter()
        rss_peak = rss0
        for _ in range(max(1, cycles // 100)):
            run_cycles(min(100, cycles))
            rss_peak = max(rss_peak, rss_mib(pid))
        done = (got[0] - n0) / size
        elapsed = time.perf_counter() - t0
        figures = {
            "cycles": done,
            "seconds": elapsed,
            "cpu_ms": (cpu_seconds(pid) - cpu0) / done * 1e3,
            "rss_start": rss0,
            "rss_end": rss_mib(pid),
            "rss_peak": rss_peak,
        }
        return figures


def real_in_netns(cycles: int, ha: bool, process: Process) -> dict[str, float]:
    """real() inside a network namespace of 50 real links, the broker in it too."""
    links = KernelLinks(50)
    try:
        cmd = [*links.exec_prefix(), sys.executable, __file__, "--real-worker", str(cycles)]
        cmd += ["--busy", json.dumps(links.busy)]
        cmd += (["--ha"] if ha else []) + ["--process", process]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT)
    finally:
        links.close()
    figures: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=1000)
    parser.add_argument("--sizes", default="10,50,200")
    parser.add_argument("--mqtt", action="store_true", help="publish through a real mosquitto")
    parser.add_argument("--real", type=int, default=0, help="cycles of a real `ifpulse publish`")
    parser.add_argument("--ha", action="store_true", help="--real with HA discovery on")
    parser.add_argument(
        "--netns",
        action="store_true",
        help="real kernel interfaces (veth in network namespaces; root) instead of fake trees",
    )
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--broker", help=argparse.SUPPRESS)
    parser.add_argument("--busy", help=argparse.SUPPRESS)
    parser.add_argument("--real-worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--process", choices=PROCESSES, default="ifpulse", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.netns and args.mqtt:
        parser.error("--netns and --mqtt do not mix: the broker listens on the host's loopback")
    if args.real_worker:
        busy = json.loads(args.busy)
        print(json.dumps(real(args.real_worker, ha=args.ha, process=args.process, busy=busy)))
        return 0
    if args.worker:
        busy = None if args.busy is None else json.loads(args.busy)
        print(json.dumps(worker(args.worker, args.cycles, args.broker, busy)))
        return 0

    sigterm_as_interrupt()
    print("command:", " ".join([Path(sys.executable).name, *sys.argv]))
    rows = []
    with ExitStack() as stack:
        broker = None
        if args.mqtt:
            mosquitto = Mosquitto(Path(stack.enter_context(tempfile.TemporaryDirectory())))
            stack.callback(mosquitto.stop)
            mosquitto.start()
            broker = mosquitto.url
        for size in (int(s) for s in args.sizes.split(",")):
            cmd = [sys.executable, __file__, "--worker", str(size), "--cycles", str(args.cycles)]
            cmd += ["--broker", broker] if broker else []
            links = KernelLinks(size) if args.netns else None
            try:
                if links is not None:
                    cmd = [*links.exec_prefix(), *cmd, "--busy", json.dumps(links.busy)]
                out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT)
            finally:
                if links is not None:
                    links.close()
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    transport = "real mosquitto, QoS 1" if broker else "acking fake transport (no network)"
    links_kind = (
        f"real kernel links (lo + veth, every {BUSY_EVERY}th busy) in a network namespace"
        if args.netns
        else "fake /proc + /sys trees (every 7th link busy)"
    )
    print(f"cycles per size: {args.cycles} (after 50 warm-up); transport: {transport}")
    print(f"interfaces: {links_kind}")
    reads = "/proc/net/dev" + ("" if args.netns else " and 2 sysfs files per link by path")
    print(
        f"floor: reading {reads} and committing the cycle's row to SQLite, nothing else "
        "(median of up to 500 cycles after the publisher's, with the same pauses)"
    )
    print(f"{'ifaces':>6} {'cpu/cycle median':>17} {'p90':>8} {'mean':>8} {'floor':>8} "
          f"{'/floor':>6} {'per iface':>10} {'RSS start':>10} {'RSS end':>9} "
          f"{'growth':>8}")  # fmt: skip
    for r in rows:
        print(
            f"{r['size']:>6} {r['median_ms']:>14.3f} ms {r['p90_ms']:>5.3f} ms "
            f"{r['mean_ms']:>5.3f} ms {r['floor_ms']:>5.3f} ms "
            f"{r['median_ms'] / r['floor_ms']:>6.2f} {r['median_ms'] * 1e3 / r['size']:>7.1f} us "
            f"{r['rss_start_mib']:>6.1f} MiB {r['rss_end_mib']:>5.1f} MiB "
            f"{r['rss_end_mib'] - r['rss_start_mib']:>+5.2f} MiB"
        )
    if args.real:
        ha = "on" if args.ha else "off"
        # The references are flat: 1,000 cycles show it, and 200 the floor's RSS.
        processes: tuple[tuple[str, Process, int], ...] = (
            (f"real `ifpulse publish` (HA discovery {ha})", "ifpulse", args.real),
            ("bare paho client, same messages", "bare", min(args.real, 1000)),
            ("floor: the bare client + pydantic + pydantic-settings", "floor", min(args.real, 200)),
        )
        for what, process, cycles in processes:
            if args.netns:
                f = real_in_netns(cycles, args.ha, process)
            else:
                f = real(cycles, ha=args.ha, process=process)
            print(f"{what}, 50 ifaces, --interval 0.1, mosquitto QoS 1: "
                  f"{f['cycles']:,.0f} cycles delivered in {f['seconds']:.0f} s, "
                  f"{f['cpu_ms']:.2f} ms CPU/cycle (process total), "
                  f"RSS {f['rss_start']:.1f} MiB after warm-up, {f['rss_end']:.1f} MiB at the end "
                  f"(peak {f['rss_peak']:.1f}, "
                  f"growth {f['rss_end'] - f['rss_start']:+.2f} MiB)")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
