"""Read every network interface from `/proc/net/dev` and `/sys/class/net` under injectable roots."""

from __future__ import annotations

import fnmatch
import logging
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from publisher.sysfs import LinkFiles, parse_int, read_file
from schemas import InterfaceKind, OperState

log = logging.getLogger(__name__)

DEFAULT_EXCLUDE: tuple[str, ...] = ("lo",)
UNKNOWN_BOOT_ID = "unknown"

IFF_UP = 0x1
ARPHRD_ETHER = 1
ARPHRD_LOOPBACK = 772
ARPHRD_NONE = 65534  # wireguard, tun without a link layer
_TUNNEL_TYPES = frozenset({512, 768, 769, 776, 778, 823, ARPHRD_NONE})  # ppp, ipip, sit, gre ...
MAX_SPEED_MBPS = 10**9  # the schema's bounds; the kernel's SPEED_UNKNOWN (-1, 2**32-1) is None
MAX_MTU = 2**31 - 1
MAX_COUNTER = 2**64 - 1
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){0,31}$")
_VLAN_NAME = re.compile(r"^.+\.\d+$")
_OPER_STATES = {s.value.encode(): s for s in OperState}
SELECTED_CACHE_MAX = 4096
_NET_DEV_READ = 65536
_new_reading = tuple.__new__


@dataclass(frozen=True, slots=True)
class LinkDetails:
    """What changes only with a link event (operstate or ifindex change): cached meanwhile."""

    mac: str | None
    arp_type: int | None
    kind: InterfaceKind
    speed_mbps: int | None
    mtu: int | None


class NetDevCounters(NamedTuple):
    """The 16 counters of one /proc/net/dev line, in the kernel's column order."""

    rx_bytes: int
    rx_packets: int
    rx_errors: int
    rx_dropped: int
    rx_fifo: int
    rx_frame: int
    rx_compressed: int
    multicast: int
    tx_bytes: int
    tx_packets: int
    tx_errors: int
    tx_dropped: int
    tx_fifo: int
    collisions: int
    tx_carrier: int
    tx_compressed: int


class InterfaceReading(NamedTuple):
    """One interface as read now: its kernel counters and its link state."""

    name: str
    counters: NetDevCounters
    is_up: bool
    oper_state: OperState | None
    carrier: bool | None
    speed_mbps: int | None
    mtu: int | None
    flags: int | None
    ifindex: int | None
    mac: str | None
    arp_type: int | None
    kind: InterfaceKind

    @property
    def rx_bytes(self) -> int:
        """Bytes received."""
        return self.counters.rx_bytes

    @property
    def tx_bytes(self) -> int:
        """Bytes sent."""
        return self.counters.tx_bytes

    @property
    def rx_packets(self) -> int:
        """Packets received."""
        return self.counters.rx_packets

    @property
    def tx_packets(self) -> int:
        """Packets sent."""
        return self.counters.tx_packets


def _read(path: str) -> str | None:
    """A text attribute, stripped."""
    return _text(read_file(path))


def _text(raw: bytes | None) -> str | None:
    return None if raw is None else raw.decode("ascii", "replace").strip()


ParsedLines = dict[str, tuple[str, NetDevCounters]]


def parse_net_dev(
    text: str, known: ParsedLines | None = None
) -> tuple[dict[str, NetDevCounters], list[str]]:
    """Parse /proc/net/dev: counters by interface name, and warnings for lines skipped.

    `known` maps lines to what they gave the previous time: an idle interface's line does
    not change, so it is not parsed again. It is updated to this text's good lines only.
    """
    rows: dict[str, NetDevCounters] = {}
    warnings: list[str] = []
    previous = known or {}
    parsed_now: ParsedLines = {}
    for number, line in enumerate(text.splitlines(), start=1):
        parsed = previous.get(line)
        if parsed is not None:
            rows[parsed[0]] = parsed[1]
            parsed_now[line] = parsed
            continue
        name, sep, rest = line.partition(":")
        if not sep:
            if line.strip() and "|" not in line:  # the two header lines carry '|'
                warnings.append(f"/proc/net/dev line {number} skipped (no ':'): {line[:120]!r}")
            continue
        name = name.strip()
        try:
            values: NetDevCounters | None = _new_reading(NetDevCounters, map(int, rest.split()))
        except ValueError:  # not a number
            values = None
        if values is not None and len(values) != len(NetDevCounters._fields):
            values = None
        if not name or values is None or min(values) < 0 or max(values) > MAX_COUNTER:
            warnings.append(f"/proc/net/dev line {number} skipped (garbage): {line[:120]!r}")
            continue
        rows[name] = values
        parsed_now[line] = (name, values)
    if known is not None:  # only this text's lines: the memory stays one file's worth
        known.clear()
        known.update(parsed_now)
    return rows, warnings


def read_net_dev(
    proc_root: str | Path, known: ParsedLines | None = None
) -> tuple[dict[str, NetDevCounters], list[str]]:
    """Read and parse `{proc_root}/net/dev`; a missing or empty file gives no rows and a warning.

    `known`: see parse_net_dev.
    """
    path = os.path.join(proc_root, "net", "dev")
    try:
        raw = _read_all(path)
    except OSError as exc:
        return {}, [f"cannot read {path}: {exc.strerror or exc}"]
    rows, warnings = parse_net_dev(raw.decode("utf-8", "replace"), known)
    if not rows and not warnings:
        warnings.append(f"{path} lists no interfaces")
    return rows, warnings


def _read_all(path: str) -> bytes:
    """A whole file by system calls (an open() file object costs more than the reading)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        chunks = []
        while chunk := os.read(fd, _NET_DEV_READ):  # procfs: until a read gives nothing
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_boot_id(proc_root: str | Path) -> str | None:
    """The kernel's boot id (changes on every boot), or None when unavailable."""
    value = _read(os.path.join(proc_root, "sys", "kernel", "random", "boot_id"))
    return value if value and re.fullmatch(r"[A-Za-z0-9-]{1,64}", value) else None


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
    mac = _text(files.read_once(name, "address"))
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
    if state_raw is not None and _oper_state(state_raw) is OperState.UNKNOWN:
        carrier = files.read(name, "carrier")
        flags = files.read(name, "flags")
    return LinkState(ifindex, state_raw, carrier, flags)


def _oper_state(raw: bytes | None) -> OperState | None:
    return None if raw is None else _OPER_STATES.get(raw.strip(), OperState.UNKNOWN)


def read_interface(
    sys_root: str | Path,
    name: str,
    counters: NetDevCounters,
    details: DetailsSource | None = None,
    files: LinkFiles | None = None,
) -> InterfaceReading:
    """Combine one /proc/net/dev row with the link's sysfs attributes (read by `files`)."""
    if files is None:
        files = LinkFiles(str(sys_root), keep=False)
    return make_reading(sys_root, name, counters, read_link_state(files, name), details)


def make_reading(
    sys_root: str | Path,
    name: str,
    counters: NetDevCounters,
    state: LinkState,
    details: DetailsSource | None = None,
) -> InterfaceReading:
    """An interface's reading from its counters, link state and details (read if not given)."""
    oper_state = _oper_state(state.operstate)
    carrier_int = parse_int(state.carrier)
    carrier = None if carrier_int is None else carrier_int == 1
    flags = parse_int(state.flags, 16)
    ifindex = state.ifindex
    info = details(name, ifindex, oper_state) if details else read_details(sys_root, name)
    return InterfaceReading(  # positional: much cheaper than keywords for a NamedTuple
        name,
        counters,
        link_is_up(oper_state, flags, carrier),
        oper_state,
        carrier,
        info.speed_mbps,
        info.mtu,
        flags,
        ifindex,
        info.mac,
        info.arp_type,
        info.kind,
    )


class InterfaceFilter:
    """`--include` / `--exclude` glob lists: include all but `lo` by default."""

    def __init__(self, include: Iterable[str] = (), exclude: Iterable[str] = DEFAULT_EXCLUDE):
        self.include = tuple(include)
        self.exclude = tuple(exclude)
        self._inc = self._compile(self.include)
        self._exc = self._compile(self.exclude)

    @staticmethod
    def _compile(globs: tuple[str, ...]) -> re.Pattern[str] | None:
        if not globs:
            return None
        return re.compile("|".join(f"(?:{fnmatch.translate(g)})" for g in globs))

    def __call__(self, name: str) -> bool:
        """True if the interface is to be published."""
        if self._inc is not None and not self._inc.match(name):
            return False
        return self._exc is None or not self._exc.match(name)


def get_network_interfaces(
    proc_root: str | Path = "/proc",
    sys_root: str | Path = "/sys",
    include: Iterable[str] = (),
    exclude: Iterable[str] = DEFAULT_EXCLUDE,
) -> list[InterfaceReading]:
    """Every selected interface, read once; problems are logged as warnings, never raised."""
    rows, warnings = read_net_dev(proc_root)
    for warning in warnings:
        log.warning("%s", warning)
    wanted = InterfaceFilter(include, exclude)
    files = LinkFiles(str(sys_root), keep=False)
    return [read_interface(sys_root, n, v, files=files) for n, v in rows.items() if wanted(n)]


class Collector:
    """Reads interfaces each cycle; repeats no warning.

    Each cycle reads /proc/net/dev and, per link, `operstate` and `ifindex` (plus `carrier` and
    `flags` when operstate is `unknown`). Speed, MTU, MAC and kind change only with a link event,
    so they are re-read when operstate or ifindex changes, and at least every
    DETAILS_REFRESH_CYCLES cycles (an MTU changed on a link that stays up shows then).
    """

    DETAILS_REFRESH_CYCLES = 60

    def __init__(
        self,
        proc_root: str | Path = "/proc",
        sys_root: str | Path = "/sys",
        interface_filter: InterfaceFilter | None = None,
    ) -> None:
        self.proc_root = str(proc_root)
        self.sys_root = str(sys_root)
        self.wanted = interface_filter or InterfaceFilter()
        # name -> (ifindex, operstate, details): only the link's current state is kept
        self._details: dict[str, tuple[int | None, OperState | None, LinkDetails]] = {}
        self._cycles = 0
        self._warned: set[str] = set()
        self._lines: ParsedLines = {}  # /proc/net/dev lines parsed last time
        self._files = LinkFiles(self.sys_root)
        self._names: set[str] = set()  # the links of the last cycle
        self._selected: dict[str, bool] = {}  # self.wanted's answers
        # name -> its last link state and reading: the same state gives the same facts
        self._last: dict[str, tuple[LinkState, InterfaceReading]] = {}

    def _cached_details(
        self, name: str, ifindex: int | None, oper_state: OperState | None
    ) -> LinkDetails:
        cached = self._details.get(name)
        if cached is not None and cached[0] == ifindex and cached[1] is oper_state:
            return cached[2]
        info = read_details(self.sys_root, name, self._files)
        self._details[name] = (ifindex, oper_state, info)
        return info

    def _warn_new(self, warnings: list[str]) -> None:
        current = set(warnings)
        for warning in warnings:
            if warning not in self._warned:
                log.warning("%s", warning)
        self._warned = current

    def collect(self) -> list[InterfaceReading]:
        """Read every selected interface now."""
        self._cycles += 1
        if self._cycles % self.DETAILS_REFRESH_CYCLES == 0:
            self._details.clear()  # picks up a changed MTU or MAC; bounds the cache as links churn
            self._last.clear()
        rows, warnings = read_net_dev(self.proc_root, self._lines)
        self._warn_new(warnings)
        if rows.keys() != self._names:
            self._names = set(rows)
            self._files.retain(self._names)
            if len(self._selected) > SELECTED_CACHE_MAX:  # veth names churn with containers
                self._selected.clear()
        last, self._last = self._last, {}
        readings = []
        for name, values in rows.items():
            selected = self._selected.get(name)
            if selected is None:
                selected = self._selected[name] = self.wanted(name)
            if selected:
                readings.append(self._read(name, values, last.get(name)))
        return readings

    def _read(
        self,
        name: str,
        counters: NetDevCounters,
        last: tuple[LinkState, InterfaceReading] | None,
    ) -> InterfaceReading:
        """Read a link; its facts are the last reading's if it reads the same state."""
        state = read_link_state(self._files, name)
        if last is not None and last[0] == state:  # details cached for it, facts unchanged
            reading = last[1]
            if reading.counters is counters:  # an idle link: all as last cycle
                self._last[name] = last
                return reading
            reading = _new_reading(InterfaceReading, (name, counters, *reading[2:]))
        else:
            reading = make_reading(self.sys_root, name, counters, state, self._cached_details)
        self._last[name] = (state, reading)
        return reading

    def close(self) -> None:
        """Close the sysfs files kept open."""
        self._files.close()

    def boot_id(self) -> str:
        """The boot id, or a constant placeholder (reboots then show only as counter resets)."""
        return read_boot_id(self.proc_root) or UNKNOWN_BOOT_ID
