"""Turn readings into InterfaceSamples: per-interface previous state, per-host `seq`."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import ValidationError

from publisher.collect import InterfaceReading
from publisher.counters import compute_deltas, rate
from schemas import COUNTER_NAMES, Deltas, InterfaceSample, OperState

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Previous:
    counters: dict[str, int]
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
            counters = {name: getattr(reading.counters, name) for name in COUNTER_NAMES}
            state = _Previous(counters, at, reading.ifindex, boot_id, reading.speed_mbps)
            sample = self._build(reading, state, previous.get(reading.name), ts)
            if sample is not None:
                self._prev[reading.name] = state
                samples.append(sample)
        return samples

    def _build(
        self, reading: InterfaceReading, cur: _Previous, prev: _Previous | None, ts: datetime
    ) -> InterfaceSample | None:
        elapsed = round(cur.at - prev.at, 6) if prev is not None else 0.0
        if prev is None or prev.boot_id != cur.boot_id or prev.ifindex != cur.ifindex:
            deltas: dict[str, int | None] = dict.fromkeys(COUNTER_NAMES)
        else:
            speed = _max_speed(prev.speed_mbps, cur.speed_mbps)
            deltas = compute_deltas(COUNTER_NAMES, prev.counters, cur.counters, elapsed, speed)
        try:
            sample = InterfaceSample(
                host=self.host,
                iface=reading.name,
                ts=ts,
                seq=self.next_seq,
                boot_id=cur.boot_id,
                interval_s=elapsed if elapsed > 0 else None,
                rx_bytes=reading.counters.rx_bytes,
                tx_bytes=reading.counters.tx_bytes,
                rx_packets=reading.counters.rx_packets,
                tx_packets=reading.counters.tx_packets,
                rx_errors=reading.counters.rx_errors,
                tx_errors=reading.counters.tx_errors,
                rx_dropped=reading.counters.rx_dropped,
                tx_dropped=reading.counters.tx_dropped,
                multicast=reading.counters.multicast,
                collisions=reading.counters.collisions,
                delta=Deltas(**deltas),
                rx_bytes_per_sec=rate(deltas["rx_bytes"], elapsed),
                tx_bytes_per_sec=rate(deltas["tx_bytes"], elapsed),
                rx_packets_per_sec=rate(deltas["rx_packets"], elapsed),
                tx_packets_per_sec=rate(deltas["tx_packets"], elapsed),
                is_up=reading.is_up,
                oper_state=reading.oper_state or OperState.UNKNOWN,
                speed_mbps=reading.speed_mbps,
                mtu=reading.mtu,
                mac=reading.mac,
                kind=reading.kind,
            )
        except ValidationError as exc:
            if reading.name not in self._invalid:
                self._invalid.add(reading.name)
                log.warning("interface %r skipped, not a valid sample: %s", reading.name, exc)
            return None
        self.next_seq += 1
        return sample
