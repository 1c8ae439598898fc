"""An in-memory Store for ingestor unit tests; can be told to fail."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta

from schemas import AlertState, HostStatus, InterfaceSample, Message
from stores import BatchRejected, HostRecord, SeriesResult, StoreUnavailable


class FakeStore:
    """Keeps samples by (host, iface, ts); `unavailable`/`reject` make writes fail."""

    cpu_bound = False

    def __init__(self) -> None:
        self.points: dict[tuple[str, str, datetime], InterfaceSample] = {}
        self.statuses: dict[str, HostStatus] = {}
        self.alerts_by_key: dict[tuple[str, str], AlertState] = {}
        self.unavailable = False
        self.fail_times = 0
        self.reject: set[tuple[str, str]] = set()
        """(host, iface) pairs whose samples make a whole batch BatchRejected."""
        self.writes: list[int] = []
        self.attempts = 0
        self.maintained: list[datetime] = []
        self.closed = False
        self.lock = threading.Lock()

    def write_batch(self, messages: Sequence[Message]) -> None:
        """Store all or nothing."""
        with self.lock:
            self.attempts += 1
            if self.unavailable or self.fail_times > 0:
                self.fail_times = max(0, self.fail_times - 1)
                raise StoreUnavailable("fake store is down")
            for m in messages:
                if isinstance(m, InterfaceSample) and (m.host, m.iface) in self.reject:
                    raise BatchRejected(f"fake store refuses {m.host}/{m.iface}")
            for m in messages:
                if isinstance(m, InterfaceSample):
                    self.points[(m.host, m.iface, m.ts)] = m
                elif isinstance(m, HostStatus):
                    self.statuses[m.host] = m
                else:
                    self.alerts_by_key[(m.host, m.iface)] = m
            self.writes.append(len(messages))

    def hosts(self) -> list[HostRecord]:
        """Not needed by the ingestor."""
        return []

    def host(self, host_id: str) -> HostRecord | None:
        """Not needed by the ingestor."""
        return None

    def latest(self, host_id: str) -> list[InterfaceSample]:
        """Not needed by the ingestor."""
        return []

    def series(
        self, host_id: str, iface: str | None, start: datetime, end: datetime, step: timedelta
    ) -> SeriesResult:
        """Not needed by the ingestor."""
        return SeriesResult(total=[])

    def samples(
        self, host_id: str | None, iface: str | None, start: datetime, end: datetime
    ) -> Iterator[InterfaceSample]:
        """Not needed by the ingestor."""
        return iter(())

    def alerts(self, host_id: str | None = None) -> list[AlertState]:
        """Latest alerts."""
        return list(self.alerts_by_key.values())

    def maintain(self, now: datetime) -> None:
        """Record the call."""
        self.maintained.append(now)

    def ping(self) -> None:
        """Up unless told otherwise."""
        if self.unavailable:
            raise StoreUnavailable("fake store is down")

    def close(self) -> None:
        """Record the call."""
        self.closed = True
