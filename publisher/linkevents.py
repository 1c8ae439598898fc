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

The socket sees the network namespace of this process, the one `/proc/net/dev` shows when
the publisher reads its own `/proc`; the collector uses it only then (see cli.py).
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
NLMSG_OVERRUN = 4  # "data lost"
IFLA_IFNAME = 3
_NLA_TYPE_MASK = 0x3FFF  # without NLA_F_NESTED and NLA_F_NET_BYTEORDER

_NLMSGHDR = struct.Struct("=IHHII")  # length, type, flags, sequence, port id
_IFINFOMSG_SIZE = 16  # family, pad, type, index, flags, change
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
        try:
            sock = socket.socket(
                socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_NONBLOCK, socket.NETLINK_ROUTE
            )
        except (OSError, AttributeError) as exc:  # AttributeError: no AF_NETLINK on this OS
            log.info("no link change notices (%s): every link is read every cycle", exc)
            return None
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RCVBUF)
            sock.bind((0, RTMGRP_LINK))
        except OSError as exc:
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
    offset, end = 0, len(data)
    while offset + _NLMSGHDR.size <= end:
        length, kind = _NLMSGHDR.unpack_from(data, offset)[:2]
        if length < _NLMSGHDR.size or offset + length > end:
            return False
        if kind == NLMSG_OVERRUN:
            return False
        if kind in (RTM_NEWLINK, RTM_DELLINK):
            name = _ifname(data, offset + _NLMSGHDR.size + _IFINFOMSG_SIZE, offset + length)
            if name is None:
                return False
            names.add(name)
        offset += (length + 3) & ~3
    return offset >= end


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
