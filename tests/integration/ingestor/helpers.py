"""Helpers for ingestor integration tests: run ingestors, publish with paho, read the store."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from ingestor.service import Ingestor
from ingestor.settings import Settings
from schemas import InterfaceSample, TopicScheme, encode
from stores import Store, open_store
from tests.factories import sample
from tests.services.mosquitto import Mosquitto

FAR_PAST = datetime(2000, 1, 1, tzinfo=UTC)
FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)


def wait_for(cond: Callable[[], bool], timeout: float, what: Callable[[], str] | str) -> None:
    """Poll until cond() or fail saying what was awaited (and the state at the end)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s: {what() if callable(what) else what}")


def samples_for(host: str, n: int, ifaces: Sequence[str] = ("eth0",)) -> list[InterfaceSample]:
    """n distinct samples (distinct (host, iface, ts)), an hour old, spread over ifaces."""
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    return [
        sample(
            host,
            ifaces[i % len(ifaces)],
            ts=t0 + timedelta(milliseconds=i),
            seq=i,
            rx_bytes=1000 + i,
            tx_bytes=2000 + 2 * i,
        )
        for i in range(n)
    ]


class Publisher:
    """A paho MQTT 5 client that publishes at QoS 1 and waits for every PUBACK."""

    def __init__(self, broker: Mosquitto) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def publish(
        self, messages: Iterable[tuple[str, bytes]], *, retain: bool = False, timeout: float = 60
    ) -> None:
        """Publish all and wait until the broker has acknowledged each one."""
        infos = [self.client.publish(t, p, qos=1, retain=retain) for t, p in messages]
        for info in infos:
            info.wait_for_publish(timeout)
            assert info.is_published(), "broker did not acknowledge a publish"

    def publish_samples(self, scheme: TopicScheme, samples: Iterable[InterfaceSample]) -> None:
        """Publish samples on their own topics."""
        self.publish((scheme.sample(s.host, s.iface), encode(s)) for s in samples)

    def close(self) -> None:
        """Disconnect."""
        self.client.disconnect()
        self.client.loop_stop()


class Collector:
    """Subscribes to a topic filter and keeps every payload (for dead letters)."""

    def __init__(self, broker: Mosquitto, topic: str) -> None:
        self.payloads: list[bytes] = []
        self._lock = threading.Lock()
        subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.on_message = lambda _c, _u, m: self._keep(m.payload)
        self.client.connect(broker.host, broker.port)
        self.client.subscribe(topic, qos=1)
        self.client.loop_start()
        assert subscribed.wait(5), f"could not subscribe to {topic}"

    def _keep(self, payload: bytes) -> None:
        with self._lock:
            self.payloads.append(payload)

    def count(self) -> int:
        """Payloads received so far."""
        with self._lock:
            return len(self.payloads)

    def close(self) -> None:
        """Disconnect."""
        self.client.disconnect()
        self.client.loop_stop()


def stored_keys(store_url: str, host: str | None = None) -> list[tuple[str, str, datetime]]:
    """Every stored (host, iface, ts), duplicates included, read through a fresh Store."""
    store = open_store(store_url)
    try:
        return [(s.host, s.iface, s.ts) for s in store.samples(host, None, FAR_PAST, FAR_FUTURE)]
    finally:
        store.close()


def progress(store_url: str, host: str) -> int:
    """Points stored so far, for polling while an ingestor is still writing.

    influxd 1.x can show a point whose fields are not all written yet to a concurrent query,
    and the influx store's reader fails on such a row (reported to the stores' owner); a
    poll that hits one counts as "not done yet". Final checks use stored_keys() after the
    ingestor has stopped.
    """
    try:
        return len(stored_keys(store_url, host))
    except TypeError:
        return -1


def settings(broker: Mosquitto, store_url: str, prefix: str, **overrides: object) -> Settings:
    """Settings of a fast test ingestor."""
    values: dict[str, object] = {
        "broker": broker.url,
        "store": store_url,
        "topic_prefix": prefix,
        "client_id": f"ing-{prefix}",
        "batch_size": 200,
        "flush_interval": 0.1,
        "retry_max_backoff": 0.5,
        "drain_timeout": 10,
    }
    values.update(overrides)
    return Settings.model_validate(values)


class ThreadIngestor:
    """An in-process ingestor; its store is opened and used in its own thread."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.ingestor: Ingestor | None = None
        self.rc: int | None = None
        self.error: BaseException | None = None
        self._ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self._ready.wait(10), "ingestor did not start"
        assert self.ingestor is not None
        assert self.ingestor.consumer.subscribed.wait(10), "ingestor did not subscribe"

    def _run(self) -> None:
        try:
            store: Store = open_store(self.settings.store)
            try:
                self.ingestor = Ingestor(self.settings, store)
                self._ready.set()
                self.rc = self.ingestor.run()
            finally:
                store.close()
        except BaseException as exc:
            self.error = exc
            self._ready.set()
            raise

    def stop(self) -> int | None:
        """Drain and stop; returns run()'s exit code."""
        if self.ingestor is not None:
            self.ingestor.stop()
        self.thread.join(30)
        assert not self.thread.is_alive(), "ingestor did not stop within 30s"
        return self.rc


class ProcessIngestor:
    """`python -m ifpulse ingest ...` as a child process (for SIGKILL and SIGTERM)."""

    def __init__(self, args: list[str], log: Path) -> None:
        self.log = log
        with log.open("ab") as out:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "ifpulse", "ingest", *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_connected(self, timeout: float = 15) -> None:
        """Wait until its log says it is connected."""
        wait_for(
            lambda: "connected (session present" in self.log.read_text(errors="replace"),
            timeout,
            lambda: f"ingestor did not connect; log:\n{self.tail()}",
        )

    def tail(self) -> str:
        """The end of its log."""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])

    def stop(self, sig: int, timeout: float = 30) -> int:
        """Send a signal to it (by PID) and wait for it to exit."""
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
        return self.popen.wait(timeout)
