"""Real kernel interfaces for the publisher benchmark: veth links in network namespaces.

The fake /proc + /sys trees of the tests are ordinary files, which the publisher has to open
and read by path every cycle; a real host's sysfs files are kept open and re-read with pread.
So the fake trees measure a path no user runs. KernelLinks makes `size` real interfaces (lo
plus veth ends) in a namespace of the bench's own, whose peers sit in a second namespace;
every 7th link has an address pair, and `traffic()` sends a UDP datagram over each of those,
as the fake tree's busy links get bytes. A worker started with `exec_prefix()` (`ip netns
exec`, which also mounts the namespace's own /sys) then reads the real /proc and /sys.

Needs root and iproute2. The namespaces, and with them every link, are deleted on close().
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Sequence

BUSY_EVERY = 7


def _ip(args: Sequence[str], stdin: str | None = None) -> None:
    subprocess.run(["ip", *args], input=stdin, text=True, check=True, capture_output=True)


class KernelLinks:
    """`size` interfaces (lo included) in namespace `name`; the veth peers in `name`-peer."""

    def __init__(self, size: int) -> None:
        if os.geteuid() != 0:
            raise SystemExit("--netns needs root (it creates network namespaces and veth links)")
        self.name = f"ifpulse-bench-{os.getpid()}"
        self.peer = f"{self.name}-peer"
        self.busy: list[str] = []  # peer addresses to send to
        _ip(["netns", "add", self.name])
        try:
            _ip(["netns", "add", self.peer])
            self._links(size - 1)
        except BaseException:
            self.close()
            raise

    def _links(self, count: int) -> None:
        # One `ip -batch` per namespace: a few hundred links in well under a second.
        here, there = ["link set lo up"], ["link set lo up"]
        made = []
        for i in range(count):
            made.append(f"link add v{i} type veth peer name p{i} netns {self.peer}")
            here.append(f"link set v{i} up")
            there.append(f"link set p{i} up")
            if i % BUSY_EVERY == 0:
                a, b = divmod(i, 250)
                here.append(f"addr add 10.{a}.{b}.1/30 dev v{i}")
                there.append(f"addr add 10.{a}.{b}.2/30 dev p{i}")
                self.busy.append(f"10.{a}.{b}.2")
        _ip(["-n", self.name, "-batch", "-"], "\n".join(made + here) + "\n")
        _ip(["-n", self.peer, "-batch", "-"], "\n".join(there) + "\n")

    def exec_prefix(self) -> list[str]:
        """The command prefix that runs a program inside the namespace (with its /sys)."""
        return ["ip", "netns", "exec", self.name]

    def close(self) -> None:
        """Delete both namespaces (their links go with them)."""
        for ns in (self.name, self.peer):
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)


class Traffic:
    """Inside the namespace: one datagram per busy link and call, as the kernel counts it."""

    def __init__(self, addresses: Sequence[str]) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._to = [(a, 9) for a in addresses]  # the discard port: nobody needs to listen

    def send(self) -> None:
        """Move the counters of every busy link (tx here, rx at the peer)."""
        for to in self._to:
            self._sock.sendto(b"x" * 1472, to)

    def close(self) -> None:
        """Close the socket."""
        self._sock.close()
