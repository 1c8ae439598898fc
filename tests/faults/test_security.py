"""Security faults: spoofed topics, mqtts with a throwaway CA end to end (and a clear error
with the wrong CA), and the MQTT password never in argv, logs or error messages.

The deploy ACL (a host may write only its own topics) is tested against the shipped
mosquitto config in tests/integration/deploy/test_deploy_files.py; not repeated here.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from schemas import Reason, TopicScheme, decode_rejection, encode
from tests.factories import sample
from tests.faults.pipeline import (
    clean_env,
    count,
    fake_host,
    finish,
    python_in,
    start_ingestor,
    start_publisher,
    stop_all,
    stored_count,
    stored_points,
)
from tests.integration.ingestor.helpers import Collector, ProcessIngestor, Publisher, wait_for
from tests.integration.publisher.test_link import PASSWORD, _make_ca, _password_broker
from tests.services.mosquitto import Mosquitto
from tests.services.proc import LOOPBACK, free_port

pytestmark = pytest.mark.faults


def test_payload_claiming_another_host_or_interface_is_refused(
    broker_factory: Callable[..., Mosquitto],
    sqlite_url: str,
    topic_prefix: str,
    unique: str,
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    broker = broker_factory()
    scheme = TopicScheme(topic_prefix)
    dead = Collector(broker, scheme.rejected())
    ing = start_ingestor(broker, sqlite_url, topic_prefix, f"ing-{unique}", tmp_path / "i.log")
    pub = Publisher(broker)
    ts = datetime.now(UTC) - timedelta(hours=1)
    honest = sample("edge-a", "eth0", seq=1, ts=ts)
    forged = [
        (scheme.sample("edge-a", "eth0"), encode(sample("edge-b", "eth0", seq=2, ts=ts))),  # host
        (scheme.sample("edge-a", "eth0"), encode(sample("edge-a", "eth1", seq=3, ts=ts))),  # iface
        (
            scheme.status("edge-a"),
            json.dumps(
                {
                    "v": 1,
                    "host": "edge-b",
                    "state": "online",
                    "ts": None,
                    "version": "x",
                    "interval_s": 1.0,
                    "boot_id": None,
                    "spool_depth": 0,
                    "spool_dropped": 0,
                }
            ).encode(),
        ),
    ]
    try:
        pub.publish([*forged, (scheme.sample("edge-a", "eth0"), encode(honest))])
        wait_for(lambda: dead.count() >= len(forged), 10, ing.tail)
        wait_for(lambda: stored_count(sqlite_url) >= 1, 10, ing.tail)
        assert ing.stop(signal.SIGTERM) == 0
    finally:
        pub.close()
        dead.close()
        stop_all(ing)
    reasons = [decode_rejection(p).reason for p in dead.payloads]
    assert reasons == [Reason.TOPIC_MISMATCH] * len(forged)
    assert stored_points(sqlite_url) == [("edge-a", "eth0", 1)]
    count("spoofed host / iface", sqlite_url, {("edge-a", "eth0", 1)}, started,
          f"{len(forged)} forged -> {len(reasons)} topic_mismatch")  # fmt: skip


def _tls_broker(factory: Callable[..., Mosquitto], workdir: Path) -> tuple[Mosquitto, str, Path]:
    ca, cert, key = _make_ca(workdir)
    tls_port = free_port()
    broker = factory(
        extra_conf=f"listener {tls_port} {LOOPBACK}\ncafile {ca}\ncertfile {cert}\nkeyfile {key}\n"
    )
    return broker, f"mqtts://{LOOPBACK}:{tls_port}", ca


def test_mqtts_end_to_end_and_a_clear_error_with_the_wrong_ca(
    broker_factory: Callable[..., Mosquitto],
    sqlite_url: str,
    topic_prefix: str,
    unique: str,
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    _, url, ca = _tls_broker(broker_factory, tmp_path)
    (tmp_path / "other").mkdir()
    other_ca, _, _ = _make_ca(tmp_path / "other")  # did not sign the broker's certificate
    fake = fake_host(tmp_path / "host")
    ing = start_ingestor(
        url, sqlite_url, topic_prefix, f"ing-{unique}", tmp_path / "i.log", "--tls-ca", str(ca)
    )
    pub = start_publisher(fake, tmp_path / "pub", url, unique, topic_prefix, "--tls-ca", str(ca))
    wrong = ProcessIngestor(
        [
            "--broker",
            url,
            "--store",
            f"sqlite:///{tmp_path}/wrong.db",
            "--topic-prefix",
            topic_prefix,
            "--client-id",
            f"wrong-{unique}",
            "--tls-ca",
            str(other_ca),
        ],
        tmp_path / "wrong.log",
    )
    try:
        wait_for(lambda: stored_count(sqlite_url, unique) >= 30, 20, ing.tail)
        sent = finish(pub, ing, sqlite_url, unique)
        wait_for(lambda: "certificate verify failed" in wrong.tail(), 15, wrong.tail)
        assert "connected (session present" not in wrong.tail()
    finally:
        stop_all(pub, ing, wrong)
    figures = count("mqtts with a throwaway CA", sqlite_url, sent, started)
    assert (figures.lost, figures.duplicates) == (0, 0)


def _leaks(text: str) -> bool:
    return PASSWORD in text


def test_password_never_in_argv_logs_or_errors(
    broker_factory: Callable[..., Mosquitto],
    sqlite_url: str,
    topic_prefix: str,
    unique: str,
    tmp_path: Path,
) -> None:
    broker = _password_broker(broker_factory, tmp_path)  # user edge1, password PASSWORD
    secret = tmp_path / "mqtt-password"
    secret.write_text(PASSWORD + "\n")
    fake = fake_host(tmp_path / "host")
    os.environ["IFPULSE_PASSWORD"] = PASSWORD  # the ingestor's way in; ProcessIngestor inherits
    try:
        ing = ProcessIngestor(
            [
                "--broker",
                broker.url,
                "--store",
                sqlite_url,
                "--topic-prefix",
                topic_prefix,
                "--client-id",
                f"ing-{unique}",
                "--username",
                "edge1",
                "--log-level",
                "DEBUG",
                "--flush-interval",
                "0.2",
            ],
            tmp_path / "i.log",
        )
        bad_ing = ProcessIngestor(
            [
                "--broker",
                broker.url,
                "--store",
                f"sqlite:///{tmp_path}/b.db",
                "--client-id",
                f"bad-{unique}",
                "--username",
                "nobody",
                "--log-level",
                "DEBUG",
            ],
            tmp_path / "bad.log",
        )
    finally:
        del os.environ["IFPULSE_PASSWORD"]
    ing.wait_connected()
    wait_for(lambda: "subscribed to" in ing.tail(), 10, ing.tail)
    pub = start_publisher(
        fake, tmp_path / "pub", broker.url, unique, topic_prefix,
        "--username", "edge1", "--password-file", str(secret),
    )  # fmt: skip
    try:
        wait_for(lambda: stored_count(sqlite_url, unique) >= 10, 20, ing.tail)
        wait_for(lambda: "refused" in bad_ing.tail(), 15, bad_ing.tail)
        argvs = [Path(f"/proc/{p.popen.pid}/cmdline").read_bytes() for p in (ing, bad_ing, pub)]
        environ_of_pub = Path(f"/proc/{pub.popen.pid}/environ").read_bytes()
        finish(pub, ing, sqlite_url, unique)
    finally:
        stop_all(pub, ing, bad_ing)
    assert not any(PASSWORD.encode() in a for a in argvs), "password in a process's argv"
    assert PASSWORD.encode() not in environ_of_pub, "the publisher got it from the file"
    for log in (ing.log, bad_ing.log, pub.log):
        assert not _leaks(log.read_text(errors="replace")), f"password in {log.name}"
    errors = _config_errors(tmp_path)
    for argv, output in errors.items():
        assert not _leaks(output), f"password in the error of {argv}:\n{output}"


def _config_errors(tmp_path: Path) -> dict[str, str]:
    """Outputs of misconfigured runs that carry the password somewhere in their input."""
    url = f"mqtt://edge1:{PASSWORD}@{LOOPBACK}:1"
    store = f"--store=sqlite:///{tmp_path}/e.db"
    runs = {
        "publish --password X": ["publish", "--password", PASSWORD],
        "publish --broker URL-with-password": ["publish", "--broker", url],
        "publish --interval 0 (password in env)": ["publish", "--interval", "0"],
        "ingest --password=X": ["ingest", store, f"--password={PASSWORD}"],
        "ingest --broker URL-with-password (bad scheme)": ["ingest", store, "--broker",
                                                           url.replace("mqtt", "ftp")],
        "ingest --batch-size 0 (password in env)": ["ingest", store, "--batch-size", "0"],
    }  # fmt: skip
    outputs: dict[str, str] = {}
    for name, args in runs.items():
        done = subprocess.run(
            [*python_in(), "-m", "ifpulse", *args],
            capture_output=True,
            text=True,
            timeout=30,
            env=clean_env(IFPULSE_PASSWORD=PASSWORD),
        )
        assert done.returncode == 2, f"{name}: exit {done.returncode}\n{done.stderr}"
        outputs[name] = done.stdout + done.stderr
    return outputs
