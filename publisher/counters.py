"""Wrap- and reset-aware counter deltas and rates (pure functions).

A counter that went down is a 32-bit wrap only if both readings fit in 32 bits and the wrapped
delta is plausible for the link speed over the elapsed time; anything else is a reset (reboot,
driver reload, interface re-created), whose delta is unknown (None): never negative, never a
spike. A reset of any counter resets the whole interface, since the baseline is gone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

WRAP_32 = 2**32
HEADROOM = 1.1
# With no speed from the driver: a generous 10 Gbit/s, so that only a counter already near
# 2**32 can pass as wrapped (a reset from far below 2**32 never does).
UNKNOWN_SPEED_BYTES_PER_SEC = 10_000_000_000 / 8
MIN_FRAME_BYTES = 64  # the fewest bytes one packet (or error, or drop) takes on the wire
BYTE_COUNTERS = frozenset({"rx_bytes", "tx_bytes"})


def bytes_per_sec(speed_mbps: int | None) -> float:
    """Line rate in bytes/s; the generous default when the speed is unknown or zero."""
    if not speed_mbps or speed_mbps <= 0:
        return UNKNOWN_SPEED_BYTES_PER_SEC
    return speed_mbps * 125_000.0


def plausible_max(name: str, speed_mbps: int | None, elapsed_s: float) -> float:
    """The most a counter can grow in `elapsed_s` on this link (bytes, or packets for the rest)."""
    limit = bytes_per_sec(speed_mbps) * elapsed_s * HEADROOM
    return limit if name in BYTE_COUNTERS else limit / MIN_FRAME_BYTES


def counter_delta(prev: int, cur: int, max_wrapped: float) -> int | None:
    """Increase from prev to cur; a plausible 32-bit wrap is unwrapped; a reset gives None."""
    if cur >= prev:
        return cur - prev
    if prev < WRAP_32 and cur < WRAP_32:
        wrapped = WRAP_32 - prev + cur
        if wrapped <= max_wrapped:
            return wrapped
    return None


def compute_deltas(
    names: Sequence[str],
    prev: Mapping[str, int],
    cur: Mapping[str, int],
    elapsed_s: float,
    speed_mbps: int | None,
) -> dict[str, int | None]:
    """Deltas of every named counter; all None if any counter reset or time did not advance."""
    unknown: dict[str, int | None] = dict.fromkeys(names)
    if elapsed_s <= 0:
        return unknown
    deltas: dict[str, int | None] = {}
    for name in names:
        delta = counter_delta(prev[name], cur[name], plausible_max(name, speed_mbps, elapsed_s))
        if delta is None:
            return unknown
        deltas[name] = delta
    return deltas


def rate(delta: int | None, elapsed_s: float) -> float | None:
    """Per-second rate of a delta; None when the delta is unknown."""
    if delta is None or elapsed_s <= 0:
        return None
    return delta / elapsed_s
