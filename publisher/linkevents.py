"""The kernel's link change notices (rtnetlink), so that links that did not change are not re-read.

A collector reads each link's `operstate` and `uevent` every cycle only to notice a rare
change; on a host with 50 links those 100 reads were a third of a cycle's CPU. The kernel
announces every change of a link (administratively up or down, carrier, operstate, rename,
MTU, address, a link made or deleted) as an RTM_NEWLINK or RTM_DELLINK message to the
RTNLGRP_LINK multicast group of a NETLINK_ROUTE socket. LinkEvents subscribes to that group
on a non-blocking socket and tells, once a cycle, which links were announced since the last
cycle: only those are read again. Lost messages (ENOBUFS when the socket's buffer overflowed,
a truncated datagram, a message of a shape not understood) make it say "any may have
changed", and the collector reads every link.

The socket sees the network namespace of this process. `dump_links()` lists that
namespace's links, so that the collector can check that the trees it reads show the same
ones (see collect.link_notices).
"""

from __future__ import annotations

import errno
import logging
import socket
import struct

log = logging.getLogger(__name__)

RTMGRP_LINK = 0x1  # the RTNLGRP_LINK group as a bind() mask
RTM_NEWLINK = 16
RTM_DELLINK = 17
RTM_GETLINK = 18
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLMSG_OVERRUN = 4  # "data lost"
_LINK = (RTM_NEWLINK, RTM_DELLINK)
IFLA_IFNAME = 3
_NLA_TYPE_MASK = 0x3FFF  # without NLA_F_NESTED and NLA_F_NET_BYTEORDER

_NLMSGHDR = struct.Struct("=IHHII")  # length, type, flags, sequence, port id
_IFINFOMSG_SIZE = 16  # family, pad, type, index, flags, change
_IFINDEX = struct.Struct("=i")  # ifinfomsg's index, 4 bytes in
_NLA = struct.Struct("=HH")  # length, type
_RECV_MAX = 1 << 16
_RCVBUF = 1 << 20  # a burst of link changes (containers starting) fits


class LinkEvents:
    """Names of the links the kernel announced a change of, read from a subscribed socket."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    @classmethod
    def open(cls) -> LinkEvents | None:
        """Subscribe to link notices; None where rtnetlink cannot be had (not Linux, sandbox)."""
        sock = None
        try:
            sock = socket.socket(
                socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_NONBLOCK, socket.NETLINK_ROUTE
            )
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RCVBUF)
            sock.bind((0, RTMGRP_LINK))
        except (OSError, AttributeError) as exc:  # AttributeError: no AF_NETLINK on this OS
            if sock is not None:
                sock.close()
            log.info("no link change notices (%s): every link is read every cycle", exc)
            return None
        return cls(sock)

    def changed(self) -> set[str] | None:
        """The links announced since the last call; None: any link may have changed."""
        names: set[str] | None = set()
        while True:
            try:
                data, _, flags, _ = self._sock.recvmsg(_RECV_MAX)
            except BlockingIOError:
                return names
            except OSError as exc:
                if exc.errno != errno.ENOBUFS:
                    raise
                names = None  # notices were dropped; go on draining what is queued
                continue
            if names is not None and (flags & socket.MSG_TRUNC or not parse(data, names)):
                names = None

    def close(self) -> None:
        """Unsubscribe."""
        self._sock.close()


def parse(data: bytes, names: set[str]) -> bool:
    """Add the names of the links a datagram announces to `names`; False if it cannot tell."""
    messages = _messages(data)
    if messages is None:
        return False
    for kind, start, end in messages:
        if kind == NLMSG_OVERRUN:
            return False
        if kind in _LINK:
            link = _link(data, start, end)
            if link is None:
                return False
            names.add(link[0])
    return True


def dump_links() -> dict[str, int] | None:
    """Every link of this process's network namespace, name -> ifindex; None if not to be had."""
    try:
        with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE) as sock:
            sock.settimeout(5)
            sock.bind((0, 0))
            request = bytes(_IFINFOMSG_SIZE)  # any family, any link
            header = (_NLMSGHDR.size + len(request), RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 1, 0)
            sock.send(_NLMSGHDR.pack(*header) + request)
            links: dict[str, int] = {}
            while True:
                data, _, flags, _ = sock.recvmsg(_RECV_MAX)
                messages = _messages(data)
                if messages is None or flags & socket.MSG_TRUNC:
                    return None
                for kind, start, end in messages:
                    if kind == NLMSG_DONE:
                        return links
                    if kind != RTM_NEWLINK:  # NLMSG_ERROR: refused
                        return None
                    link = _link(data, start, end)
                    if link is None:
                        return None
                    links[link[0]] = link[1]
    except (OSError, AttributeError):  # AttributeError: no AF_NETLINK on this OS
        return None


def _messages(data: bytes) -> list[tuple[int, int, int]] | None:
    """A datagram's messages as (type, start, end); None if it is not well formed."""
    messages = []
    offset, end = 0, len(data)
    while offset + _NLMSGHDR.size <= end:
        length, kind = _NLMSGHDR.unpack_from(data, offset)[:2]
        if length < _NLMSGHDR.size + (_IFINFOMSG_SIZE if kind in _LINK else 0):
            return None
        if offset + length > end:
            return None
        messages.append((kind, offset, offset + length))
        offset += (length + 3) & ~3
    return messages if offset >= end else None


def _link(data: bytes, start: int, end: int) -> tuple[str, int] | None:
    """A link message's name and ifindex (its length was checked by _messages)."""
    body = start + _NLMSGHDR.size
    name = _ifname(data, body + _IFINFOMSG_SIZE, end)
    return None if name is None else (name, _IFINDEX.unpack_from(data, body + 4)[0])


def _ifname(data: bytes, offset: int, end: int) -> str | None:
    """The IFLA_IFNAME attribute among a link message's attributes."""
    while offset + _NLA.size <= end:
        length, kind = _NLA.unpack_from(data, offset)
        if length < _NLA.size or offset + length > end:
            return None
        if kind & _NLA_TYPE_MASK == IFLA_IFNAME:
            raw = data[offset + _NLA.size : offset + length].split(b"\0", 1)[0]
            return raw.decode("utf-8", "replace") or None  # as /proc/net/dev is read
        offset += (length + 3) & ~3
    return None
