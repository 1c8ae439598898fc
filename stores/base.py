"""The Store contract shared by the ingestor (writes) and the api (reads)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from schemas import AlertState, HostState, InterfaceSample, Message


class StoreError(Exception):
    """Base of every store failure."""


class StoreUnavailable(StoreError):
    """Transient: the store cannot be reached or is locked. Retry later; keep the data."""


class BatchRejected(StoreError):
    """Permanent: the store refused this batch's content. Retrying the same batch won't help."""


class UnsupportedSchema(StoreError):
    """The store was written by a newer ifpulse; refuse to touch it."""


@dataclass(frozen=True, slots=True)
class HostRecord:
    """What the registry knows of one host."""

    id: str
    last_seen: datetime | None
    """Newest sample time (or status time if no sample yet)."""
    state: HostState | None
    """Last state the host reported on its status topic (None if never)."""
    version: str | None = None
    interval_s: float | None = None
    spool_dropped: int = 0
    interfaces: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Bucket:
    """One time bucket of a series. `start` is aligned to a multiple of the step (UTC epoch)."""

    start: datetime
    rx_bytes: int
    """Bytes moved within the bucket: the sum of non-null rx deltas."""
    tx_bytes: int
    rx_bytes_per_sec: float | None
    """Average of the samples' rates within the bucket."""
    tx_bytes_per_sec: float | None
    rx_bytes_per_sec_max: float | None
    tx_bytes_per_sec_max: float | None
    rx_packets: int
    tx_packets: int
    errors: int
    """rx_errors + tx_errors deltas."""
    drops: int
    """rx_dropped + tx_dropped deltas."""


@dataclass(frozen=True, slots=True)
class SeriesResult:
    """Buckets in time order. Buckets with no data are absent, never zero-filled."""

    total: list[Bucket]
    """The interface asked for, or the host total over all interfaces."""
    interfaces: dict[str, list[Bucket]] = field(default_factory=dict)
    """Per-interface series; filled only when no interface was asked for."""


@runtime_checkable
class Store(Protocol):
    """Time-series storage of samples plus the host registry and alert states."""

    cpu_bound: bool
    """True when writes and reads work in this process (Python and an embedded database,
    holding the GIL), False when they mostly wait on a server. Two busy threads trading the
    GIL cost more than either, so the ingestor pauses its network thread during CPU-bound
    writes, and the api runs CPU-bound reads inline on its event loop, not in a thread."""

    def write_batch(self, messages: Sequence[Message]) -> None:
        """Durably write samples, statuses and alerts; idempotent on (host, iface, ts).

        Returns only once the batch is committed. Raises StoreUnavailable (retry) or
        BatchRejected (do not retry).
        """
        ...

    def hosts(self) -> list[HostRecord]:
        """Every known host, ordered by id."""
        ...

    def host(self, host_id: str) -> HostRecord | None:
        """One host, or None if unknown."""
        ...

    def latest(self, host_id: str) -> list[InterfaceSample]:
        """The newest sample of each interface of a host, ordered by interface name."""
        ...

    def series(
        self,
        host_id: str,
        iface: str | None,
        start: datetime,
        end: datetime,
        step: timedelta,
    ) -> SeriesResult:
        """Buckets in [start, end): the interface, or host total plus each interface if None."""
        ...

    def samples(
        self, host_id: str | None, iface: str | None, start: datetime, end: datetime
    ) -> Iterator[InterfaceSample]:
        """Raw samples in [start, end), in time order, streamed (for export)."""
        ...

    def alerts(self, host_id: str | None = None) -> list[AlertState]:
        """Latest alert state of every interface that has one."""
        ...

    def maintain(self, now: datetime) -> None:
        """Do a bounded slice of rollup and retention work; call it periodically."""
        ...

    def ping(self) -> None:
        """Raise StoreUnavailable if the store does not answer."""
        ...

    def close(self) -> None:
        """Release connections and files."""
        ...
