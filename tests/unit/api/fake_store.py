"""An in-memory Store for the api's unit tests (the real ones are tested in integration)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta

from schemas import AlertState, HostState, HostStatus, InterfaceSample, Message
from stores import Bucket, HostRecord, SeriesResult, StoreUnavailable


def _bucket(start: datetime, samples: list[InterfaceSample]) -> Bucket:
    def rates(name: str) -> list[float]:
        return [v for s in samples if (v := getattr(s, name)) is not None]

    def delta(*names: str) -> int:
        return sum(getattr(s.delta, n) or 0 for s in samples for n in names)

    rx, tx = rates("rx_bytes_per_sec"), rates("tx_bytes_per_sec")
    return Bucket(
        start=start,
        rx_bytes=delta("rx_bytes"),
        tx_bytes=delta("tx_bytes"),
        rx_bytes_per_sec=sum(rx) / len(rx) if rx else None,
        tx_bytes_per_sec=sum(tx) / len(tx) if tx else None,
        rx_bytes_per_sec_max=max(rx) if rx else None,
        tx_bytes_per_sec_max=max(tx) if tx else None,
        rx_packets=delta("rx_packets"),
        tx_packets=delta("tx_packets"),
        errors=delta("rx_errors", "tx_errors"),
        drops=delta("rx_dropped", "tx_dropped"),
    )


def _buckets(samples: list[InterfaceSample], step: timedelta) -> list[Bucket]:
    size = step.total_seconds()
    groups: dict[float, list[InterfaceSample]] = defaultdict(list)
    for s in samples:
        groups[s.ts.timestamp() // size * size].append(s)
    return [_bucket(datetime.fromtimestamp(key, UTC), groups[key]) for key in sorted(groups)]


class FakeStore:
    """Keeps messages in dicts; `broken = True` makes every call raise StoreUnavailable."""

    cpu_bound = False

    def __init__(self) -> None:
        self.samples_by_key: dict[tuple[str, str, datetime], InterfaceSample] = {}
        self.statuses: dict[str, HostStatus] = {}
        self.alert_states: dict[tuple[str, str], AlertState] = {}
        self.broken = False
        self.closed = False
        self.calls: list[str] = []

    def _check(self, call: str) -> None:
        self.calls.append(call)
        if self.broken:
            raise StoreUnavailable("fake store is broken")

    def write_batch(self, messages: Sequence[Message]) -> None:
        """Keep the messages; a sample overwrites the one with the same key."""
        self._check("write_batch")
        for m in messages:
            if isinstance(m, InterfaceSample):
                self.samples_by_key[(m.host, m.iface, m.ts)] = m
            elif isinstance(m, HostStatus):
                self.statuses[m.host] = m
            else:
                self.alert_states[(m.host, m.iface)] = m

    def _host_record(self, host_id: str) -> HostRecord | None:
        mine = [s for s in self.samples_by_key.values() if s.host == host_id]
        status = self.statuses.get(host_id)
        if not mine and status is None:
            return None
        last_seen = max((s.ts for s in mine), default=status.ts if status else None)
        return HostRecord(
            id=host_id,
            last_seen=last_seen,
            state=HostState(status.state) if status else None,
            version=status.version if status else None,
            interval_s=status.interval_s if status else None,
            spool_dropped=status.spool_dropped if status else 0,
            interfaces=tuple(sorted({s.iface for s in mine})),
        )

    def hosts(self) -> list[HostRecord]:
        """Every known host, ordered by id."""
        self._check("hosts")
        ids = {k[0] for k in self.samples_by_key} | set(self.statuses)
        return [r for i in sorted(ids) if (r := self._host_record(i)) is not None]

    def host(self, host_id: str) -> HostRecord | None:
        """One host, or None."""
        self._check("host")
        return self._host_record(host_id)

    def latest(self, host_id: str) -> list[InterfaceSample]:
        """Newest sample per interface, ordered by name."""
        self._check("latest")
        newest: dict[str, InterfaceSample] = {}
        for s in self.samples_by_key.values():
            if s.host == host_id and (s.iface not in newest or s.ts > newest[s.iface].ts):
                newest[s.iface] = s
        return [newest[name] for name in sorted(newest)]

    def _window(
        self, host_id: str | None, iface: str | None, start: datetime, end: datetime
    ) -> list[InterfaceSample]:
        return sorted(
            (
                s
                for s in self.samples_by_key.values()
                if (host_id is None or s.host == host_id)
                and (iface is None or s.iface == iface)
                and start <= s.ts < end
            ),
            key=lambda s: (s.ts, s.host, s.iface),
        )

    def series(
        self, host_id: str, iface: str | None, start: datetime, end: datetime, step: timedelta
    ) -> SeriesResult:
        """Buckets of the interface, or the host total plus each interface."""
        self._check("series")
        window = self._window(host_id, iface, start, end)
        if iface is not None:
            return SeriesResult(total=_buckets(window, step))
        names = sorted({s.iface for s in window})
        per = {n: _buckets([s for s in window if s.iface == n], step) for n in names}
        return SeriesResult(total=_buckets(window, step), interfaces=per)

    def samples(
        self, host_id: str | None, iface: str | None, start: datetime, end: datetime
    ) -> Iterator[InterfaceSample]:
        """Raw samples in time order."""
        self._check("samples")
        yield from self._window(host_id, iface, start, end)

    def alerts(self, host_id: str | None = None) -> list[AlertState]:
        """Every alert state (of one host if given)."""
        self._check("alerts")
        return [a for (h, _), a in sorted(self.alert_states.items()) if host_id in (None, h)]

    def maintain(self, now: datetime) -> None:
        """Nothing to do in memory."""

    def ping(self) -> None:
        """Raise if broken."""
        self._check("ping")

    def close(self) -> None:
        """Remember that it was closed."""
        self.closed = True
