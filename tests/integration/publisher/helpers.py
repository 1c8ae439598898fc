"""A real subscriber and a real `ifpulse publish` process for the publisher's integration tests."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from publisher.spool_rows import read_messages
from schemas import TopicScheme
from tests.fixtures.proc_trees import FakeHost

ROOT = Path(__file__).resolve().parents[3]


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll until `check()` holds; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Subscriber:
    """QoS 1 subscriber to a prefix's topics; survives broker restarts (persistent session)."""

    def __init__(self, host: str, port: int, prefix: str, client_id: str | None = None) -> None:
        self.scheme = TopicScheme(prefix)
        self.messages: list[tuple[str, dict[str, Any], float]] = []
        self.lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"sub-{prefix}",
            protocol=mqtt.MQTTv5,
        )
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.reconnect_delay_set(0.1, 0.5)
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 600
        self.client.connect(host, port, keepalive=5, clean_start=False, properties=props)
        self.client.loop_start()
        if not self._subscribed.wait(10):
            raise AssertionError("subscriber: no SUBACK")

    def _on_connect(self, client: mqtt.Client, *args: Any) -> None:
        client.subscribe(f"{self.scheme.prefix}/v1/#", qos=1)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.messages.append((msg.topic, json.loads(msg.payload), time.monotonic()))

    def samples(self) -> list[dict[str, Any]]:
        with self.lock:
            return [p for t, p, _ in self.messages if "/iface/" in t]

    def statuses(self) -> list[dict[str, Any]]:
        with self.lock:
            return [p for t, p, _ in self.messages if t.endswith("/status")]

    def sample_times(self) -> list[float]:
        with self.lock:
            return [at for t, _, at in self.messages if "/iface/" in t]

    def seqs(self) -> set[int]:
        return {s["seq"] for s in self.samples()}

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class PublisherProcess:
    """`python -m ifpulse publish ...` as a child process, stopped or killed by PID."""

    def __init__(
        self, fake: FakeHost, workdir: Path, *args: str, env: dict[str, str] | None = None
    ):
        self.log = workdir / f"publisher-{time.monotonic_ns()}.log"
        self.spool = workdir / "spool.db"
        argv = [
            sys.executable, "-m", "ifpulse", "publish",
            "--proc-root", str(fake.proc), "--sys-root", str(fake.sys),
            "--spool", str(self.spool), "--log-level", "DEBUG", *args,
        ]  # fmt: skip
        clean = {k: v for k, v in os.environ.items() if not k.startswith("IFPULSE_")}
        with self.log.open("wb") as out:
            self.popen = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=clean | (env or {})
            )

    def terminate(self, timeout: float = 30) -> int:
        self.popen.send_signal(signal.SIGTERM)
        return self.popen.wait(timeout)

    def kill(self) -> None:
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(10)

    def wait(self, timeout: float = 60) -> int:
        return self.popen.wait(timeout)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def read_spool(path: Path) -> tuple[list[dict[str, Any]], int]:
    """The samples waiting in a spool and its last seq, read without taking the spool's lock."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = [json.loads(p) for _, _, p in read_messages(db)]
        last = db.execute("SELECT value FROM meta WHERE key = 'last_seq'").fetchone()
    finally:
        db.close()
    return rows, last[0] if last else -1


def assert_in_order_per_interface(samples: list[dict[str, Any]]) -> None:
    """Each interface's samples arrive in seq order (a redelivered duplicate may repeat one)."""
    highest: dict[str, int] = {}
    seen: dict[str, set[int]] = {}
    for s in samples:
        iface, seq = s["iface"], s["seq"]
        if seq < highest.get(iface, -1):
            assert seq in seen[iface], f"{iface}: seq {seq} arrived after {highest[iface]}"
        seen.setdefault(iface, set()).add(seq)
        highest[iface] = max(highest.get(iface, -1), seq)
