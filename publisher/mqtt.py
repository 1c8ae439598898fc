"""The MQTT link: one paho client in its own network thread, QoS 1, reconnecting forever.

MQTT 5 with a persistent session (3.1.1 when the broker refuses 5), a fixed client id, a will,
exponential reconnect backoff with jitter. Publishing never blocks: paho keeps what is in flight
and re-sends it after a reconnect; acknowledged message ids are handed to the owner thread.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import random
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

log = logging.getLogger(__name__)

_DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}
_UNSUPPORTED_PROTOCOL = (1, 0x84)  # 3.1.1 return code, MQTT 5 reason code
_TCP_QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)  # Linux only


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """Where the broker is: host, port, TLS or not, and a username given in the URL."""

    host: str
    port: int
    tls: bool
    username: str | None = None


def parse_broker_url(url: str) -> BrokerAddress:
    """Parse `mqtt://host[:port]` or `mqtts://host[:port]`; a password in the URL is refused."""
    parts = urlsplit(url)
    if parts.scheme not in _DEFAULT_PORTS:
        raise ValueError(f"broker URL must start with mqtt:// or mqtts://, not {url!r}")
    if parts.password is not None:
        raise ValueError("no password in the broker URL: use --password-file or IFPULSE_PASSWORD")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"broker URL takes no path or query: {url!r}")
    try:
        port = parts.port or _DEFAULT_PORTS[parts.scheme]
    except ValueError:
        raise ValueError(f"bad port in broker URL {url!r}") from None
    if not parts.hostname:
        raise ValueError(f"broker URL has no host: {url!r}")
    return BrokerAddress(parts.hostname, port, parts.scheme == "mqtts", parts.username or None)


class Backoff:
    """Exponential reconnect delays with equal jitter: each in [d/2, d], d doubling up to a cap."""

    def __init__(
        self, initial: float, cap: float, rand: Callable[[], float] = random.random
    ) -> None:
        self.initial = initial
        self.cap = max(cap, initial)
        self.rand = rand
        self.attempt = 0

    def next(self) -> float:
        """The delay before the next attempt."""
        ceiling = min(self.cap, self.initial * 2 ** min(self.attempt, 62))
        self.attempt += 1
        return float(ceiling / 2 + self.rand() * ceiling / 2)

    def reset(self) -> None:
        """After a successful connection."""
        self.attempt = 0


@dataclass(frozen=True, slots=True)
class LinkOptions:
    """Everything the link needs to connect."""

    broker: BrokerAddress
    client_id: str
    will_topic: str
    will_payload: bytes
    username: str | None = None
    password: str | None = None
    tls_ca: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    keepalive: int = 30
    session_expiry: int = 86400
    max_inflight: int = 20
    reconnect_min: float = 0.5
    reconnect_max: float = 30.0
    connect_timeout: float = 5.0


def _no_delay(client: paho.Client, userdata: object, sock: Any) -> None:
    """Send each packet at once: Nagle would hold a cycle's samples for the broker's ACK."""
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _quick_ack(sock: Any) -> None:
    """ACK at once (Linux resets this after a while, so it is renewed on every loop).

    A broker that leaves Nagle on (mosquitto's default) holds each PUBACK after the first until
    its previous segment is ACKed; our delayed ACK would add ~40 ms to every burst.
    """
    if _TCP_QUICKACK is not None and sock is not None:
        with contextlib.suppress(OSError, AttributeError):
            sock.setsockopt(socket.IPPROTO_TCP, _TCP_QUICKACK, 1)


class MqttLink:
    """A paho client driven by our own thread; `publish` is safe from another thread."""

    def __init__(
        self,
        options: LinkOptions,
        *,
        on_connected: Callable[[MqttLink], None] = lambda link: None,
        on_activity: Callable[[], None] = lambda: None,
    ) -> None:
        self.options = options
        self.on_connected = on_connected
        self.on_activity = on_activity
        # Called for each PUBACK (after its id is queued for take_acks); by default on_activity.
        self.on_ack: Callable[[], None] = lambda: self.on_activity()
        # Topics subscribed (QoS 1) on every connection, routed to on_message (HA birth ...).
        self.subscriptions: list[str] = []
        self.on_message: Callable[[str, bytes], None] = lambda topic, payload: None
        self.protocol = paho.MQTTv5
        self.generation = 0  # bumped when the client is replaced: its in-flight messages are gone
        self.session_resets = 0  # reconnects the broker answered without our session
        self._had_session = False
        self.backoff = Backoff(options.reconnect_min, options.reconnect_max)
        self._acks: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._connected = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._fallback = False
        self._stop_by = 0.0
        self._failures = 0
        self._down_since: float | None = time.monotonic()
        self._client = self._make_client()

    # -- the owner's side -------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        """True between a successful CONNACK and the loss of the connection."""
        return self._connected.is_set()

    def start(self) -> None:
        """Start the network thread (it connects, and reconnects until `close`)."""
        self._thread = threading.Thread(target=self._run, name="ifpulse-mqtt", daemon=True)
        self._thread.start()

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> int | None:
        """Queue a QoS 1 message; its id comes back from `take_acks` once the broker has it."""
        with self._lock:
            info = self._client.publish(topic, payload, qos=1, retain=retain)
        if info.rc not in (paho.MQTT_ERR_SUCCESS, paho.MQTT_ERR_NO_CONN):
            log.debug("publish on %s not queued: %s", topic, paho.error_string(info.rc))
            return None
        return int(info.mid)

    def take_acks(self) -> list[int]:
        """Message ids the broker acknowledged since the last call."""
        acks: list[int] = []
        while True:
            try:
                acks.append(self._acks.get_nowait())
            except queue.Empty:
                return acks

    def close(self, timeout: float = 5.0) -> None:
        """Disconnect cleanly (no will) and stop the network thread."""
        self._stop_by = time.monotonic() + min(timeout, 1.0)  # time to write the DISCONNECT
        self._stop.set()
        with self._lock:
            self._client.disconnect()
        if self._thread is not None:
            self._thread.join(timeout)

    # -- the network thread -----------------------------------------------------------------
    def _make_client(self) -> paho.Client:
        opts = self.options
        v5 = self.protocol == paho.MQTTv5
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=opts.client_id,
            protocol=self.protocol,
            clean_session=None if v5 else False,
        )
        client.max_inflight_messages_set(opts.max_inflight)
        client.connect_timeout = opts.connect_timeout
        client.will_set(opts.will_topic, opts.will_payload, qos=1, retain=True)
        if opts.username or opts.broker.username:
            client.username_pw_set(opts.username or opts.broker.username, opts.password)
        if opts.broker.tls:
            client.tls_set(
                ca_certs=str(opts.tls_ca) if opts.tls_ca else None,
                certfile=str(opts.tls_cert) if opts.tls_cert else None,
                keyfile=str(opts.tls_key) if opts.tls_key else None,
                cert_reqs=ssl.CERT_REQUIRED,
            )
        # Only this link's thread writes to the socket: publish() from the owner thread queues
        # the packet and wakes our select() instead of writing concurrently.
        client.on_socket_register_write = lambda client, userdata, sock: None
        client.on_socket_open = _no_delay
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        return client

    def _connect(self) -> bool:
        opts = self.options
        kwargs: dict[str, Any] = {}
        if self.protocol == paho.MQTTv5:
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = opts.session_expiry
            kwargs = {"clean_start": False, "properties": props}
        try:
            self._client.connect(opts.broker.host, opts.broker.port, opts.keepalive, **kwargs)
        except (OSError, ValueError) as exc:
            self._failed(f"cannot connect to {opts.broker.host}:{opts.broker.port}: {exc}")
            return False
        return True

    def _serve(self) -> None:
        """Run the connection until it ends (or shortly after `close`, which disconnects)."""
        while self._client.loop(timeout=0.1) == paho.MQTT_ERR_SUCCESS:
            _quick_ack(self._client.socket())
            if self._stop.is_set() and time.monotonic() > self._stop_by:
                break

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self._connect():
                    self._serve()
            except Exception:  # the link never dies: the spool keeps everything meanwhile
                log.exception("MQTT network loop failed; reconnecting")
                self._connected.clear()
            if self._stop.is_set():
                break
            if self._fallback:
                self._fallback = False
                with self._lock:
                    self.protocol = paho.MQTTv311
                    self.generation += 1
                    self._client = self._make_client()
                continue
            self._stop.wait(self.backoff.next())

    def _failed(self, why: str) -> None:
        self._failures += 1
        if self._failures == 1:
            log.warning("%s; retrying with backoff", why)
        else:
            log.debug("%s (attempt %d)", why, self._failures)

    def _on_connect(
        self, client: paho.Client, userdata: object, flags: Any, reason: Any, props: Any
    ) -> None:
        if reason.is_failure:
            if self.protocol == paho.MQTTv5 and reason.value in _UNSUPPORTED_PROTOCOL:
                log.warning("broker refused MQTT 5; falling back to MQTT 3.1.1")
                self._fallback = True
            else:
                self._failed(f"broker refused the connection: {reason}")
            return
        outage = time.monotonic() - self._down_since if self._down_since else 0.0
        log.info(
            "connected to %s:%d (MQTT %s, session present: %s) after %d failed attempts, %.1fs",
            self.options.broker.host,
            self.options.broker.port,
            "5" if self.protocol == paho.MQTTv5 else "3.1.1",
            bool(flags.session_present),
            self._failures,
            outage,
        )
        if self._had_session and not flags.session_present:
            self.session_resets += 1
        self._had_session = True
        self._failures, self._down_since = 0, None
        self.backoff.reset()
        for topic in self.subscriptions:
            client.subscribe(topic, qos=1)
        self._connected.set()
        self.on_connected(self)
        self.on_activity()

    def _on_disconnect(
        self, client: paho.Client, userdata: object, flags: Any, reason: Any, props: Any
    ) -> None:
        if self._connected.is_set():
            self._down_since = time.monotonic()
            if not self._stop.is_set():
                log.warning("connection to the broker lost: %s", reason)
        self._connected.clear()
        self.on_activity()

    def _on_message(self, client: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
        try:
            self.on_message(msg.topic, bytes(msg.payload))
        except Exception:  # a bad message is logged and skipped, never kills the link
            log.exception("handling a message on %s failed", msg.topic)

    def _on_publish(
        self, client: paho.Client, userdata: object, mid: int, reason: Any, props: Any
    ) -> None:
        if reason.is_failure:
            # The broker has answered for good; retrying would block every sample behind it.
            log.error("broker refused message %d: %s", mid, reason)
        self._acks.put(mid)
        self.on_ack()
