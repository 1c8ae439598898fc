"""The MQTT side: a persistent MQTT 5 session with manual acks; decodes and hands over."""

from __future__ import annotations

import functools
import logging
import struct
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.client import PUBACK
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from schemas import DecodeError, Message, ParsedTopic, TopicScheme, decode

log = logging.getLogger(__name__)

# A PUBACK without reason code or properties (success; valid in MQTT 3.1.1 and 5).
_PUBACK = struct.Struct("!BBH")


@dataclass(frozen=True, slots=True)
class Received:
    """One delivered message: decoded (or the reason it is refused) plus what acking needs."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    generation: int
    message: Message | None = None
    error: DecodeError | None = None


ClientFactory = Callable[[str], mqtt.Client]

# Distinct topics whose parse is remembered: a fleet publishes on a fixed set of topics
# (hosts x interfaces); a flood of new ones only evicts old entries.
_PARSED_TOPICS = 65536


class CachingScheme(TopicScheme):
    """A TopicScheme that takes each distinct topic apart once (~5 us saved per message)."""

    def __init__(self, prefix: str) -> None:
        super().__init__(prefix)
        # A refused topic raises, and exceptions are not cached: it is parsed each time.
        self._parse = functools.lru_cache(maxsize=_PARSED_TOPICS)(super().parse)

    def parse(self, topic: str) -> ParsedTopic:
        """As TopicScheme.parse (ParsedTopic is immutable, so sharing one is safe)."""
        return self._parse(topic)


def make_client(client_id: str) -> mqtt.Client:
    """A paho client for a persistent MQTT 5 session with manual acknowledgement."""
    return mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5,
        manual_ack=True,
    )


def _raw_topic(msg: mqtt.MQTTMessage) -> tuple[str | bytes, str]:
    """The topic for decoding (bytes if not UTF-8) and a printable form for dead letters."""
    try:
        topic: str = msg.topic
        return topic, topic
    except UnicodeDecodeError:
        # paho raises on a non-UTF-8 topic; schemas.decode classifies raw bytes itself.
        raw: bytes = msg._topic
        return raw, raw.decode("utf-8", errors="replace")


@dataclass(frozen=True, slots=True)
class ConsumerConfig:
    """What the consumer needs from the settings."""

    host: str
    port: int
    client_id: str
    filters: tuple[str, ...]
    receive_maximum: int
    session_expiry: int
    keepalive: int
    max_clock_skew: timedelta
    username: str | None = None
    password: str | None = None
    tls: bool = False
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None


class Consumer:
    """Owns the paho client; on_message only decodes and passes a Received to `sink`."""

    def __init__(
        self,
        config: ConsumerConfig,
        scheme: TopicScheme,
        sink: Callable[[Received], None],
        *,
        client_factory: ClientFactory = make_client,
        clock: Callable[[], datetime],
        on_connection: Callable[[bool], None] = lambda _up: None,
    ) -> None:
        self._config = config
        self._scheme = CachingScheme(scheme.prefix)
        self._sink = sink
        self._clock = clock
        self._on_connection = on_connection
        # Acks must never reach a later connection: after a reconnect, the broker
        # resends unacked messages (maybe under reused packet ids), so acks of the old
        # connection are dropped; the redelivered copies are written and acked instead.
        self._lock = threading.Lock()
        self._generation = 0
        self._connected = False
        self._paused = False
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.client = client_factory(config.client_id)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.client.on_connect_fail = self._on_connect_fail
        self._last_connect_error = ""
        if config.username is not None:
            self.client.username_pw_set(config.username, config.password)
        if config.tls:
            self.client.tls_set(
                ca_certs=config.tls_ca, certfile=config.tls_cert, keyfile=config.tls_key
            )
        # Come back fast: after a broker restart without persistence our subscriptions are
        # gone, and publishers hold their backlog only a few seconds (--broker-reset-hold).
        self.client.reconnect_delay_set(min_delay=1, max_delay=2)

    def start(self) -> None:
        """Connect in the background (retrying until the broker answers)."""
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = self._config.session_expiry
        props.ReceiveMaximum = self._config.receive_maximum
        self.client.connect_async(
            self._config.host,
            self._config.port,
            keepalive=self._config.keepalive,
            clean_start=False,
            properties=props,
        )
        self.client.loop_start()

    def pause(self) -> None:
        """Stop taking messages: later deliveries stay unacked and the broker keeps them."""
        with self._lock:
            self._paused = True

    def close(self) -> None:
        """Disconnect (the session and its queue stay on the broker) and stop the loop."""
        self.pause()
        self.client.disconnect()
        self.client.loop_stop()

    def ack(self, item: Received) -> bool:
        """Acknowledge one message if its connection is still the current one."""
        return self.ack_many((item,)) == 1

    def ack_many(self, items: Sequence[Received]) -> int:
        """Acknowledge the messages of the current connection (one lock); how many were."""
        with self._lock:
            generation = self._generation if self._connected else -1
            current = [i for i in items if i.qos == 0 or i.generation == generation]
            pubacks = [i.mid for i in current if i.qos == 1]
            queue_packet = getattr(self.client, "_packet_queue", None)
            if len(pubacks) > 1 and queue_packet is not None:
                # paho writes each PUBACK on its own (a 4-byte send) and wakes its loop for
                # each through a socket pair; a batch of them in one buffer costs one of each.
                queue_packet(PUBACK, b"".join(_PUBACK.pack(PUBACK, 2, m) for m in pubacks), 0, 1)
                rest = [i for i in current if i.qos == 2]
            else:
                rest = [i for i in current if i.qos > 0]
            for item in rest:
                self.client.ack(item.mid, item.qos)
        return len(current)

    def publish(self, topic: str, payload: bytes) -> mqtt.MQTTMessageInfo:
        """Publish at QoS 1; the returned handle tells when the broker has it."""
        return self.client.publish(topic, payload, qos=1)

    def _on_connect(
        self, client: mqtt.Client, _userdata: Any, flags: Any, reason: Any, _props: Any
    ) -> None:
        if reason.is_failure:
            log.error("broker refused the connection: %s", reason)
            return
        with self._lock:
            self._generation += 1
            self._connected = True
        self._last_connect_error = ""
        self.connected.set()
        self._on_connection(True)
        log.info("connected (session present: %s)", flags.session_present)
        if flags.session_present:
            self.subscribed.set()
        else:
            # A resumed session keeps its subscriptions; subscribing again would make the
            # broker resend every retained status.
            options = SubscribeOptions(qos=1)
            client.subscribe([(f, options) for f in self._config.filters])

    def _on_connect_fail(self, _client: mqtt.Client, _userdata: Any) -> None:
        # paho calls this inside its `except OSError`, and drops the error afterwards: log it
        # here, or a wrong CA or a refused port would look like an ingestor that just waits.
        error = str(sys.exc_info()[1] or "unknown error")
        level = logging.DEBUG if error == self._last_connect_error else logging.WARNING
        self._last_connect_error = error
        log.log(
            level,
            "cannot connect to the broker %s:%d: %s (retrying)",
            self._config.host,
            self._config.port,
            error,
        )

    def _on_subscribe(
        self, _client: mqtt.Client, _userdata: Any, _mid: int, reasons: Any, _props: Any
    ) -> None:
        granted = [str(r) for r in reasons]
        self.subscribed.set()
        log.info("subscribed to %s (granted: %s)", ", ".join(self._config.filters), granted)

    def _on_disconnect(
        self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        with self._lock:
            self._generation += 1
            self._connected = False
            closing = self._paused
        self.connected.clear()
        self._on_connection(False)
        log.log(
            logging.INFO if closing else logging.WARNING, "disconnected from the broker: %s", reason
        )

    def _on_message(self, _client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        # No lock: the generation changes only in paho's thread (this one), and a message
        # taken just after pause() is merely left unacked (the broker delivers it again).
        if self._paused:
            return
        try:
            self._sink(self.receive(msg, self._generation))
        except Exception:
            # An exception escaping a callback would end paho's network thread. The message
            # stays unacked, so the broker delivers it again after the next reconnect.
            log.exception("could not take a message on %r; leaving it unacked", msg.mid)

    def receive(self, msg: mqtt.MQTTMessage, generation: int) -> Received:
        """Decode one delivered message; never raises, whatever the topic and bytes."""
        topic, printable = _raw_topic(msg)
        payload = bytes(msg.payload)
        try:
            message = decode(
                topic,
                payload,
                scheme=self._scheme,
                now=self._clock(),
                max_clock_skew=self._config.max_clock_skew,
            )
        except DecodeError as exc:
            return Received(printable, payload, msg.mid, msg.qos, generation, error=exc)
        return Received(printable, payload, msg.mid, msg.qos, generation, message)
