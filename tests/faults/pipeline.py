"""The whole path under test: a real publisher process, a real ingestor process, a real store.

Fault tests build on this: start the pieces, break one, and count what the store holds by
(host, interface, seq) against what the publisher produced (seq 0 .. its spool's last_seq).
Every figure ends up in RESULTS, printed at the end of the run (see conftest.py) and copied
into docs/reliability.md.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from stores import StoreError, open_store
from tests.fixtures.proc_trees import FakeHost
from tests.integration.ingestor.helpers import FAR_FUTURE, FAR_PAST, ProcessIngestor, wait_for
from tests.integration.publisher.helpers import ROOT, PublisherProcess, read_spool
from tests.services.mosquitto import Mosquitto

IFACES = ("eth0", "wlan0", "veth0")  # the ones tests.integration.publisher.test_sigkill bumps


@dataclass(frozen=True)
class Figures:
    """One scenario's end-to-end count."""

    scenario: str
    sent: int
    stored: int
    lost: int
    duplicates: int
    seconds: float
    note: str = ""

    def line(self) -> str:
        """A table row for the run summary and docs/reliability.md."""
        return (
            f"| {self.scenario} | {self.sent} | {self.stored} | {self.lost} | "
            f"{self.duplicates} | {self.seconds:.0f} s | {self.note} |"
        )


RESULTS: list[Figures] = []


def stored_points(store_url: str, host: str | None = None) -> list[tuple[str, str, int]]:
    """(host, iface, seq) of every stored point, duplicates included, via a fresh Store."""
    store = open_store(store_url)
    try:
        return [(s.host, s.iface, s.seq) for s in store.samples(host, None, FAR_PAST, FAR_FUTURE)]
    finally:
        store.close()


def stored_count(store_url: str, host: str | None = None) -> int:
    """Points stored so far, for polling while an ingestor writes (-1: ask again)."""
    try:
        return len(stored_points(store_url, host))
    except (TypeError, StoreError):  # a half-written influx point; SQLite busy with a write
        return -1


def count(
    scenario: str,
    store_url: str,
    sent: set[tuple[str, str | None, int]],
    started: float,
    note: str = "",
    host: str | None = None,
) -> Figures:
    """Compare what was sent with what is stored; keys with iface None match any interface.

    A publisher numbers its samples per host, so (host, seq) identifies a sample; `lost`
    counts sent keys with no point, `duplicates` points beyond one per key (including one
    seq stored under two interfaces). `host` limits the stored points read back.
    """
    points = stored_points(store_url, host)
    per_key = Counter((h, s) for h, _, s in points)
    exact = {(h, i, s) for h, i, s in points}
    lost = sum(
        1 for h, i, s in sent if (h, s) not in per_key or (i is not None and (h, i, s) not in exact)
    )
    duplicates = sum(n - 1 for n in per_key.values() if n > 1)
    figures = Figures(
        scenario, len(sent), len(points), lost, duplicates, time.monotonic() - started, note
    )
    RESULTS.append(figures)
    print(f"\n{figures.line()}")
    return figures


def publisher_sent(host: str, spool: Path) -> set[tuple[str, str | None, int]]:
    """Every sample a publisher (fresh spool, stopped) produced: seq 0 .. last_seq."""
    _, last_seq = read_spool(spool)
    return {(host, None, seq) for seq in range(last_seq + 1)}


def fake_host(root: Path, ifaces: tuple[str, ...] = IFACES) -> FakeHost:
    """A fake /proc and /sys with a few interfaces."""
    fake = FakeHost(root)
    for name in ifaces:
        fake.add(name)
    return fake


def publisher_args(broker_url: str, host: str, prefix: str, interval: float = 0.1) -> list[str]:
    """Flags of a fast publisher that reconnects quickly."""
    return [
        "--broker", broker_url, "--host-id", host, "--topic-prefix", prefix,
        "--interval", str(interval), "--reconnect-min", "0.1", "--reconnect-max", "1",
        "--keepalive", "5", "--replay-rate", "500", "--max-inflight", "100",
    ]  # fmt: skip


def start_publisher(
    fake: FakeHost, workdir: Path, broker_url: str, host: str, prefix: str, *extra: str
) -> PublisherProcess:
    """`ifpulse publish` as a child process on the fake host."""
    workdir.mkdir(parents=True, exist_ok=True)
    return PublisherProcess(fake, workdir, *publisher_args(broker_url, host, prefix), *extra)


def ingestor_args(broker_url: str, store_url: str, prefix: str, client_id: str) -> list[str]:
    """Flags of a fast ingestor with a persistent session under `client_id`."""
    return [
        "--broker", broker_url, "--store", store_url, "--topic-prefix", prefix,
        "--client-id", client_id, "--batch-size", "500", "--flush-interval", "0.2",
        "--retry-max-backoff", "1", "--drain-timeout", "20",
    ]  # fmt: skip


def start_ingestor(
    broker: Mosquitto | str, store_url: str, prefix: str, client_id: str, log: Path, *extra: str
) -> ProcessIngestor:
    """`ifpulse ingest` as a child process, connected and subscribed."""
    url = broker if isinstance(broker, str) else broker.url
    proc = ProcessIngestor([*ingestor_args(url, store_url, prefix, client_id), *extra], log)
    proc.wait_connected()
    wait_for(lambda: "subscribed to" in proc.tail() or "session present: True" in proc.tail(),
             10, proc.tail)  # fmt: skip
    return proc


def stop_all(*procs: PublisherProcess | ProcessIngestor | subprocess.Popen[bytes] | None) -> None:
    """SIGKILL, by PID, whatever is still running (for finally-blocks)."""
    for proc in procs:
        popen = proc if isinstance(proc, subprocess.Popen) else getattr(proc, "popen", None)
        if popen is not None and popen.poll() is None:
            popen.send_signal(signal.SIGKILL)
            popen.wait(10)


def finish(
    pub: PublisherProcess,
    ing: ProcessIngestor,
    store_url: str,
    host: str,
    timeout: float = 60,
    *,
    complete: bool = True,
) -> set[tuple[str, str | None, int]]:
    """Stop the publisher cleanly, wait until the store holds all it sent (or, if not
    `complete`, at least its last sample), stop the ingestor."""
    assert pub.terminate() == 0, pub.output()[-3000:]
    sent = publisher_sent(host, pub.spool)

    def done() -> bool:
        if complete:
            return stored_count(store_url, host) >= len(sent)
        return any(seq == len(sent) - 1 for _, _, seq in stored_points(store_url, host))

    wait_for(
        done,
        timeout,
        lambda: f"{stored_count(store_url, host)} of {len(sent)} stored; ingestor:\n{ing.tail()}",
    )
    assert ing.stop(signal.SIGTERM) == 0, ing.tail()
    return sent


def rss_kib(pid: int) -> int:
    """Resident memory of a process, KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def python_in(*prefix: str) -> list[str]:
    """argv running this interpreter (optionally behind a prefix such as `ip netns exec`)."""
    return [*prefix, sys.executable]


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without the developer's IFPULSE_* settings, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IFPULSE_")}
    env["PYTHONPATH"] = str(ROOT)
    return env | extra
