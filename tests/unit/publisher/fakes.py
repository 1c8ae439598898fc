"""A fake MQTT transport for the loop's unit tests (the integration tests use mosquitto)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any


class FakeTransport:
    """Records what is published; acknowledges on demand (or at once with auto_ack)."""

    def __init__(self, *, connected: bool = True, auto_ack: bool = False) -> None:
        self.generation = 0
        self.session_resets = 0
        self._connected = connected
        self.auto_ack = auto_ack
        self.sent: list[tuple[str, bytes, bool]] = []
        self.pending: dict[int, tuple[str, bytes, bool]] = {}
        self._acks: list[int] = []
        self._mid = 0
        self.started = self.closed = False
        self.lock = threading.Lock()
        self.on_activity: Callable[[], None] = lambda: None

    @property
    def connected(self) -> bool:
        return self._connected

    def start(self) -> None:
        self.started = True

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> int | None:
        with self.lock:
            self._mid += 1
            self.sent.append((topic, payload, retain))
            self.pending[self._mid] = (topic, payload, retain)
            if self.auto_ack:
                self.ack(self._mid)
            return self._mid

    def ack(self, mid: int) -> None:
        self.pending.pop(mid, None)
        self._acks.append(mid)
        self.on_activity()

    def ack_all(self) -> None:
        with self.lock:
            for mid in list(self.pending):
                self.ack(mid)

    def take_acks(self) -> list[int]:
        with self.lock:
            acks, self._acks = self._acks, []
            return acks

    def close(self, timeout: float = 5.0) -> None:
        self.closed = True

    def set_connected(self, value: bool) -> None:
        self._connected = value

    def replace_client(self) -> None:
        """What the link does on a protocol fallback: the old client's in-flight are gone."""
        self.generation += 1
        self.pending.clear()

    # -- reading what was sent --------------------------------------------------------------
    def samples(self) -> list[dict[str, Any]]:
        return [json.loads(p) for t, p, _ in self.sent if "/iface/" in t]

    def statuses(self) -> list[dict[str, Any]]:
        return [json.loads(p) for t, p, _ in self.sent if t.endswith("/status")]


class FakeClock:
    """A monotonic clock the test sets (`clock.now = ...`)."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
