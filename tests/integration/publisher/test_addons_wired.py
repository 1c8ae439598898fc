"""`ifpulse publish` wires Home Assistant discovery and alerts: real process, real broker."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from schemas import TopicScheme
from tests.fixtures.proc_trees import FakeHost
from tests.integration.publisher.helpers import PublisherProcess, wait_until
from tests.services.mosquitto import Mosquitto

pytestmark = pytest.mark.integration


class Watcher:
    """Collects every message (retained included) under some topic filters."""

    def __init__(self, broker: Mosquitto, filters: list[str]) -> None:
        self.got: dict[str, bytes] = {}
        self.lock = threading.Lock()
        ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: ready.set()
        self.client.connect(broker.host, broker.port)
        self.client.subscribe([(f, 1) for f in filters])
        self.client.loop_start()
        assert ready.wait(5), "no SUBACK"

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.got[msg.topic] = bytes(msg.payload)

    def json(self, topic: str) -> dict[str, Any] | None:
        with self.lock:
            raw = self.got.get(topic)
        return json.loads(raw) if raw else None

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _run(fake: FakeHost, tmp_path: Path, broker: Mosquitto, prefix: str, *extra: str) -> Any:
    return PublisherProcess(
        fake, tmp_path, "--broker", broker.url, "--host-id", "hahost",
        "--topic-prefix", prefix, "--interval", "0.2", *extra,
    )  # fmt: skip


def test_discovery_and_alerts_reach_the_broker(
    mosquitto: Mosquitto, topic_prefix: str, unique: str, tmp_path: Path
) -> None:
    scheme = TopicScheme(topic_prefix)
    ha_prefix = f"ha-{unique}"
    watcher = Watcher(mosquitto, [f"{ha_prefix}/#", scheme.alert_filter()])
    fake = FakeHost(tmp_path / "host")
    fake.add("eth0")
    proc = _run(fake, tmp_path, mosquitto, topic_prefix, "--ha-prefix", ha_prefix,
                "--alert-errors-per-sec", "5")  # fmt: skip
    try:
        config_topic = f"{ha_prefix}/device/ifpulse_hahost/config"
        wait_until(lambda: watcher.json(config_topic) is not None, 15, "discovery config")
        config = watcher.json(config_topic)
        assert config is not None
        states = {c.get("stat_t") for c in config["cmps"].values()}
        assert scheme.sample("hahost", "eth0") in states
        assert scheme.alert("hahost", "eth0") in states

        alert_topic = scheme.alert("hahost", "eth0")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:  # ~1000 errors/s, far over the threshold of 5
            fake.bump("eth0", rx_errors=100)
            alert = watcher.json(alert_topic)
            if alert and alert["active"]:
                break
            time.sleep(0.1)
        assert alert is not None and alert["active"], proc.output()[-2000:]
        assert "errors" in alert["reason"]
    finally:
        assert proc.terminate() == 0
        watcher.close()


def test_no_ha_discovery_publishes_no_config(
    mosquitto: Mosquitto, topic_prefix: str, unique: str, tmp_path: Path
) -> None:
    ha_prefix = f"ha-{unique}"
    watcher = Watcher(mosquitto, [f"{ha_prefix}/#", f"{topic_prefix}/v1/+/iface/+"])
    fake = FakeHost(tmp_path / "host")
    fake.add("eth0")
    proc = _run(fake, tmp_path, mosquitto, topic_prefix, "--ha-prefix", ha_prefix,
                "--no-ha-discovery")  # fmt: skip
    try:
        wait_until(lambda: len(watcher.got) >= 1, 15, "a sample")
        time.sleep(1.0)
        assert not [t for t in watcher.got if t.startswith(ha_prefix)]
    finally:
        assert proc.terminate() == 0
        watcher.close()
