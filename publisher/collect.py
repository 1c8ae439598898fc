"""Read every selected interface each cycle: /proc/net/dev counters with each link's sysfs state."""

from __future__ import annotations

import fnmatch
import logging
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from publisher.linkevents import LinkEvents, dump_links
from publisher.links import (
    DetailsSource,
    LinkDetails,
    LinkState,
    decode_text,
    link_is_up,
    parse_oper_state,
    read_details,
    read_link_state,
)
from publisher.netdev import NetDevCounters, ParsedLines, new_tuple, read_net_dev
from publisher.sysfs import LinkFiles, parse_int, read_file
from schemas import InterfaceKind, OperState

log = logging.getLogger(__name__)

DEFAULT_EXCLUDE: tuple[str, ...] = ("lo",)
UNKNOWN_BOOT_ID = "unknown"

SELECTED_CACHE_MAX = 4096


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
    return decode_text(read_file(path))


def read_boot_id(proc_root: str | Path) -> str | None:
    """The kernel's boot id (changes on every boot), or None when unavailable."""
    value = _read(os.path.join(proc_root, "sys", "kernel", "random", "boot_id"))
    return value if value and re.fullmatch(r"[A-Za-z0-9-]{1,64}", value) else None


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
    oper_state = parse_oper_state(state.operstate)
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


def link_notices(proc_root: str | Path, sys_root: str | Path) -> LinkEvents | None:
    """The kernel's link notices, if the trees read show this process's network namespace.

    The notices are of the namespace this process is in. `{proc_root}/net/dev` and
    `{sys_root}/class/net` must list its links under the same names and ifindexes. That holds
    for our own /proc and /sys, and for a host's trees mounted into a container on the host's
    network, such as the DaemonSet's `/host/proc`. It does not hold for a fake tree.
    """
    events = LinkEvents.open()  # before the check: no change slips in between
    if events is None:
        return None
    files = LinkFiles(str(sys_root), keep=False)
    for _ in range(3):  # a link made or deleted while we compare: look again
        kernel = dump_links()
        if kernel is None:
            break
        rows, _warnings = read_net_dev(proc_root)
        shown = {name: files.ifindex(name) for name in rows}
        if shown == kernel:
            return events
    log.info(
        "%s and %s do not show this process's network namespace: no link notices, "
        "every link is read every cycle",
        proc_root,
        sys_root,
    )
    events.close()
    return None


class Collector:
    """Reads interfaces each cycle; repeats no warning.

    Each cycle reads /proc/net/dev and, per link, `operstate` and `ifindex` (plus `carrier` and
    `flags` when operstate is `unknown`). Speed, MTU, MAC and kind change only with a link event,
    so they are re-read when operstate or ifindex changes, and at least every
    DETAILS_REFRESH_CYCLES cycles (an MTU changed on a link that stays up shows then).

    With `link_events` (the kernel's link change notices), a link is read again only when a
    notice names it (all of it, details too), and its state in turn every STATE_REFRESH_CYCLES
    cycles: should notices stop coming (a sandbox that drops them), a change of state still
    shows within that many cycles. Every link's details are then refreshed 10 times less often.
    """

    DETAILS_REFRESH_CYCLES = 60
    STATE_REFRESH_CYCLES = 10

    def __init__(
        self,
        proc_root: str | Path = "/proc",
        sys_root: str | Path = "/sys",
        interface_filter: InterfaceFilter | None = None,
        link_events: LinkEvents | None = None,
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
        self._events = link_events

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
        # With notices, which announce a new MTU or address, the refresh is only a safety net.
        refresh = self.DETAILS_REFRESH_CYCLES * (1 if self._events is None else 10)
        if self._cycles % refresh == 0:
            self._details.clear()  # picks up a changed MTU or MAC; bounds the cache as links churn
            self._last.clear()
        # Notices first: a change announced after this is read again next cycle.
        changed = self._notices()
        events = self._events is not None
        turn = self._cycles % self.STATE_REFRESH_CYCLES
        rows, warnings = read_net_dev(self.proc_root, self._lines)
        self._warn_new(warnings)
        if rows.keys() != self._names:
            self._names = set(rows)
            self._files.retain(self._names)
            if len(self._selected) > SELECTED_CACHE_MAX:  # veth names churn with containers
                self._selected.clear()
        last, self._last = self._last, {}
        readings = []
        for position, (name, values) in enumerate(rows.items()):
            selected = self._selected.get(name)
            if selected is None:
                selected = self._selected[name] = self.wanted(name)
            if selected:
                if events and (changed is None or name in changed):
                    # A notice (or lost ones) may mean a new MTU or address: read all again.
                    self._details.pop(name, None)
                    readings.append(self._read(name, values, None))
                else:
                    reread = not events or position % self.STATE_REFRESH_CYCLES == turn
                    readings.append(self._read(name, values, last.get(name), reread))
        return readings

    def _notices(self) -> set[str] | None:
        """The links named by notices since the last cycle (None: all, or no notices)."""
        if self._events is None:
            return None
        try:
            return self._events.changed()
        except OSError as exc:  # the socket failed: read every link every cycle from now on
            log.warning("link notices failed (%s): every link is read every cycle now", exc)
            self._events.close()
            self._events = None
            return None

    def _read(
        self,
        name: str,
        counters: NetDevCounters,
        last: tuple[LinkState, InterfaceReading] | None,
        reread: bool = True,
    ) -> InterfaceReading:
        """Read a link; its facts are the last reading's if it reads the same state (or if
        its state is not to be read again: no notice named it)."""
        state = last[0] if last is not None and not reread else read_link_state(self._files, name)
        if last is not None and last[0] == state:  # details cached for it, facts unchanged
            reading = last[1]
            if reading.counters is counters:  # an idle link: all as last cycle
                self._last[name] = last
                return reading
            reading = new_tuple(InterfaceReading, (name, counters, *reading[2:]))
        else:
            reading = make_reading(self.sys_root, name, counters, state, self._cached_details)
        self._last[name] = (state, reading)
        return reading

    def close(self) -> None:
        """Close the sysfs files kept open, and the link notices."""
        self._files.close()
        if self._events is not None:
            self._events.close()

    def boot_id(self) -> str:
        """The boot id, or a constant placeholder (reboots then show only as counter resets)."""
        return read_boot_id(self.proc_root) or UNKNOWN_BOOT_ID
