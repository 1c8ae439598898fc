"""TS0179 TC001-TC004 and TC012-TC015 end to end: fake trees -> `ifpulse publish --once` ->
real mosquitto -> a subscriber sees exactly the expected interfaces and field values."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from schemas import TopicScheme, decode
from tests.fixtures.proc_trees import (
    NET_DEV_HEADER,
    TS0179_STANDARD,
    TS0179_WITH_VIRTUAL,
    FakeHost,
)
from tests.integration.publisher.helpers import PublisherProcess, Subscriber, wait_until
from tests.services.mosquitto import Mosquitto

pytestmark = pytest.mark.integration

Run = Callable[..., tuple[dict[str, dict[str, Any]], PublisherProcess]]


@pytest.fixture
def run_once(
    mosquitto: Mosquitto, topic_prefix: str, tmp_path: Path
) -> Iterator[Callable[..., tuple[dict[str, dict[str, Any]], PublisherProcess]]]:
    """Run one `--once` publisher over a fake host; return the samples a subscriber got."""
    sub = Subscriber(mosquitto.host, mosquitto.port, topic_prefix)

    def run(fake: FakeHost, *extra: str) -> tuple[dict[str, dict[str, Any]], PublisherProcess]:
        proc = PublisherProcess(
            fake, tmp_path, "--broker", mosquitto.url, "--host-id", "testhost",
            "--topic-prefix", topic_prefix, "--once", *extra,
        )  # fmt: skip
        assert proc.wait() == 0, proc.output()
        if "connected to" in proc.output():  # with nothing to send it may exit before connecting
            wait_until(
                lambda: any(s["state"] == "offline" for s in sub.statuses()), 10, "offline status"
            )
        got = {s["iface"]: s for s in sub.samples()}
        assert len(got) == len(sub.samples()), "one sample per interface"
        return got, proc

    yield run
    sub.close()


@pytest.fixture
def fake(tmp_path: Path) -> FakeHost:
    return FakeHost(tmp_path / "host")


def test_tc001_every_interface_with_its_counters(run_once: Run, fake: FakeHost) -> None:
    fake.add_from_net_dev(TS0179_STANDARD)
    got, _ = run_once(fake, "--exclude", "")
    assert set(got) == {"lo", "eth0", "wlan0"}  # nothing excluded: lo too
    eth0, wlan0 = got["eth0"], got["wlan0"]
    assert (eth0["rx_bytes"], eth0["tx_bytes"], eth0["rx_packets"], eth0["tx_packets"]) == (
        1073741824,
        536870912,
        1000000,
        500000,
    )
    assert (wlan0["rx_bytes"], wlan0["tx_bytes"], wlan0["rx_packets"], wlan0["tx_packets"]) == (
        10737418,
        5368709,
        10000,
        5000,
    )
    assert eth0["is_up"] is True and wlan0["is_up"] is True
    assert (eth0["kind"], wlan0["kind"]) == ("ethernet", "wireless")
    assert eth0["host"] == "testhost" and eth0["seq"] != wlan0["seq"]


def test_every_payload_passes_the_shared_decoder(
    run_once: Run, fake: FakeHost, topic_prefix: str
) -> None:
    fake.add_from_net_dev(TS0179_WITH_VIRTUAL)
    got, _ = run_once(fake)
    scheme = TopicScheme(topic_prefix)
    for iface, payload in got.items():
        msg = decode(scheme.sample("testhost", iface), json.dumps(payload).encode(), scheme=scheme)
        assert msg.iface == iface  # type: ignore[union-attr]


def test_tc002_header_only_publishes_nothing_and_warns(run_once: Run, fake: FakeHost) -> None:
    fake.write_net_dev(NET_DEV_HEADER)
    got, proc = run_once(fake)
    assert got == {}
    assert "lists no interfaces" in proc.output()


def test_tc003_missing_proc_net_dev_publishes_nothing_and_warns(
    run_once: Run, fake: FakeHost
) -> None:
    fake.remove_net_dev()
    got, proc = run_once(fake)
    assert got == {}
    assert "WARNING" in proc.output() and "net/dev" in proc.output()


def test_tc004_operstate(run_once: Run, fake: FakeHost) -> None:
    fake.add("eth0", operstate="up")
    fake.add("wlan0", operstate="down")
    fake.add("eth1", operstate=None)
    got, _ = run_once(fake)
    assert got["eth0"]["is_up"] is True and got["eth0"]["oper_state"] == "up"
    assert got["wlan0"]["is_up"] is False and got["wlan0"]["oper_state"] == "down"
    assert got["eth1"]["is_up"] is True  # a missing operstate counts as up


def test_tc012_loopback_excluded_by_default(run_once: Run, fake: FakeHost) -> None:
    fake.add_from_net_dev("".join(TS0179_STANDARD.splitlines(keepends=True)[:4]))
    got, _ = run_once(fake)
    assert list(got) == ["eth0"]


def test_tc013_to_tc015_virtual_interfaces_included(run_once: Run, fake: FakeHost) -> None:
    fake.add_from_net_dev(TS0179_WITH_VIRTUAL)
    got, _ = run_once(fake)
    assert set(got) == {"eth0", "tailscale0", "docker0", "veth1234abc"}
    ts0 = got["tailscale0"]
    assert (ts0["rx_bytes"], ts0["tx_bytes"], ts0["rx_packets"], ts0["tx_packets"]) == (
        10737418,
        5368709,
        10000,
        5000,
    )
    assert ts0["is_up"] is True and ts0["oper_state"] == "unknown" and ts0["kind"] == "tunnel"
    assert got["docker0"]["kind"] == "bridge" and got["docker0"]["rx_bytes"] == 0
    veth = got["veth1234abc"]
    assert veth["kind"] == "veth" and (veth["rx_bytes"], veth["tx_packets"]) == (1024, 200)
    for sample in got.values():  # all ten counters are there for every interface
        assert all(isinstance(sample[k], int) for k in ("rx_errors", "multicast", "collisions"))


def test_include_exclude_flags_end_to_end(run_once: Run, fake: FakeHost) -> None:
    fake.add_from_net_dev(TS0179_WITH_VIRTUAL)
    got, _ = run_once(fake, "--include", "eth*,veth*", "--exclude", "veth*")
    assert list(got) == ["eth0"]
