"""Scenario 5: a lossy, slow link. The publisher runs in a network namespace the test creates,
joined to the root namespace by a veth pair (10.231.x.0/30) limited to 1 Mbit/s (tbf); inside
the namespace iptables drops 20 % of the MQTT packets each way, then all of them for
PARTITION_S; a TCP proxy on the root side adds 300 ms +- 100 ms to every chunk. (tc netem is
not available on these machines; these tools do the same job.) Nothing is lost or doubled.

Only addresses inside the namespace and the root side of its own veth are used; the
namespace (with its veth and firewall rules) is deleted afterwards, even on failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import secrets
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.faults.pipeline import (
    clean_env,
    count,
    fake_host,
    finish,
    publisher_args,
    python_in,
    start_ingestor,
    stop_all,
    stored_count,
)
from tests.fixtures.proc_trees import FakeHost
from tests.integration.ingestor.helpers import wait_for
from tests.integration.publisher.helpers import ROOT, PublisherProcess
from tests.integration.publisher.test_sigkill import pub_depth
from tests.services.mosquitto import Mosquitto
from tests.services.proc import LOOPBACK

pytestmark = pytest.mark.faults
LOSS = 0.2
DELAY_S, JITTER_S = 0.3, 0.1
PARTITION_S = 30  # issue 9: a 30 s full partition


def _run(*argv: str) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {done.stderr.strip()}")


class Netns:
    """A namespace joined to the root one by a veth pair: root side .1, namespace side .2."""

    def __init__(self) -> None:
        token = secrets.token_hex(3)
        self.name, self.outer, self.inner = f"iff{token}", f"vfa{token}", f"vfb{token}"
        used = subprocess.run(["ip", "-o", "addr"], capture_output=True, text=True).stdout
        subnet = next(n for n in random.sample(range(256), 256) if f"10.231.{n}." not in used)
        self.root_ip, self.ns_ip = f"10.231.{subnet}.1", f"10.231.{subnet}.2"

    def create(self) -> None:
        """Namespace, veth pair, addresses, 1 Mbit/s on the namespace side."""
        _run("ip", "netns", "add", self.name)
        _run("ip", "link", "add", self.outer, "type", "veth", "peer", "name", self.inner)
        _run("ip", "link", "set", self.inner, "netns", self.name)
        _run("ip", "addr", "add", f"{self.root_ip}/30", "dev", self.outer)
        _run("ip", "link", "set", self.outer, "up")
        self.exec("ip", "addr", "add", f"{self.ns_ip}/30", "dev", self.inner)
        self.exec("ip", "link", "set", self.inner, "up")
        self.exec("ip", "link", "set", "lo", "up")
        self.exec("tc", "qdisc", "add", "dev", self.inner, "root", "tbf", "rate", "1mbit",
                  "burst", "32kbit", "latency", "400ms")  # fmt: skip

    def exec(self, *argv: str) -> None:
        """Run a command inside the namespace."""
        _run("ip", "netns", "exec", self.name, *argv)

    def drop(self, port: int, probability: float | None, add: bool = True) -> None:
        """Add (or delete) rules dropping the MQTT packets to and from `port`, both ways."""
        odds = [] if probability is None else ["-m", "statistic", "--mode", "random",
                                                "--probability", str(probability)]  # fmt: skip
        verb = ("-I" if probability is None else "-A") if add else "-D"
        for chain, match in (("INPUT", "--sport"), ("OUTPUT", "--dport")):
            self.exec("iptables", verb, chain, "-p", "tcp", match, str(port), *odds, "-j", "DROP")

    def delete(self) -> None:
        """Remove the namespace (its veth end, hence the pair, and its rules go with it)."""
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=30)
        subprocess.run(["ip", "link", "del", self.outer], capture_output=True, timeout=30)


@pytest.fixture
def netns() -> Iterator[Netns]:
    """A fresh namespace; a failure (not a skip) where namespaces cannot be made."""
    ns = Netns()
    if os.geteuid() != 0:
        pytest.fail("the bad-link scenario needs root (ip netns, veth, tc, iptables)")
    try:
        ns.create()
        ns.exec("iptables", "-S")
    except (RuntimeError, FileNotFoundError) as exc:
        ns.delete()
        pytest.fail(f"cannot build the test's network namespace: {exc}", pytrace=False)
    yield ns
    ns.delete()


class DelayProxy:
    """Forwards TCP from `host:<port>` to loopback:`target`, each chunk DELAY_S +- JITTER_S late."""

    def __init__(self, host: str, target: int) -> None:
        self.target = target
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        start = asyncio.start_server(self._handle, host, 0)
        self.server = asyncio.run_coroutine_threadsafe(start, self.loop).result(10)
        self.port = int(self.server.sockets[0].getsockname()[1])

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(LOOPBACK, self.target)
        except OSError:
            writer.close()
            return
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        deliver = asyncio.create_task(self._deliver(queue, writer))
        due = 0.0
        try:
            while data := await reader.read(65536):
                # Order is kept: a chunk never overtakes the one before it.
                due = max(due, self.loop.time() + DELAY_S + random.uniform(-JITTER_S, JITTER_S))
                queue.put_nowait((due, data))
        finally:
            queue.put_nowait((0.0, b""))
            with contextlib.suppress(Exception):
                await deliver

    async def _deliver(
        self, queue: asyncio.Queue[tuple[float, bytes]], writer: asyncio.StreamWriter
    ) -> None:
        try:
            while True:
                due, data = await queue.get()
                if not data:
                    return
                await asyncio.sleep(max(0.0, due - self.loop.time()))
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()

    async def _shutdown(self) -> None:
        self.server.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def close(self) -> None:
        """Stop listening, end every connection, stop the loop."""
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._shutdown(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


class NetnsPublisher(PublisherProcess):
    """`ifpulse publish` inside the namespace (`ip netns exec` execs it: the PID is its own)."""

    def __init__(self, ns: Netns, fake: FakeHost, workdir: Path, *args: str) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.log = workdir / "publisher.log"
        self.spool = workdir / "spool.db"
        argv = [
            *python_in("ip", "netns", "exec", ns.name), "-m", "ifpulse", "publish",
            "--proc-root", str(fake.proc), "--sys-root", str(fake.sys),
            "--spool", str(self.spool), "--log-level", "DEBUG", *args,
        ]  # fmt: skip
        with self.log.open("wb") as out:
            self.popen = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=clean_env()
            )


def test_lossy_slow_partitioned_link_loses_nothing(
    broker_factory: Callable[..., Mosquitto],
    netns: Netns,
    sqlite_url: str,
    topic_prefix: str,
    unique: str,
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    broker = broker_factory()
    proxy = DelayProxy(netns.root_ip, broker.port)
    fake = fake_host(tmp_path / "host", ("eth0", "wlan0"))
    ing = start_ingestor(broker, sqlite_url, topic_prefix, f"ing-{unique}", tmp_path / "i.log")
    url = f"mqtt://{netns.root_ip}:{proxy.port}"
    args = [*publisher_args(url, unique, topic_prefix, interval=0.2), "--grace", "30"]
    netns.drop(proxy.port, LOSS)
    pub = NetnsPublisher(netns, fake, tmp_path / "pub", *args)
    try:
        wait_for(lambda: stored_count(sqlite_url, unique) >= 50, 30, pub.output)
        netns.drop(proxy.port, None)  # full partition
        time.sleep(PARTITION_S)
        held = pub_depth(pub)
        netns.drop(proxy.port, None, add=False)  # back to merely lossy
        wait_for(lambda: pub_depth(pub) < 10, 60, lambda: pub.output()[-3000:])
        sent = finish(pub, ing, sqlite_url, unique)
    finally:
        stop_all(pub, ing)
        proxy.close()
    note = (
        f"{LOSS:.0%} loss each way, {DELAY_S * 1000:.0f}+-{JITTER_S * 1000:.0f} ms, 1 Mbit/s, "
        f"{PARTITION_S} s partition ({held} spooled)"
    )
    figures = count("5. lossy, slow, partitioned link", sqlite_url, sent, started, note)
    assert held >= 10 * PARTITION_S * 0.5, "the partition did not hold samples back"
    assert (figures.lost, figures.duplicates) == (0, 0)
