"""The real-service fixtures work: a sample through mosquitto, a point through influxd."""

from __future__ import annotations

import json
import threading
import urllib.parse
import urllib.request

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from schemas import TopicScheme, decode, encode
from tests.factories import sample
from tests.services.influxd import Influxd
from tests.services.mosquitto import Mosquitto

pytestmark = pytest.mark.integration


def test_sample_round_trip_through_real_mosquitto(mosquitto: Mosquitto, topic_prefix: str) -> None:
    scheme = TopicScheme(topic_prefix)
    got: list[bytes] = []
    subscribed, received = threading.Event(), threading.Event()

    sub = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    sub.on_subscribe = lambda *a: subscribed.set()
    sub.on_message = lambda c, u, m: (got.append(m.payload), received.set())
    sub.connect(mosquitto.host, mosquitto.port)
    sub.subscribe(scheme.sample_filter(), qos=1)
    sub.loop_start()
    assert subscribed.wait(5)

    pub = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    pub.connect(mosquitto.host, mosquitto.port)
    pub.loop_start()
    s = sample(iface="wg+1")
    pub.publish(scheme.sample(s.host, s.iface), encode(s), qos=1).wait_for_publish(5)
    assert received.wait(5)
    for c in (pub, sub):
        c.loop_stop()
        c.disconnect()
    assert decode(scheme.sample(s.host, s.iface), got[0], scheme=scheme) == s


def test_broker_restart_keeps_port(broker_factory: type[Mosquitto]) -> None:
    broker = broker_factory()
    port = broker.port
    broker.restart()
    assert broker.port == port and broker.process.pid is not None


def _query(server: Influxd, q: str, db: str = "") -> dict[str, object]:
    url = f"{server.http_url}/query?" + urllib.parse.urlencode({"q": q, "db": db})
    req = urllib.request.Request(url, method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())  # type: ignore[no-any-return]


def test_point_round_trip_through_real_influxd(influxd: Influxd, unique: str) -> None:
    _query(influxd, f'CREATE DATABASE "{unique}"')
    line = b"interface,host=h1,interface=eth0 rx_bytes=1000i 1700000000000000000"
    req = urllib.request.Request(f"{influxd.http_url}/write?db={unique}", data=line, method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 204
    result = _query(influxd, "SELECT rx_bytes FROM interface WHERE host='h1'", unique)
    series = result["results"][0]["series"][0]  # type: ignore[index]
    assert series["values"] == [["2023-11-14T22:13:20Z", 1000]]
