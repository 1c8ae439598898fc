"""Pure bucket math shared by the stores: time keys, accumulators, segment plans, host totals."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from stores.base import Bucket

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MS = timedelta(milliseconds=1)
MINUTE_MS = 60_000
QUARTER_MS = 900_000
HOUR_MS = 3_600_000
RAW = 0
"""Granularity of the raw table: every sample on its own."""


def to_ms(value: datetime) -> int:
    """Milliseconds since the epoch, exactly (no float rounding); naive times are refused."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value}: pass a timezone-aware (UTC) time")
    return (value - EPOCH) // MS


def from_ms(value: int) -> datetime:
    """The UTC datetime of a millisecond epoch time."""
    return EPOCH + value * MS


def step_ms(step: timedelta) -> int:
    """A step in whole milliseconds; ValueError unless positive and a whole number of ms."""
    if step <= timedelta(0) or step % MS:
        raise ValueError(f"step must be a positive whole number of milliseconds, got {step}")
    return step // MS


def floor_to(value: int, grain: int) -> int:
    """Round down to a multiple of grain (floor division, so negative times work too)."""
    return value // grain * grain


def ceil_to(value: int, grain: int) -> int:
    """Round up to a multiple of grain."""
    return -(-value // grain) * grain


def plan_segments(start: int, end: int, step: int) -> list[tuple[int, int, int]]:
    """Split [start, end) into (grain, lo, hi) pieces: coarse rollups inside, finer at the edges.

    A rollup of grain g can serve a step only if g divides the step, and only over whole
    g-aligned ranges; the unaligned edges come from the next finer table, down to raw.
    """
    grains = [g for g in (HOUR_MS, QUARTER_MS, MINUTE_MS) if step % g == 0] + [RAW]
    return _split(start, end, grains)


def _split(start: int, end: int, grains: list[int]) -> list[tuple[int, int, int]]:
    if start >= end:
        return []
    grain = grains[0]
    if grain == RAW:
        return [(RAW, start, end)]
    lo, hi = ceil_to(start, grain), floor_to(end, grain)
    if lo >= hi:
        return _split(start, end, grains[1:])
    finer = grains[1:]
    return [*_split(start, lo, finer), (grain, lo, hi), *_split(hi, end, finer)]


AGG_WIDTH = 13
"""Columns of an aggregate row: n, rx/tx bytes, rx/tx packets, errors, drops, then per direction
rate sum, rate count and rate max (rx then tx)."""


@dataclass(slots=True)
class Acc:
    """Running aggregate of one bucket of one series; merges rows from raw and rollup tables."""

    n: int = 0
    rx_bytes: int = 0
    tx_bytes: int = 0
    rx_packets: int = 0
    tx_packets: int = 0
    errors: int = 0
    drops: int = 0
    rx_rate_sum: float = 0.0
    rx_rate_n: int = 0
    rx_rate_max: float | None = None
    tx_rate_sum: float = 0.0
    tx_rate_n: int = 0
    tx_rate_max: float | None = None

    def add(self, row: Sequence[int | float | None]) -> None:
        """Fold in one aggregate row (AGG_WIDTH values; None sums count as zero)."""
        n, rxb, txb, rxp, txp, err, drp, rxs, rxn, rxm, txs, txn, txm = row
        self.n += int(n or 0)
        self.rx_bytes += int(rxb or 0)
        self.tx_bytes += int(txb or 0)
        self.rx_packets += int(rxp or 0)
        self.tx_packets += int(txp or 0)
        self.errors += int(err or 0)
        self.drops += int(drp or 0)
        self.rx_rate_sum += float(rxs or 0.0)
        self.rx_rate_n += int(rxn or 0)
        self.rx_rate_max = _max(self.rx_rate_max, rxm)
        self.tx_rate_sum += float(txs or 0.0)
        self.tx_rate_n += int(txn or 0)
        self.tx_rate_max = _max(self.tx_rate_max, txm)

    def bucket(self, start: datetime) -> Bucket:
        """The finished bucket: average rate is the mean of the samples' rates."""
        return Bucket(
            start=start,
            rx_bytes=self.rx_bytes,
            tx_bytes=self.tx_bytes,
            rx_bytes_per_sec=self.rx_rate_sum / self.rx_rate_n if self.rx_rate_n else None,
            tx_bytes_per_sec=self.tx_rate_sum / self.tx_rate_n if self.tx_rate_n else None,
            rx_bytes_per_sec_max=self.rx_rate_max,
            tx_bytes_per_sec_max=self.tx_rate_max,
            rx_packets=self.rx_packets,
            tx_packets=self.tx_packets,
            errors=self.errors,
            drops=self.drops,
        )


def _max(a: float | None, b: int | float | None) -> float | None:
    if b is None:
        return a
    return float(b) if a is None else max(a, float(b))


def _add(a: float | None, b: float | None) -> float | None:
    if b is None:
        return a
    return b if a is None else a + b


AggRow = Sequence[int | float | None]
"""One aggregate row (AGG_WIDTH values) as a query returns it."""


def fold(accs: dict[int, Acc | AggRow], bucket: int, row: AggRow) -> None:
    """Fold one aggregate row into the bucket's accumulator.

    A bucket's first row is kept as it is and turned into an Acc only when a second arrives:
    with 15-minute rollups most buckets of a day have one row per series, and Acc.add per
    row was a third of the cost of a sparkline.
    """
    prev = accs.get(bucket)
    if prev is None:
        accs[bucket] = row
        return
    if not isinstance(prev, Acc):
        acc = accs[bucket] = Acc()
        acc.add(prev)
        prev = acc
    prev.add(row)


def row_bucket(start: datetime, row: Sequence[Any]) -> Bucket:
    """The bucket of a single aggregate row: what Acc().add(row) then .bucket(start) gives."""
    _n, rxb, txb, rxp, txp, err, drp, rxs, rxn, rxm, txs, txn, txm = row
    # Counts come from INTEGER columns; a sum past 2**63 - 1 (stores.sqlite_rows.run_sums)
    # is a float, made an int again here as Acc.add does. Rate sums are REAL.
    return Bucket(
        start,
        int(rxb or 0),
        int(txb or 0),
        float(rxs or 0.0) / rxn if rxn else None,
        float(txs or 0.0) / txn if txn else None,
        None if rxm is None else float(rxm),
        None if txm is None else float(txm),
        int(rxp or 0),
        int(txp or 0),
        int(err or 0),
        int(drp or 0),
    )


@functools.lru_cache(maxsize=4096)
def _start(value: int) -> datetime:
    # Cached: every series of a host has the same bucket starts.
    return from_ms(value)


def finish(accs: dict[int, Acc | AggRow]) -> list[Bucket]:
    """Buckets in time order from accumulators keyed by bucket start (ms); empty ones dropped."""
    out = []
    for k in sorted(accs):
        acc = accs[k]
        if isinstance(acc, Acc):
            if acc.n > 0:
                out.append(acc.bucket(_start(k)))
        elif acc[0]:
            out.append(row_bucket(_start(k), acc))
    return out


def host_total(per_iface: Iterable[list[Bucket]]) -> list[Bucket]:
    """The host total: counts add up; average and max rates are sums of the interfaces' own.

    The max of a total is the sum of the interfaces' maxima, an upper bound: their peaks
    need not coincide, and a store cannot line samples of different interfaces up in time.
    """
    # Sums kept in plain lists and turned into Buckets once per start: a frozen dataclass
    # per interface and bucket was most of the cost of a host's day at 15 min.
    by_start: dict[datetime, list[Any]] = {}
    for buckets in per_iface:
        for b in buckets:
            acc = by_start.get(b.start)
            if acc is None:
                by_start[b.start] = [
                    b.rx_bytes, b.tx_bytes, b.rx_bytes_per_sec, b.tx_bytes_per_sec,
                    b.rx_bytes_per_sec_max, b.tx_bytes_per_sec_max,
                    b.rx_packets, b.tx_packets, b.errors, b.drops,
                ]  # fmt: skip
                continue
            acc[0] += b.rx_bytes
            acc[1] += b.tx_bytes
            acc[2] = _add(acc[2], b.rx_bytes_per_sec)
            acc[3] = _add(acc[3], b.tx_bytes_per_sec)
            acc[4] = _add(acc[4], b.rx_bytes_per_sec_max)
            acc[5] = _add(acc[5], b.tx_bytes_per_sec_max)
            acc[6] += b.rx_packets
            acc[7] += b.tx_packets
            acc[8] += b.errors
            acc[9] += b.drops
    return [Bucket(k, *by_start[k]) for k in sorted(by_start)]
