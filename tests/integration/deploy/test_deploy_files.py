"""deploy/: mosquitto starts with the shipped config and ACL, systemd units verify."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from schemas import TopicScheme
from tests.services.proc import LOOPBACK, Process, free_port, need_binary, port_open

pytestmark = pytest.mark.integration
DEPLOY = Path(__file__).parents[3] / "deploy"
USERS = {"ingestor": "ingest-pw", "host-a": "a-pw", "host-b": "b-pw"}


@pytest.fixture
def acl_broker(tmp_path: Path) -> object:
    """mosquitto running deploy/mosquitto/mosquitto.conf + ifpulse.acl, paths made local."""
    binary = need_binary("mosquitto", "mosquitto")
    passwd = tmp_path / "ifpulse.passwd"
    passwd.write_text("".join(f"{u}:{p}\n" for u, p in USERS.items()))
    subprocess.run([need_binary("mosquitto_passwd", "mosquitto"), "-U", str(passwd)], check=True)
    port = free_port()
    conf = (DEPLOY / "mosquitto" / "mosquitto.conf").read_text()
    conf = re.sub(r"^listener 1883$", f"listener {port} {LOOPBACK}", conf, flags=re.M)
    conf = conf.replace("/etc/mosquitto/ifpulse.passwd", str(passwd))
    conf = conf.replace("/etc/mosquitto/ifpulse.acl", str(DEPLOY / "mosquitto" / "ifpulse.acl"))
    conf = conf.replace("/var/lib/mosquitto/", f"{tmp_path}/")
    if os.geteuid() == 0:
        conf += "\nuser root\n"
    (tmp_path / "m.conf").write_text(conf)
    proc = Process(
        [binary, "-c", str(tmp_path / "m.conf")],
        tmp_path / "m.log",
        lambda: port_open(port),
        "mosquitto-acl",
    )
    proc.start()
    yield port
    proc.stop()


def _client(port: int, user: str) -> mqtt.Client:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"acl-{user}", protocol=mqtt.MQTTv5)
    c.username_pw_set(user, USERS[user])
    connected = threading.Event()
    c.on_connect = lambda *a: connected.set()
    c.connect(LOOPBACK, port)
    c.loop_start()
    assert connected.wait(5), f"{user} could not connect"
    return c


def test_host_may_publish_only_its_own_topics(acl_broker: int) -> None:
    scheme = TopicScheme()
    got: list[str] = []
    ingestor = _client(acl_broker, "ingestor")
    subscribed = threading.Event()
    ingestor.on_subscribe = lambda *a: subscribed.set()
    ingestor.on_message = lambda c, u, m: got.append(m.topic)
    ingestor.subscribe(scheme.sample_filter(), qos=1)
    assert subscribed.wait(5)

    host_a = _client(acl_broker, "host-a")
    host_a.publish(scheme.sample("host-b", "eth0"), b"spoof", qos=1).wait_for_publish(5)
    host_a.publish(scheme.sample("host-a", "eth0"), b"mine", qos=1).wait_for_publish(5)
    for _ in range(50):
        if got:
            break
        threading.Event().wait(0.1)
    threading.Event().wait(0.5)
    for c in (host_a, ingestor):
        c.loop_stop()
        c.disconnect()
    assert got == [scheme.sample("host-a", "eth0")]


def test_anonymous_clients_are_refused(acl_broker: int) -> None:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    codes: list[object] = []
    done = threading.Event()
    c.on_connect = lambda cl, u, f, rc, p: (codes.append(rc), done.set())
    c.connect(LOOPBACK, acl_broker)
    c.loop_start()
    assert done.wait(5)
    c.loop_stop()
    assert codes[0].is_failure  # type: ignore[attr-defined]


def test_systemd_units_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.fail("systemd-analyze not found: apt-get install -y systemd")
    ifpulse = shutil.which("ifpulse") or str(Path(sys.executable).parent / "ifpulse")
    units = []
    for unit in sorted((DEPLOY / "systemd").glob("*.service")):
        copy = tmp_path / unit.name
        copy.write_text(unit.read_text().replace("/usr/local/bin/ifpulse", ifpulse))
        units.append(str(copy))
    assert len(units) == 3
    out = subprocess.run([analyze, "verify", *units], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_compose_file_is_valid(tmp_path: Path) -> None:
    """docker-compose (Debian's, no engine needed) validates deploy/compose.yaml."""
    compose = shutil.which("docker-compose")
    if compose is None:
        pytest.fail("docker-compose not found: apt-get install -y docker-compose")
    env = tmp_path / ".env"
    env.write_text((DEPLOY / ".env.example").read_text())
    out = subprocess.run(
        [compose, "-f", str(DEPLOY / "compose.yaml"), "--env-file", str(env), "config"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    # Two ingestors share the stream; every service the docs promise is there.
    for name in ("mosquitto", "influxdb", "ingestor", "api", "publisher"):
        assert f"\n  {name}:" in out.stdout, name
    assert "IFPULSE_GROUP: ingestors" in out.stdout
    assert "replicas: 2" in out.stdout
