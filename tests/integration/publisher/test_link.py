"""The MQTT link against real mosquitto: 3.1.1 fallback, username/password, mqtts:// with a CA."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.fixtures.proc_trees import FakeHost
from tests.integration.publisher.helpers import PublisherProcess, Subscriber, wait_until
from tests.services.mosquitto import Mosquitto
from tests.services.proc import LOOPBACK, free_port

pytestmark = pytest.mark.integration
PASSWORD = "pw-Zq81-never-logged"


class RefuseMqtt5Proxy:
    """Forwards MQTT 3.1.1 to a broker; answers an MQTT 5 CONNECT as an old broker would."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.refused = 0
        self.server = socket.create_server((LOOPBACK, 0))
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    @staticmethod
    def _read(sock: socket.socket, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return data

    def _handle(self, client: socket.socket) -> None:
        try:
            head = self._read(client, 2)  # CONNECT type, first byte of the remaining length
            while head[-1] & 0x80:  # the remaining length is a varint
                head += self._read(client, 1)
            head += self._read(client, 7)  # "\0\4MQTT" and the protocol level
        except ConnectionError:
            client.close()
            return
        if head[-1] == 5:
            self.refused += 1
            client.sendall(b"\x20\x02\x00\x01")  # 3.1.1 CONNACK: unacceptable protocol version
            client.close()
            return
        upstream = socket.create_connection((LOOPBACK, self.target_port))
        upstream.sendall(head)
        for src, dst in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pipe, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def fake(tmp_path: Path) -> FakeHost:
    host = FakeHost(tmp_path / "host")
    host.add("eth0")
    host.add("wlan0")
    return host


@pytest.fixture
def proxy(mosquitto: Mosquitto) -> Iterator[RefuseMqtt5Proxy]:
    p = RefuseMqtt5Proxy(mosquitto.port)
    yield p
    p.close()


def test_falls_back_to_mqtt_311_when_the_broker_refuses_5(
    mosquitto: Mosquitto, proxy: RefuseMqtt5Proxy, fake: FakeHost, topic_prefix: str, tmp_path: Path
) -> None:
    sub = Subscriber(mosquitto.host, mosquitto.port, topic_prefix)
    try:
        pub = PublisherProcess(
            fake, tmp_path, "--broker", f"mqtt://{LOOPBACK}:{proxy.port}", "--host-id", "old",
            "--topic-prefix", topic_prefix, "--once",
        )  # fmt: skip
        assert pub.wait() == 0, pub.output()
        wait_until(lambda: len(sub.samples()) == 2, 10, "two samples via MQTT 3.1.1")
    finally:
        sub.close()
    # Refused once, or twice when paho's own reconnect races the switch under load.
    assert 1 <= proxy.refused <= 2
    assert "falling back to MQTT 3.1.1" in pub.output()
    assert "MQTT 3.1.1" in pub.output()


def _password_broker(factory: Callable[..., Mosquitto], workdir: Path) -> Mosquitto:
    passwd = workdir / "passwd"
    subprocess.run(
        ["mosquitto_passwd", "-b", "-c", str(passwd), "edge1", PASSWORD], check=True, timeout=30
    )
    passwd.chmod(0o600)
    return factory(extra_conf=f"allow_anonymous false\npassword_file {passwd}\n")


def test_username_and_password_file(
    broker_factory: Callable[..., Mosquitto], fake: FakeHost, topic_prefix: str, tmp_path: Path
) -> None:
    broker = _password_broker(broker_factory, tmp_path)
    secret = tmp_path / "mqtt-password"
    secret.write_text(PASSWORD + "\n")
    pub = PublisherProcess(
        fake, tmp_path, "--broker", broker.url, "--host-id", "edge1", "--topic-prefix",
        topic_prefix, "--username", "edge1", "--password-file", str(secret), "--once",
    )  # fmt: skip
    assert pub.wait() == 0, pub.output()
    assert PASSWORD not in pub.output()
    assert PASSWORD not in " ".join(pub.popen.args)  # type: ignore[arg-type]


def test_wrong_password_is_refused_clearly_and_nothing_is_lost(
    broker_factory: Callable[..., Mosquitto], fake: FakeHost, topic_prefix: str, tmp_path: Path
) -> None:
    broker = _password_broker(broker_factory, tmp_path)
    pub = PublisherProcess(
        fake, tmp_path, "--broker", broker.url, "--host-id", "edge1", "--topic-prefix",
        topic_prefix, "--username", "edge1", "--once", "--once-timeout", "2",
        env={"IFPULSE_PASSWORD": "wrong-" + PASSWORD},
    )  # fmt: skip
    assert pub.wait() == 1, pub.output()  # undelivered
    out = pub.output()
    assert "refused the connection" in out and PASSWORD not in out
    assert "2 samples stay in the spool" in out


def _make_ca(workdir: Path) -> tuple[Path, Path, Path]:
    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)

    ca_key, ca, key, csr, cert = (
        workdir / n for n in ("ca.key", "ca.pem", "s.key", "s.csr", "s.pem")
    )
    ext = workdir / "san.ext"
    ext.write_text(f"subjectAltName=IP:{LOOPBACK}\n")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-ca",
            "-keyout", str(ca_key), "-out", str(ca))  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={LOOPBACK}",
            "-keyout", str(key), "-out", str(csr))  # fmt: skip
    openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
            "-CAcreateserial", "-days", "2", "-extfile", str(ext), "-out", str(cert))  # fmt: skip
    return ca, cert, key


def test_mqtts_with_a_ca_and_a_clear_error_for_the_wrong_one(
    broker_factory: Callable[..., Mosquitto], fake: FakeHost, topic_prefix: str, tmp_path: Path
) -> None:
    ca, cert, key = _make_ca(tmp_path)
    tls_port = free_port()
    broker = broker_factory(
        extra_conf=f"listener {tls_port} {LOOPBACK}\ncafile {ca}\ncertfile {cert}\nkeyfile {key}\n"
    )
    sub = Subscriber(broker.host, broker.port, topic_prefix)
    try:
        pub = PublisherProcess(
            fake, tmp_path, "--broker", f"mqtts://{LOOPBACK}:{tls_port}", "--host-id", "tls1",
            "--topic-prefix", topic_prefix, "--tls-ca", str(ca), "--once",
        )  # fmt: skip
        assert pub.wait() == 0, pub.output()
        wait_until(lambda: len(sub.samples()) == 2, 10, "two samples over TLS")
    finally:
        sub.close()

    (tmp_path / "other").mkdir()
    other_ca, _, _ = _make_ca(tmp_path / "other")  # a CA that did not sign the broker's cert
    wrong = PublisherProcess(
        fake, tmp_path, "--broker", f"mqtts://{LOOPBACK}:{tls_port}", "--host-id", "tls1",
        "--topic-prefix", topic_prefix, "--tls-ca", str(other_ca), "--once", "--once-timeout", "2",
    )  # fmt: skip
    assert wrong.wait() == 1
    assert "certificate verify failed" in wrong.output()


def test_subscriptions_are_made_on_connect_and_routed(mosquitto: Mosquitto, unique: str) -> None:
    """Room for add-ons such as Home Assistant discovery, which listens for HA's birth."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from publisher.mqtt import LinkOptions, MqttLink, parse_broker_url

    got: list[tuple[str, bytes]] = []
    link = MqttLink(
        LinkOptions(
            broker=parse_broker_url(mosquitto.url),
            client_id=f"link-{unique}",
            will_topic=f"{unique}/will",
            will_payload=b"gone",
        )
    )
    link.subscriptions.append(f"{unique}/ha/status")
    link.on_message = lambda topic, payload: got.append((topic, payload))
    link.start()
    try:
        wait_until(lambda: link.connected, 10, "link connected")
        other = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        other.connect(mosquitto.host, mosquitto.port)
        other.loop_start()

        def sent_and_routed() -> bool:  # SUBACK may trail CONNACK: send until it is routed
            other.publish(f"{unique}/ha/status", b"online", qos=1).wait_for_publish(1)
            return bool(got)

        wait_until(sent_and_routed, 10, "the routed message")
        other.loop_stop()
        other.disconnect()
    finally:
        link.close()
    assert (f"{unique}/ha/status", b"online") in got
