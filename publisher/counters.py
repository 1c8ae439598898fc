"""Wrap- and reset-aware counter deltas and rates (pure functions).

A counter that went down is a 32-bit wrap only if both readings fit in 32 bits and the wrapped
delta is plausible for the link speed over the elapsed time; anything else is a reset (reboot,
driver reload, interface re-created), whose delta is unknown (None): never negative, never a
spike. A reset of any counter resets the whole interface, since the baseline is gone.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence

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
    prev: Sequence[int],
    cur: Sequence[int],
    elapsed_s: float,
    speed_mbps: int | None,
) -> tuple[int, ...] | None:
    """Deltas of counters aligned with `names`; None if any counter reset or no time passed."""
    if elapsed_s <= 0:
        return None
    deltas = tuple(map(operator.sub, cur, prev))
    if min(deltas, default=0) >= 0:  # the common case: nothing went down
        return deltas
    byte_cap = plausible_max("rx_bytes", speed_mbps, elapsed_s)
    packet_cap = byte_cap / MIN_FRAME_BYTES
    unwrapped = []
    for name, before, now in zip(names, prev, cur, strict=True):
        delta = counter_delta(before, now, byte_cap if name in BYTE_COUNTERS else packet_cap)
        if delta is None:
            return None
        unwrapped.append(delta)
    return tuple(unwrapped)
