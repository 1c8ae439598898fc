"""Parse `/proc/net/dev`: every interface's kernel counters, by name."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

MAX_COUNTER = 2**64 - 1
_NET_DEV_READ = 65536
new_tuple = tuple.__new__
"""Builds a NamedTuple from an iterable without its keyword-handling __new__ (hot loops)."""


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
            values: NetDevCounters | None = new_tuple(NetDevCounters, map(int, rest.split()))
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
