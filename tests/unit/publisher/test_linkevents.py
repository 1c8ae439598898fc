"""Link change notices: datagrams parsed, and a collector reading only the links they name."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from publisher.collect import Collector, InterfaceFilter
from publisher.linkevents import RTM_DELLINK, RTM_NEWLINK, parse
from tests.fixtures.proc_trees import FakeHost

RTM_NEWADDR = 20
IFLA_MTU, IFLA_IFNAME = 4, 3


def attr(kind: int, payload: bytes) -> bytes:
    raw = struct.pack("=HH", 4 + len(payload), kind) + payload
    return raw + b"\0" * (-len(raw) % 4)


def message(kind: int, *attrs: bytes, length: int | None = None) -> bytes:
    body = struct.pack("=BxHiII", 0, 1, 7, 0x1003, 0) + b"".join(attrs)
    size = 16 + len(body) if length is None else length
    return struct.pack("=IHHII", size, kind, 0, 0, 0) + body


def link(kind: int, name: str) -> bytes:
    # The kernel puts IFLA_IFNAME first; the parser does not rely on it.
    return message(
        kind, attr(IFLA_MTU, struct.pack("=I", 1500)), attr(IFLA_IFNAME, name.encode() + b"\0")
    )


def test_a_datagram_of_several_messages_names_each_link() -> None:
    names: set[str] = set()
    data = link(RTM_NEWLINK, "eth0") + message(RTM_NEWADDR) + link(RTM_DELLINK, "veth1a2b")
    assert parse(data, names)
    assert names == {"eth0", "veth1a2b"}


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(message(RTM_NEWLINK, attr(IFLA_MTU, b"\0" * 4)), id="no-name"),
        pytest.param(link(RTM_NEWLINK, "eth0")[:-3], id="truncated"),
        pytest.param(message(RTM_NEWLINK, length=8), id="too-short"),
        pytest.param(message(4), id="overrun"),
        pytest.param(link(RTM_NEWLINK, "eth0") + b"\1\2", id="trailing-bytes"),
        pytest.param(message(RTM_NEWLINK, struct.pack("=HH", 2, IFLA_IFNAME)), id="bad-attr"),
    ],
)
def test_a_datagram_that_cannot_be_read_says_so(data: bytes) -> None:
    assert not parse(data, set())


class Notices:
    """What LinkEvents.changed() would return, cycle by cycle (an empty set when not told)."""

    def __init__(self) -> None:
        self.next: set[str] | None = set()
        self.closed = False

    def changed(self) -> set[str] | None:
        got, self.next = self.next, set()
        return got

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def host(tmp_path: Path) -> FakeHost:
    fake = FakeHost(tmp_path)
    for name in ("eth0", "eth1", "eth2"):
        fake.add(name)
    return fake


def states(collector: Collector) -> dict[str, bool]:
    return {r.name: r.is_up for r in collector.collect()}


def test_only_links_a_notice_names_are_read_again(host: FakeHost) -> None:
    notices = Notices()
    collector = Collector(host.proc, host.sys, InterfaceFilter(), notices)  # type: ignore[arg-type]
    collector.STATE_REFRESH_CYCLES = 1000  # no link's turn comes in this test
    assert states(collector) == {"eth0": True, "eth1": True, "eth2": True}
    host.set_link("eth0", operstate="down")
    host.set_link("eth1", operstate="down")
    assert states(collector) == {"eth0": True, "eth1": True, "eth2": True}  # not told yet
    notices.next = {"eth1", "gone0"}
    assert states(collector) == {"eth0": True, "eth1": False, "eth2": True}
    notices.next = None  # notices were lost: every link is read
    assert states(collector) == {"eth0": False, "eth1": False, "eth2": True}
    host.set_link("eth2", mtu=9000)  # a link that stays up: its notice makes its details read
    assert collector.collect()[2].mtu == 1500
    notices.next = {"eth2"}
    assert collector.collect()[2].mtu == 9000
    host.add("eth3", operstate="down")  # a new link is read at once
    assert states(collector)["eth3"] is False
    collector.close()
    assert notices.closed


def test_every_link_is_still_read_in_its_turn(host: FakeHost) -> None:
    collector = Collector(host.proc, host.sys, InterfaceFilter(), Notices())  # type: ignore[arg-type]
    states(collector)
    for name in host.links:
        host.set_link(name, operstate="down")
    seen = [states(collector) for _ in range(Collector.STATE_REFRESH_CYCLES)]
    assert seen[-1] == {"eth0": False, "eth1": False, "eth2": False}
    assert seen[0] != seen[-1]  # the links were not all read at once


class FailingNotices(Notices):
    def changed(self) -> set[str] | None:
        raise OSError(9, "Bad file descriptor")


def test_a_failing_notice_socket_makes_every_link_read_every_cycle(
    host: FakeHost, caplog: pytest.LogCaptureFixture
) -> None:
    notices = FailingNotices()
    collector = Collector(host.proc, host.sys, InterfaceFilter(), notices)  # type: ignore[arg-type]
    collector.STATE_REFRESH_CYCLES = 1000
    states(collector)
    host.set_link("eth0", operstate="down")
    assert states(collector)["eth0"] is False
    assert notices.closed
    assert "link notices failed" in caplog.text
