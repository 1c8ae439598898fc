"""A link's sysfs attributes: state read every cycle, details read on link events, its kind."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from publisher.sysfs import LinkFiles, parse_int
from schemas import InterfaceKind, OperState

IFF_UP = 0x1
ARPHRD_ETHER = 1
ARPHRD_LOOPBACK = 772
ARPHRD_NONE = 65534  # wireguard, tun without a link layer
_TUNNEL_TYPES = frozenset({512, 768, 769, 776, 778, 823, ARPHRD_NONE})  # ppp, ipip, sit, gre ...
MAX_SPEED_MBPS = 10**9  # the schema's bounds; the kernel's SPEED_UNKNOWN (-1, 2**32-1) is None
MAX_MTU = 2**31 - 1
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){0,31}$")
_VLAN_NAME = re.compile(r"^.+\.\d+$")
_OPER_STATES = {s.value.encode(): s for s in OperState}


@dataclass(frozen=True, slots=True)
class LinkDetails:
    """What changes only with a link event (operstate or ifindex change): cached meanwhile."""

    mac: str | None
    arp_type: int | None
    kind: InterfaceKind
    speed_mbps: int | None
    mtu: int | None


def decode_text(raw: bytes | None) -> str | None:
    """A sysfs text attribute's bytes as stripped text (None stays None)."""
    return None if raw is None else raw.decode("ascii", "replace").strip()


def link_is_up(oper_state: OperState | None, flags: int | None, carrier: bool | None) -> bool:
    """Usable link: operstate `up`; for `unknown`, IFF_UP and carrier; no operstate file = up."""
    if oper_state is None or oper_state is OperState.UP:
        return True
    if oper_state is OperState.UNKNOWN:
        return (flags is None or bool(flags & IFF_UP)) and carrier is not False
    return False


def classify(name: str, arp_type: int | None, present: Callable[[str], bool]) -> InterfaceKind:
    """Kind of link from sysfs markers (wireless, bridge, tun_flags, bonding, device) and type."""
    if present("wireless") or present("phy80211"):
        return InterfaceKind.WIRELESS
    if present("bridge"):
        return InterfaceKind.BRIDGE
    if present("bonding"):
        return InterfaceKind.BOND
    if present("tun_flags") or arp_type in _TUNNEL_TYPES:
        return InterfaceKind.TUNNEL
    if arp_type == ARPHRD_LOOPBACK:
        return InterfaceKind.VIRTUAL
    if arp_type == ARPHRD_ETHER:
        if name.startswith("veth"):
            return InterfaceKind.VETH
        if _VLAN_NAME.match(name):
            return InterfaceKind.VLAN
        return InterfaceKind.ETHERNET if present("device") else InterfaceKind.VIRTUAL
    return InterfaceKind.OTHER


def read_details(sys_root: str | Path, name: str, files: LinkFiles | None = None) -> LinkDetails:
    """Read MAC address, ARP type, kind, speed and MTU (through `files` if given)."""
    if files is None:
        files = LinkFiles(str(sys_root), keep=False)
    mac = decode_text(files.read_once(name, "address"))
    if mac is not None:
        mac = mac.lower()
        if not _MAC.match(mac) or not mac.strip("0:"):  # all-zero is no address
            mac = None
    arp_type = parse_int(files.read_once(name, "type"))
    speed = parse_int(files.read_once(name, "speed"))  # EINVAL while the link is down: None
    mtu = parse_int(files.read_once(name, "mtu"))
    return LinkDetails(
        mac=mac,
        arp_type=arp_type,
        kind=classify(name, arp_type, lambda entry: files.exists(name, entry)),
        speed_mbps=speed if speed is not None and 0 <= speed <= MAX_SPEED_MBPS else None,
        mtu=mtu if mtu is not None and 0 <= mtu <= MAX_MTU else None,
    )


DetailsSource = Callable[[str, int | None, OperState | None], LinkDetails]


class LinkState(NamedTuple):
    """A link's attributes read each cycle, raw: ifindex, operstate, and when that is
    `unknown`, carrier and flags (then they decide is_up)."""

    ifindex: int | None
    operstate: bytes | None
    carrier: bytes | None
    flags: bytes | None


def read_link_state(files: LinkFiles, name: str) -> LinkState:
    """Read the attributes of a link that are read every cycle."""
    ifindex = files.ifindex(name)  # first: it checks that kept files are still this link's
    state_raw = files.read(name, "operstate")
    carrier = flags = None
    if state_raw is not None and parse_oper_state(state_raw) is OperState.UNKNOWN:
        carrier = files.read(name, "carrier")
        flags = files.read(name, "flags")
    return LinkState(ifindex, state_raw, carrier, flags)


def parse_oper_state(raw: bytes | None) -> OperState | None:
    """An `operstate` file's state (anything unknown to us is `unknown`; None: no file)."""
    return None if raw is None else _OPER_STATES.get(raw.strip(), OperState.UNKNOWN)
