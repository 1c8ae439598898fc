"""Collection from fake /proc + /sys trees: TS0179 TC001-TC004, TC012-TC015 and the edge cases."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from publisher.collect import Collector, InterfaceFilter, get_network_interfaces, read_boot_id
from publisher.links import link_is_up
from publisher.netdev import parse_net_dev
from schemas import InterfaceKind, OperState
from tests.fixtures.proc_trees import (
    BOOT_ID,
    NET_DEV_HEADER,
    TS0179_STANDARD,
    TS0179_WITH_VIRTUAL,
    FakeHost,
)


@pytest.fixture
def host(tmp_path: Path) -> FakeHost:
    return FakeHost(tmp_path)


def read(host: FakeHost, **kwargs: object) -> dict[str, object]:
    return {i.name: i for i in get_network_interfaces(host.proc, host.sys, **kwargs)}  # type: ignore[arg-type]


# -- TS0179 AC1 ------------------------------------------------------------------------------
def test_tc001_collects_every_interface_from_proc_net_dev(host: FakeHost) -> None:
    host.add_from_net_dev(TS0179_STANDARD)
    result = get_network_interfaces(host.proc, host.sys)
    assert isinstance(result, list)
    assert [i.name for i in result] == ["eth0", "wlan0"]
    eth0 = result[0]
    assert (eth0.rx_bytes, eth0.tx_bytes, eth0.rx_packets, eth0.tx_packets) == (
        1073741824,
        536870912,
        1000000,
        500000,
    )
    assert eth0.is_up is True
    wlan0 = result[1]
    assert (wlan0.rx_bytes, wlan0.tx_bytes, wlan0.rx_packets, wlan0.tx_packets) == (
        10737418,
        5368709,
        10000,
        5000,
    )


def test_tc002_header_only_gives_empty_list_and_one_warning(
    host: FakeHost, caplog: pytest.LogCaptureFixture
) -> None:
    host.write_net_dev(NET_DEV_HEADER)
    with caplog.at_level(logging.WARNING):
        result = get_network_interfaces(host.proc, host.sys)
    assert result == []
    assert len(caplog.records) == 1
    assert "lists no interfaces" in caplog.text


def test_tc003_missing_proc_net_dev_gives_empty_list_and_warning(
    host: FakeHost, caplog: pytest.LogCaptureFixture
) -> None:
    host.remove_net_dev()
    with caplog.at_level(logging.WARNING):
        result = get_network_interfaces(host.proc, host.sys)
    assert result == []
    assert len(caplog.records) == 1
    assert "net/dev" in caplog.text


def test_tc004_operstate_sets_is_up_and_missing_operstate_counts_as_up(host: FakeHost) -> None:
    host.add("eth0", operstate="up")
    host.add("wlan0", operstate="down", carrier=None)
    host.add("eth1", operstate=None)  # no operstate file at all
    got = get_network_interfaces(host.proc, host.sys)
    by_name = {i.name: i for i in got}
    assert by_name["eth0"].is_up is True
    assert by_name["wlan0"].is_up is False
    assert by_name["wlan0"].oper_state is OperState.DOWN
    assert by_name["eth1"].is_up is True
    assert by_name["eth1"].oper_state is None


# -- TS0179 AC4 ------------------------------------------------------------------------------
def test_tc012_loopback_is_excluded_by_default(host: FakeHost) -> None:
    lo_and_eth0 = "".join(TS0179_STANDARD.splitlines(keepends=True)[:4])
    host.add_from_net_dev(lo_and_eth0)
    names = [i.name for i in get_network_interfaces(host.proc, host.sys)]
    assert names == ["eth0"]


def test_tc013_to_tc015_tailscale_docker_and_veth_are_included(host: FakeHost) -> None:
    host.add_from_net_dev(TS0179_WITH_VIRTUAL)
    got = {i.name: i for i in get_network_interfaces(host.proc, host.sys)}
    assert set(got) == {"eth0", "tailscale0", "docker0", "veth1234abc"}
    assert (got["tailscale0"].rx_bytes, got["tailscale0"].tx_packets) == (10737418, 5000)
    assert got["tailscale0"].kind is InterfaceKind.TUNNEL
    assert got["tailscale0"].is_up is True  # operstate unknown, IFF_UP and carrier
    assert got["docker0"].kind is InterfaceKind.BRIDGE
    assert got["docker0"].rx_bytes == 0
    assert got["veth1234abc"].kind is InterfaceKind.VETH
    assert (got["veth1234abc"].rx_packets, got["veth1234abc"].tx_bytes) == (100, 2048)


# -- the rest of "Collection" ----------------------------------------------------------------
def test_all_sixteen_counters_and_link_attributes_are_read(host: FakeHost) -> None:
    counters = {
        "rx_bytes": 1,
        "rx_packets": 2,
        "rx_errors": 3,
        "rx_dropped": 4,
        "rx_fifo": 5,
        "rx_frame": 6,
        "rx_compressed": 7,
        "multicast": 8,
        "tx_bytes": 9,
        "tx_packets": 10,
        "tx_errors": 11,
        "tx_dropped": 12,
        "tx_fifo": 13,
        "collisions": 14,
        "tx_carrier": 15,
        "tx_compressed": 16,
    }
    host.add("eth0", speed=100, mtu=9000, address="AA:BB:CC:DD:EE:FF", **counters)
    (eth0,) = get_network_interfaces(host.proc, host.sys)
    assert eth0.counters._asdict() == counters
    assert (eth0.speed_mbps, eth0.mtu, eth0.mac) == (100, 9000, "aa:bb:cc:dd:ee:ff")
    assert (eth0.ifindex, eth0.arp_type) == (1, 1)
    assert eth0.kind is InterfaceKind.ETHERNET
    assert (eth0.carrier, eth0.flags) == (None, None)  # read only when operstate is unknown
    host.set_link("eth0", operstate="unknown", flags=0x1002, carrier=1)
    (eth0,) = get_network_interfaces(host.proc, host.sys)
    assert (eth0.carrier, eth0.flags, eth0.is_up) == (True, 0x1002, False)


def test_unknown_speed_and_absent_attributes_are_none(host: FakeHost) -> None:
    host.add("eth0", speed=-1)
    host.add("eth1", speed=4294967295, mtu=None, address=None)
    got = read(host)
    assert got["eth0"].speed_mbps is None  # type: ignore[attr-defined]
    assert got["eth1"].speed_mbps is None  # type: ignore[attr-defined]
    assert got["eth1"].mtu is None  # type: ignore[attr-defined]
    assert got["eth1"].mac is None  # type: ignore[attr-defined]


def test_garbage_lines_are_skipped_with_a_warning_naming_the_line() -> None:
    text = NET_DEV_HEADER + (
        "  eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"
        "  eth1: 1 2 three 4\n"
        "what is this\n"
        "  eth2: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n"
        "  eth3:1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"
    )
    rows, warnings = parse_net_dev(text)
    assert list(rows) == ["eth0", "eth3"]  # eth3: name glued to a wide first counter
    assert len(warnings) == 3
    assert "line 4" in warnings[0] and "eth1" in warnings[0]
    assert "line 5" in warnings[1] and "what is this" in warnings[1]
    assert "line 6" in warnings[2]


def test_lines_of_too_few_counters_are_skipped() -> None:
    full = " ".join(str(i) for i in range(1, 17))
    text = NET_DEV_HEADER + f"  eth4: 1 2 3\n  eth5:\n  eth6: {full}\n"
    rows, warnings = parse_net_dev(text)
    assert list(rows) == ["eth6"] and len(warnings) == 2


@pytest.mark.parametrize(
    ("oper", "flags", "carrier", "up"),
    [
        (OperState.UP, None, None, True),
        (None, None, None, True),
        (OperState.DOWN, 0x1003, True, False),
        (OperState.LOWERLAYERDOWN, 0x1003, None, False),
        (OperState.DORMANT, 0x1003, True, False),
        (OperState.UNKNOWN, 0x1091, True, True),  # wireguard: IFF_UP, carrier
        (OperState.UNKNOWN, 0x1090, True, False),  # administratively down
        (OperState.UNKNOWN, 0x1091, False, False),  # tun with no process attached
        (OperState.UNKNOWN, 0x1091, None, True),  # carrier unreadable
    ],
)
def test_is_up(oper: OperState | None, flags: int | None, carrier: bool | None, up: bool) -> None:
    assert link_is_up(oper, flags, carrier) is up


def test_include_and_exclude_globs(host: FakeHost) -> None:
    for name in ("lo", "eth0", "eth1", "wlan0", "br-1a2b", "veth9", "docker0"):
        host.add(name)
    assert set(read(host)) == {"eth0", "eth1", "wlan0", "br-1a2b", "veth9", "docker0"}
    assert set(read(host, include=["eth*", "br-*"])) == {"eth0", "eth1", "br-1a2b"}
    assert set(read(host, exclude=["lo", "veth*", "docker0"])) == {
        "eth0",
        "eth1",
        "wlan0",
        "br-1a2b",
    }
    assert set(read(host, include=["eth*"], exclude=["eth1"])) == {"eth0"}
    assert "lo" in read(host, exclude=[])


def test_filter_matches_whole_names_only() -> None:
    wanted = InterfaceFilter(include=["eth0"], exclude=[])
    assert wanted("eth0") and not wanted("eth01") and not wanted("xeth0")


def test_kinds(host: FakeHost) -> None:
    host.add("wlan0")
    host.add("eth0.10", device=False)
    host.add("dummy0", device=False)
    host.add("wg0")
    host.add("lo")
    host.add("bond0", device=False)
    (host.sys / "class" / "net" / "bond0" / "bonding").mkdir()
    host.add("ppp0", type=512, device=False)
    host.add("can0", type=280)
    kinds = {i.name: i.kind for i in get_network_interfaces(host.proc, host.sys, exclude=[])}
    assert kinds == {
        "wlan0": InterfaceKind.WIRELESS,
        "eth0.10": InterfaceKind.VLAN,
        "dummy0": InterfaceKind.VIRTUAL,
        "wg0": InterfaceKind.TUNNEL,
        "lo": InterfaceKind.VIRTUAL,
        "bond0": InterfaceKind.BOND,
        "ppp0": InterfaceKind.TUNNEL,
        "can0": InterfaceKind.OTHER,
    }


def test_boot_id(host: FakeHost, tmp_path: Path) -> None:
    assert read_boot_id(host.proc) == BOOT_ID
    assert read_boot_id(tmp_path / "nowhere") is None


def test_interface_in_proc_but_not_in_sys_is_still_reported(host: FakeHost) -> None:
    host.write_net_dev(NET_DEV_HEADER + "  eth9: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n")
    (eth9,) = get_network_interfaces(host.proc, host.sys)
    assert eth9.is_up is True and eth9.kind is InterfaceKind.OTHER and eth9.ifindex is None


def test_collector_picks_up_and_retires_interfaces_without_restart(host: FakeHost) -> None:
    collector = Collector(host.proc, host.sys)
    host.add("eth0")
    assert [i.name for i in collector.collect()] == ["eth0"]
    host.add("veth1")
    assert [i.name for i in collector.collect()] == ["eth0", "veth1"]
    host.remove("eth0")
    assert [i.name for i in collector.collect()] == ["veth1"]


def test_collector_warns_once_while_the_problem_lasts(
    host: FakeHost, caplog: pytest.LogCaptureFixture
) -> None:
    collector = Collector(host.proc, host.sys)
    host.remove_net_dev()
    with caplog.at_level(logging.WARNING):
        for _ in range(5):
            assert collector.collect() == []
        assert len(caplog.records) == 1
        host.add("eth0")
        assert len(collector.collect()) == 1
        host.remove_net_dev()
        collector.collect()
    assert len(caplog.records) == 2  # warned again once it came back


def test_collector_rereads_details_of_a_recreated_link(host: FakeHost) -> None:
    collector = Collector(host.proc, host.sys)
    host.add("eth0", address="52:54:00:00:00:01")
    assert collector.collect()[0].mac == "52:54:00:00:00:01"
    host.remove("eth0")
    host.add("eth0", address="52:54:00:00:00:02")  # a new ifindex
    assert collector.collect()[0].mac == "52:54:00:00:00:02"


def test_speed_is_reread_on_a_link_event_and_mtu_within_the_refresh(host: FakeHost) -> None:
    collector = Collector(host.proc, host.sys)
    host.add("eth0", speed=1000, mtu=1500)
    assert collector.collect()[0].speed_mbps == 1000
    host.set_link("eth0", operstate="down", speed=None)  # EINVAL while down
    assert collector.collect()[0].speed_mbps is None
    host.set_link("eth0", operstate="up", speed=100)  # renegotiated at 100 Mbit/s
    assert collector.collect()[0].speed_mbps == 100
    host.set_link("eth0", mtu=9000)  # the link stays up
    mtus = [collector.collect()[0].mtu for _ in range(Collector.DETAILS_REFRESH_CYCLES)]
    assert mtus[-1] == 9000
