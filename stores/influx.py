"""The InfluxDB store: line-protocol writes, InfluxQL reads, RPs and continuous-query rollups."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from schemas import AlertState, Cleared, HostStatus, InterfaceSample, Message
from stores.base import HostRecord, SeriesResult, StoreError, StoreUnavailable
from stores.influx_http import InfluxHttp
from stores.influx_lp import (
    alert_line,
    cleared_alert_line,
    sample_line,
    status_line,
    tag_iface,
    time_literal,
)
from stores.influx_read import (
    alert_from_row,
    alerts_query,
    all_series,
    host_records,
    is_complete,
    last_seen_query,
    latest_query,
    rows,
    sample_from_row,
    samples_query,
    status_query,
)
from stores.influx_schema import (
    RESAMPLE_FOR,
    RP_META,
    RP_RAW,
    Layout,
    backfill,
    ensure_v1,
    ensure_v2,
)
from stores.influx_series import read_series
from stores.influx_url import InfluxConfig, parse_url
from stores.influx_write import RetryPolicy, Sender, send_lines, v2_sender

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def _bucket(database: str, rp: str | None) -> str:
    """2.x bucket / 1.8 `db/rp` target of the v2 write API."""
    return f"{database}/{rp}" if rp else database


def _utcnow() -> datetime:
    return datetime.now(UTC)


def version_tuple(version: str) -> tuple[int, int]:
    """'1.6.7~rc0' / 'v2.7.1' / '3.0.0' → (major, minor); (0, 0) when unknown."""
    match = re.match(r"v?(\d+)\.(\d+)", version)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


@dataclass
class _Conn:
    """What startup learnt: the layout and one Sender per destination."""

    layout: Layout
    raw: Sender
    meta: Sender
    closers: list[Callable[[], None]]


class InfluxStore:
    """Store on InfluxDB 1.x (v1 or v2 write API) or 2.x/3.x (v2 write, InfluxQL via DBRP)."""

    # A write mostly waits for the server; paho's thread may read meanwhile.
    cpu_bound = False

    def __init__(
        self,
        cfg: InfluxConfig,
        *,
        clock: Clock = _utcnow,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.cfg = cfg
        self._http = InfluxHttp(cfg)
        self._clock = clock
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._lock = threading.Lock()
        self._conn: _Conn | None = None
        self.chunk_size = 5000
        """Rows per chunk when samples() streams an export."""

    @classmethod
    def from_url(cls, url: str) -> InfluxStore:
        """Open from `influxdb[s]://host:port/db?...`; connects lazily on first use."""
        return cls(parse_url(url))

    def _ready(self) -> _Conn:
        """Detect the server and create what is missing, once; retried after a failure."""
        with self._lock:
            if self._conn is None:
                self._conn = self._connect()
            return self._conn

    def _connect(self) -> _Conn:
        cfg = self.cfg
        major, minor = version_tuple(self._http.ping())
        is_v1 = major == 1 or (major == 0 and cfg.api == "v1")
        use_v2_write = cfg.api == "v2" or (cfg.api == "auto" and (major, minor) >= (1, 8))
        layout = Layout(cfg.database, rollups=is_v1, rp=None if is_v1 else cfg.rp)
        if is_v1:
            ensure_v1(self._http, cfg, layout)
        elif major == 2:
            ensure_v2(cfg, _bucket(cfg.database, cfg.rp))
        closers: list[Callable[[], None]] = []
        senders: list[Sender] = []
        rps = (RP_RAW, RP_META) if is_v1 else (cfg.rp, cfg.rp)
        for rp in rps:
            if use_v2_write:
                send, close = v2_sender(cfg, _bucket(cfg.database, rp))
                closers.append(close)
            else:
                send = self._v1_sender(rp)
            senders.append(send)
        return _Conn(layout, senders[0], senders[1], closers)

    def _v1_sender(self, rp: str | None) -> Sender:
        return lambda body: self._http.write_v1(body, self.cfg.database, rp)

    def write_batch(self, messages: Sequence[Message]) -> None:
        """Write samples, statuses and alerts; the same (host, iface, ts) overwrites its point."""
        conn = self._ready()
        now = self._clock()
        raw: list[str] = []
        meta: list[str] = []
        late: dict[str, tuple[datetime, datetime]] = {}
        # Samples older than the 1m CQ's resample window are rolled up here, not by the CQ.
        horizon = now - RESAMPLE_FOR["rollup_1m"] + timedelta(minutes=1)
        for msg in messages:
            if isinstance(msg, InterfaceSample):
                raw.append(sample_line(msg))
                if conn.layout.rollups and msg.ts < horizon:
                    lo, hi = late.get(msg.host, (msg.ts, msg.ts))
                    late[msg.host] = (min(lo, msg.ts), max(hi, msg.ts))
            elif isinstance(msg, HostStatus):
                meta.append(status_line(msg, now))
            elif isinstance(msg, AlertState):
                meta.append(alert_line(msg))
            elif isinstance(msg, Cleared) and msg.iface is not None:
                # Newest point per interface wins: this one hides older alerts.
                meta.append(cleared_alert_line(msg.host, msg.iface, msg.at))
        send_lines(raw, conn.raw, self._retry, self._sleep)
        send_lines(meta, conn.meta, self._retry, self._sleep)
        if late:
            self._backfill(conn.layout, late)

    def _backfill(self, layout: Layout, late: dict[str, tuple[datetime, datetime]]) -> None:
        try:
            backfill(self._http, layout, late)
        except StoreUnavailable:
            raise  # the batch is retried; rewriting it is harmless and re-runs the backfill
        except StoreError as exc:
            # The samples are safely in raw; failing the batch would only loop the ingestor.
            log.warning("rollup backfill of %s failed, raw data kept: %s", sorted(late), exc)

    def hosts(self) -> list[HostRecord]:
        """Every known host (from samples and statuses), ordered by id."""
        return self._records(None)

    def host(self, host_id: str) -> HostRecord | None:
        """One host, or None if unknown."""
        found = self._records(host_id)
        return found[0] if found else None

    def _records(self, host: str | None) -> list[HostRecord]:
        layout = self._ready().layout
        db, rp = layout.db, layout.rp
        seen = self._http.query(last_seen_query(layout, host), db=db, rp=rp)
        status = self._http.query(status_query(layout, host), db=db, rp=rp)
        return host_records(
            (row for s in all_series(seen) for row in rows(s)),
            (row for s in all_series(status) for row in rows(s)),
        )

    def latest(self, host_id: str) -> list[InterfaceSample]:
        """The newest sample of each interface of a host, ordered by interface name."""
        layout = self._ready().layout
        seen = self._http.query(last_seen_query(layout, host_id), db=layout.db, rp=layout.rp)
        newest = {row["interface"]: row["time"] for s in all_series(seen) for row in rows(s)}
        if not newest:
            return []
        q = latest_query(layout, host_id, newest)
        result = self._http.query(q, db=layout.db, rp=layout.rp)
        # A statement may match two points if an interface changed kind at that instant.
        found: dict[str, InterfaceSample] = {}
        for series in all_series(result):
            for row in filter(is_complete, rows(series)):
                found.setdefault(row["interface"], sample_from_row(row))
        return sorted(found.values(), key=lambda s: s.iface)

    def series(
        self, host_id: str, iface: str | None, start: datetime, end: datetime, step: timedelta
    ) -> SeriesResult:
        """Buckets in [start, end): raw for the recent tail, rollups for the rest."""
        if step <= timedelta(0):
            raise ValueError("step must be positive")
        layout = self._ready().layout
        return read_series(self._http, layout, self._clock(), host_id, iface, start, end, step)

    def samples(
        self, host_id: str | None, iface: str | None, start: datetime, end: datetime
    ) -> Iterator[InterfaceSample]:
        """Raw samples in [start, end) in time order, streamed with chunked=true."""
        layout = self._ready().layout
        bounds = f"time >= {time_literal(start)} AND time < {time_literal(end)}"
        tag = tag_iface(iface) if iface is not None else None
        q = samples_query(layout, host_id, tag, bounds)
        for series in self._http.query_chunks(q, layout.db, layout.rp, self.chunk_size):
            for row in filter(is_complete, rows(series)):
                yield sample_from_row(row)

    def alerts(self, host_id: str | None = None) -> list[AlertState]:
        """Latest alert state of every interface that has one, ordered by (host, iface)."""
        layout = self._ready().layout
        result = self._http.query(alerts_query(layout, host_id), db=layout.db, rp=layout.rp)
        found = [
            alert_from_row(row)
            for s in all_series(result)
            for row in rows(s)
            if not row.get("cleared")
        ]
        return sorted(found, key=lambda a: (a.host, a.iface))

    def maintain(self, now: datetime) -> None:
        """Nothing to do: retention and rollups run inside InfluxDB (RPs and CQs)."""

    def ping(self) -> None:
        """Raise StoreUnavailable if the server does not answer /ping."""
        self._http.ping()

    def close(self) -> None:
        """Close the kept-alive write connections and the influxdb-client sessions."""
        with self._lock:
            conn, self._conn = self._conn, None
        for close in conn.closers if conn else ():
            close()
        self._http.close()


__all__ = ["InfluxStore", "version_tuple"]
