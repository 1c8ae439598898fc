"""Turn readings into InterfaceSamples: per-interface previous state, per-host `seq`."""

from __future__ import annotations

import logging
import operator
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import NamedTuple

from pydantic import ValidationError

from publisher.collect import InterfaceReading, NetDevCounters
from publisher.counters import compute_deltas
from schemas import COUNTER_NAMES, RATE_NAMES, InterfaceSample, OperState

log = logging.getLogger(__name__)


# The schema's ten counters, picked from the sixteen of /proc/net/dev, in COUNTER_NAMES order.
_PICK = operator.itemgetter(*(NetDevCounters._fields.index(name) for name in COUNTER_NAMES))
# Rates follow the first counters: rx_bytes -> rx_bytes_per_sec ...
assert all(r == f"{c}_per_sec" for r, c in zip(RATE_NAMES, COUNTER_NAMES, strict=False))


class _Previous(NamedTuple):
    counters: tuple[int, ...]
    at: float
    ifindex: int | None
    boot_id: str
    speed_mbps: int | None


def _max_speed(a: int | None, b: int | None) -> int | None:
    known = [s for s in (a, b) if s]
    return max(known) if known else None


def _now_utc() -> datetime:
    return datetime.now(UTC)


class Sampler:
    """Keeps each interface's previous reading and numbers samples per host."""

    def __init__(
        self,
        host: str,
        next_seq: int = 0,
        *,
        wallclock: Callable[[], datetime] = _now_utc,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.host = host
        self.next_seq = next_seq
        self.wallclock = wallclock
        self.monotonic = monotonic
        self._prev: dict[str, _Previous] = {}
        self._invalid: set[str] = set()

    @property
    def tracked(self) -> frozenset[str]:
        """Interfaces with a previous reading (those seen in the last cycle)."""
        return frozenset(self._prev)

    def sample(self, readings: Iterable[InterfaceReading], boot_id: str) -> list[InterfaceSample]:
        """One sample per reading, all stamped now; interfaces not read any more are retired."""
        at, ts = self.monotonic(), self.wallclock()
        previous, self._prev = self._prev, {}
        samples: list[InterfaceSample] = []
        for reading in readings:
            state = _Previous(
                _PICK(reading.counters), at, reading.ifindex, boot_id, reading.speed_mbps
            )
            sample = self._build(reading, state, previous.get(reading.name), ts)
            if sample is not None:
                self._prev[reading.name] = state
                samples.append(sample)
        return samples

    @staticmethod
    def _deltas(cur: _Previous, prev: _Previous | None) -> tuple[float, tuple[int, ...] | None]:
        """Seconds since the previous sample, and the deltas (None: first sample or a reset)."""
        if prev is None:
            return 0.0, None
        elapsed = round(cur.at - prev.at, 6)
        if prev.boot_id != cur.boot_id or prev.ifindex != cur.ifindex:
            return elapsed, None
        speed = _max_speed(prev.speed_mbps, cur.speed_mbps)
        return elapsed, compute_deltas(COUNTER_NAMES, prev.counters, cur.counters, elapsed, speed)

    def _build(
        self, reading: InterfaceReading, cur: _Previous, prev: _Previous | None, ts: datetime
    ) -> InterfaceSample | None:
        elapsed, deltas = self._deltas(cur, prev)
        fields: dict[str, object] = dict(zip(COUNTER_NAMES, cur.counters, strict=True))
        if deltas is not None:
            fields["delta"] = dict(zip(COUNTER_NAMES, deltas, strict=True))
            for name, delta in zip(RATE_NAMES, deltas, strict=False):
                fields[name] = delta / elapsed  # elapsed > 0 whenever deltas are known
        fields.update(
            host=self.host,
            iface=reading.name,
            ts=ts,
            seq=self.next_seq,
            boot_id=cur.boot_id,
            interval_s=elapsed or None,
            is_up=reading.is_up,
            oper_state=reading.oper_state or OperState.UNKNOWN,
            speed_mbps=reading.speed_mbps,
            mtu=reading.mtu,
            mac=reading.mac,
            kind=reading.kind,
        )
        try:
            sample = InterfaceSample.model_validate(fields)
        except ValidationError as exc:
            if reading.name not in self._invalid:
                self._invalid.add(reading.name)
                log.warning("interface %r skipped, not a valid sample: %s", reading.name, exc)
            return None
        self.next_seq += 1
        return sample
