"""Home Assistant discovery and alerts against a real mosquitto."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from publisher.alerts import AlertEvaluator, AlertPublisher, Thresholds
from publisher.discovery import component_ids, device_topic
from publisher.ha import HaSettings, HomeAssistantDiscovery
from publisher.ha_keys import IfaceInfo, sanitize_id
from schemas import AlertState, InterfaceKind, TopicScheme, decode
from tests.factories import sample
from tests.services.mosquitto import Mosquitto

pytestmark = pytest.mark.integration

ETH0 = IfaceInfo("eth0", "52:54:00:12:34:56", InterfaceKind.ETHERNET)
WG = IfaceInfo("wg+vpn", None, InterfaceKind.TUNNEL)
WAIT_S = 5.0


@dataclass
class Msg:
    """One received message."""

    topic: str
    payload: bytes
    retain: bool


class Listener:
    """A subscriber that queues every message it receives."""

    def __init__(self, broker: Mosquitto, topic_filter: str) -> None:
        self.inbox: queue.Queue[Msg] = queue.Queue()
        subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.on_message = lambda c, u, m: self.inbox.put(
            Msg(m.topic, m.payload, bool(m.retain))
        )
        self.client.connect(broker.host, broker.port)
        self.client.subscribe(topic_filter, qos=1)
        self.client.loop_start()
        assert subscribed.wait(WAIT_S), f"subscription to {topic_filter} not acknowledged"

    def next(self, topic: str, seconds: float = WAIT_S) -> Msg:
        """The next message on `topic`, or fail after a bounded wait."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                msg = self.inbox.get(timeout=left)
            except queue.Empty:
                break
            if msg.topic == topic:
                return msg
        raise AssertionError(f"no message on {topic} within {seconds}s")

    def quiet(self, topic: str, seconds: float) -> bool:
        """True if nothing arrives on `topic` for `seconds`."""
        try:
            self.next(topic, seconds)
        except AssertionError:
            return True
        return False

    def close(self) -> None:
        """Disconnect."""
        # Disconnect first: it wakes the network loop, so loop_stop returns at once.
        self.client.disconnect()
        self.client.loop_stop()


class Publisher:
    """A real paho client with the coordinator wired to it, as the service will do."""

    def __init__(self, broker: Mosquitto, scheme: TopicScheme, settings: HaSettings) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.sent: list[mqtt.MQTTMessageInfo] = []
        self.ha = HomeAssistantDiscovery(self.publish, scheme, "h1", "9.9.9", settings)
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.on_connect = self._on_connect
        self.received: list[str] = []
        self.client.on_message = lambda c, u, m: (
            self.ha.on_message(m.topic, m.payload),
            self.received.append(m.topic),
        )
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        assert subscribed.wait(WAIT_S), "publisher subscription not acknowledged"

    def _on_connect(self, client: mqtt.Client, *_: Any) -> None:
        for topic in self.ha.topics_to_subscribe():
            client.subscribe(topic, qos=1)
        self.ha.on_connect()

    def publish(self, topic: str, payload: bytes, retain: bool) -> None:
        """The `publish` callable handed to the coordinator."""
        self.sent.append(self.client.publish(topic, payload, qos=1, retain=retain))

    def flush(self) -> None:
        """Wait until the broker has acknowledged everything published so far."""
        for info in self.sent:
            info.wait_for_publish(WAIT_S)

    def close(self) -> None:
        """Disconnect."""
        # Disconnect first: it wakes the network loop, so loop_stop returns at once.
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def ha_prefix(unique: str) -> str:
    return f"ha-{unique}"


@pytest.fixture
def publisher(mosquitto: Mosquitto, topic_prefix: str, ha_prefix: str) -> Iterator[Publisher]:
    settings = HaSettings(ha_prefix=ha_prefix, gone_after_s=0.3, birth_jitter_s=0.05)
    pub = Publisher(mosquitto, TopicScheme(topic_prefix), settings)
    yield pub
    pub.close()


@pytest.fixture
def listener(mosquitto: Mosquitto, ha_prefix: str) -> Iterator[Listener]:
    sub = Listener(mosquitto, f"{ha_prefix}/#")
    yield sub
    sub.close()


def test_config_is_retained_for_a_late_subscriber(
    mosquitto: Mosquitto, publisher: Publisher, ha_prefix: str, topic_prefix: str
) -> None:
    publisher.ha.on_samples([ETH0, WG])
    publisher.flush()
    topic = device_topic("h1", ha_prefix)
    late = Listener(mosquitto, topic)
    try:
        msg = late.next(topic)
    finally:
        late.close()
    assert msg.retain
    config = json.loads(msg.payload)
    assert config["avty_t"] == TopicScheme(topic_prefix).status("h1")
    assert len(config["cmps"]) == 12


def test_ha_birth_triggers_a_republish(
    mosquitto: Mosquitto, publisher: Publisher, listener: Listener, ha_prefix: str
) -> None:
    topic = device_topic("h1", ha_prefix)
    publisher.ha.on_samples([ETH0])
    first = listener.next(topic)
    assert listener.quiet(topic, 0.3), "re-published without a reason"

    ha = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    ha.connect(mosquitto.host, mosquitto.port)
    ha.loop_start()
    try:
        ha.publish(f"{ha_prefix}/status", b"online", qos=1).wait_for_publish(WAIT_S)
        again = listener.next(topic)
    finally:
        ha.disconnect()
        ha.loop_stop()
    assert again.payload == first.payload


def test_gone_interface_is_removed(
    mosquitto: Mosquitto, publisher: Publisher, listener: Listener, ha_prefix: str
) -> None:
    topic = device_topic("h1", ha_prefix)
    publisher.ha.on_samples([ETH0, WG])
    assert any(c.startswith("wg_vpn_") for c in json.loads(listener.next(topic).payload)["cmps"])
    time.sleep(0.4)  # longer than gone_after_s
    publisher.ha.on_samples([ETH0])
    cmps = json.loads(listener.next(topic).payload)["cmps"]
    stubs = {cid: c for cid, c in cmps.items() if cid.startswith("wg_vpn_")}
    assert len(stubs) == 6
    assert all(set(c) == {"p"} for c in stubs.values())
    assert all("uniq_id" in c for cid, c in cmps.items() if cid not in stubs)
    publisher.flush()

    # What HA reads after a restart: the retained copy, still carrying the removal.
    late = Listener(mosquitto, topic)
    try:
        retained = late.next(topic)
    finally:
        late.close()
    assert retained.retain
    assert json.loads(retained.payload)["cmps"] == cmps


def test_restart_adopts_and_then_removes_the_previous_runs_interfaces(
    mosquitto: Mosquitto, publisher: Publisher, topic_prefix: str, ha_prefix: str
) -> None:
    topic = device_topic("h1", ha_prefix)
    publisher.ha.on_samples([ETH0, WG])
    publisher.flush()
    publisher.close()

    # The next run: wg+vpn vanished while the publisher was down.
    settings = HaSettings(ha_prefix=ha_prefix, gone_after_s=0.3, birth_jitter_s=0.05)
    second = Publisher(mosquitto, TopicScheme(topic_prefix), settings)
    listener = Listener(mosquitto, topic)
    try:
        assert listener.next(topic).retain
        deadline = time.monotonic() + WAIT_S
        while topic not in second.received:
            assert time.monotonic() < deadline, "the retained config never reached the publisher"
            time.sleep(0.01)
        second.ha.on_samples([ETH0])
        kept = json.loads(listener.next(topic).payload)["cmps"]
        assert "uniq_id" in kept[f"{sanitize_id('wg+vpn')}_link"]  # carried over, for now
        time.sleep(0.4)  # longer than gone_after_s
        second.ha.on_samples([ETH0])
        cmps = json.loads(listener.next(topic).payload)["cmps"]
    finally:
        listener.close()
        second.close()
    assert {cid: c for cid, c in cmps.items() if cid.startswith("wg_vpn_")} == {
        cid: {"p": p} for cid, p in component_ids(sanitize_id("wg+vpn")).items()
    }


def test_alert_changes_are_retained(mosquitto: Mosquitto, topic_prefix: str) -> None:
    scheme = TopicScheme(topic_prefix)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect(mosquitto.host, mosquitto.port)
    client.loop_start()
    infos: list[mqtt.MQTTMessageInfo] = []

    def publish(topic: str, payload: bytes, retain: bool) -> None:
        infos.append(client.publish(topic, payload, qos=1, retain=retain))

    alerts = AlertPublisher(publish, scheme, AlertEvaluator("h1", Thresholds(errors_per_sec=1.0)))
    try:
        deltas = {"rx_errors": 100, "tx_errors": 0, "rx_dropped": 0, "tx_dropped": 0}
        alerts.on_sample(sample(iface="wg+1", interval_s=10.0, delta=deltas))
        for info in infos:
            info.wait_for_publish(WAIT_S)
    finally:
        client.disconnect()
        client.loop_stop()
    topic = scheme.alert("h1", "wg+1")
    late = Listener(mosquitto, topic)
    try:
        msg = late.next(topic)
    finally:
        late.close()
    state = decode(topic, msg.payload, scheme=scheme)
    assert isinstance(state, AlertState)
    assert msg.retain
    assert state.active
