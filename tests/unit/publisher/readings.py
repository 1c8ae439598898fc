"""A link's reading for the sampler's unit tests: eth0, up, 1 Gb/s, counters as given."""

from __future__ import annotations

from collections.abc import Iterable

from publisher.collect import InterfaceReading
from publisher.netdev import NetDevCounters
from schemas import InterfaceKind, OperState


def eth0(counters: Iterable[int]) -> InterfaceReading:
    """The reading of an up Ethernet link `eth0` with these 16 /proc/net/dev counters."""
    return InterfaceReading(
        name="eth0",
        counters=NetDevCounters._make(counters),
        is_up=True,
        oper_state=OperState.UP,
        carrier=None,
        speed_mbps=1000,
        mtu=1500,
        flags=None,
        ifindex=2,
        mac="52:54:00:12:34:56",
        arp_type=1,
        kind=InterfaceKind.ETHERNET,
    )
