"""A stand-in for the paho client in ingestor unit tests: records acks and publishes."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

import paho.mqtt.client as mqtt

from schemas import encode
from schemas.messages import Message


class FakeSent:
    """A publish the fake broker confirms at once, unless the client says `confirm = False`."""

    def __init__(self, client: FakeClient) -> None:
        self._ok = client.confirm

    def wait_for_publish(self, timeout: float | None = None) -> None:
        pass

    def is_published(self) -> bool:
        return self._ok


class FakeClient:
    """Accepts what Consumer calls; `deliver()` plays the broker sending a message."""

    def __init__(self, client_id: str) -> None:
        self.client_id = client_id
        self.on_connect: Any = None
        self.on_disconnect: Any = None
        self.on_message: Any = None
        self.on_subscribe: Any = None
        self.acks: list[int] = []
        self.published: list[tuple[str, bytes]] = []
        self.events: list[tuple[str, object]] = []
        self.subscribed: list[Any] = []
        self.connect_args: dict[str, Any] = {}
        self.lock = threading.Lock()
        self.confirm = True
        self._mid = 0

    def username_pw_set(self, username: str, password: str | None) -> None:
        self.username = username

    def tls_set(self, **kwargs: Any) -> None:
        self.tls = kwargs

    def reconnect_delay_set(self, min_delay: int, max_delay: int) -> None:
        pass

    def connect_async(self, host: str, port: int, **kwargs: Any) -> None:
        self.connect_args = {"host": host, "port": port, **kwargs}

    def loop_start(self) -> None:
        self.connected(session_present=False)

    def loop_stop(self) -> None:
        pass

    def disconnect(self) -> None:
        self.events.append(("disconnect", None))

    def subscribe(self, topics: Any) -> None:
        self.subscribed.append(topics)

    def ack(self, mid: int, qos: int) -> None:
        with self.lock:
            self.acks.append(mid)
            self.events.append(("ack", mid))

    def publish(self, topic: str, payload: bytes, qos: int = 0) -> FakeSent:
        with self.lock:
            self.published.append((topic, payload))
            self.events.append(("publish", topic))
        return FakeSent(self)

    def connected(self, *, session_present: bool) -> None:
        flags = SimpleNamespace(session_present=session_present)
        reason = SimpleNamespace(is_failure=False)
        self.on_connect(self, None, flags, reason, None)

    def dropped(self) -> None:
        self.on_disconnect(self, None, None, "connection lost", None)

    def deliver(self, topic: str | bytes, payload: bytes | Message, qos: int = 1) -> int:
        """Hand one message to on_message; returns its mid."""
        self._mid += 1
        raw = topic.encode() if isinstance(topic, str) else topic
        msg = mqtt.MQTTMessage(mid=self._mid, topic=raw)
        msg.payload = payload if isinstance(payload, bytes) else encode(payload)
        msg.qos = qos
        self.on_message(self, None, msg)
        return self._mid
