"""The embedded SQLite store: one writer, many readers (WAL), rollups and retention in slices.

URL forms (see stores/sqlite_url.py):
    sqlite:///var/lib/ifpulse/ifpulse.db      absolute path (sqlite:////abs/path.db too)
    sqlite:data/ifpulse.db                    relative to the working directory
    ...?retention_raw=7d&retention_1m=90d&retention_1h=730d&synchronous=full&busy_timeout=5s
Parent directories are created. Series with a step that is a multiple of 1 h read hourly
rollups, of 15 min quarter-hour rollups, of 1 min minute rollups, anything else raw samples;
unaligned edges of the range come from the next finer table, so every step gives the same
totals.

Minute rollups are kept inside write_batch: a batch of new samples adds its aggregates to
them; a batch holding any sample already stored (redelivery) overwrites those raw rows and
recomputes its minutes from raw, so nothing counts twice. Hourly and 15-minute ones are marked
stale per hour and redone by maintain(), and queries read stale hours from the minute rollups
meanwhile. 15-minute rollups are kept as long as minute ones. Past a table's retention its
rows are gone: edges of a range older than raw retention lose their sub-minute part, and
samples arriving older than raw retention update latest and the registry but not history.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from operator import itemgetter
from typing import Any, TypeVar

from schemas import AlertState, Cleared, HostState, HostStatus, InterfaceSample, Message
from stores import sqlite_chunk_io as chunk_io
from stores.base import (
    BatchRejected,
    HostRecord,
    SeriesResult,
    StoreError,
    StoreUnavailable,
)
from stores.buckets import HOUR_MS, finish, floor_to, from_ms, host_total, step_ms, to_ms
from stores.gc_pause import gc_paused
from stores.sqlite_chunks import raw_rows
from stores.sqlite_latest import read_latest
from stores.sqlite_query import Accs, series_accs
from stores.sqlite_rollup import (
    DAY_MS,
    compact_raw,
    due_hours,
    purge_raw,
    purge_rollup,
    rollup_hours,
)
from stores.sqlite_rows import RAW_LIST, from_row, meta_from_text
from stores.sqlite_schema import migrate
from stores.sqlite_url import SqliteOptions, parse_url
from stores.sqlite_write import IdCache, write_alerts, write_samples, write_statuses

log = logging.getLogger(__name__)
T = TypeVar("T")

_TRANSIENT = ("locked", "busy", "disk", "unable to open", "readonly")
_NO_END = 2**62
"""A time (ms) after every hour: backlog() without `now` counts every stale hour."""


@contextmanager
def translate() -> Iterator[None]:
    """Turn sqlite3 errors into the Store's: transient -> StoreUnavailable, content -> rejected."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        text = str(exc).lower()
        if any(word in text for word in _TRANSIENT):
            raise StoreUnavailable(f"sqlite: {exc}") from exc
        if "overflow" in text:
            raise BatchRejected(f"sqlite: {exc}") from exc
        raise StoreError(f"sqlite: {exc}") from exc
    except (sqlite3.IntegrityError, OverflowError) as exc:
        raise BatchRejected(f"sqlite: {exc}") from exc
    except sqlite3.Error as exc:
        raise StoreError(f"sqlite: {exc}") from exc


def connect(options: SqliteOptions) -> sqlite3.Connection:
    """A connection in autocommit mode (we BEGIN ourselves), WAL, with a busy timeout."""
    options.path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(
        options.path,
        isolation_level=None,
        check_same_thread=False,
        timeout=options.busy_timeout_ms / 1000,
    )
    conn.execute(f"PRAGMA busy_timeout = {options.busy_timeout_ms:d}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {'FULL' if options.synchronous == 'full' else 'NORMAL'}")
    conn.execute("PRAGMA cache_size = -65536")
    return conn


class SqliteStore:
    """Store in one SQLite file; thread-safe (one connection behind a lock)."""

    cpu_bound = True

    def __init__(self, options: SqliteOptions) -> None:
        self.options = options
        self._lock = threading.Lock()
        self._ids = IdCache()
        with translate():
            self._conn = connect(options)
            try:
                migrate(self._conn)
            except BaseException:
                self._conn.close()
                raise

    @classmethod
    def from_url(cls, url: str) -> SqliteStore:
        """Open (creating if needed) the database a sqlite:// URL names."""
        return cls(parse_url(url))

    def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        # Writes run with the collector paused (see stores.gc_pause): one collection after a
        # bulk batch instead of dozens that walk its models.
        with self._lock, gc_paused(), translate():
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = work(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                self._ids.forget()
                raise
            return result

    def _read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock, translate():
            conn = self._conn
            conn.execute("BEGIN")  # one snapshot for all the statements of a read
            try:
                return work(conn)
            finally:
                conn.execute("COMMIT")

    def write_batch(self, messages: Sequence[Message]) -> None:
        """Write samples, statuses and alerts atomically; idempotent per (host, iface, ts)."""
        if not messages:
            return
        samples: list[InterfaceSample] = []
        statuses: list[HostStatus] = []
        alerts: list[AlertState | Cleared] = []
        for m in messages:  # one pass: a batch is mostly samples
            if isinstance(m, InterfaceSample):
                samples.append(m)
            elif isinstance(m, HostStatus):
                statuses.append(m)
            else:
                alerts.append(m)

        def work(conn: sqlite3.Connection) -> int:
            skipped = (
                write_samples(conn, self._ids, samples, self.options.chunk_min) if samples else 0
            )
            write_statuses(conn, statuses)
            write_alerts(conn, alerts)
            return skipped

        skipped = self._write(work)
        if skipped:
            log.info("kept %d samples older than raw retention out of history", skipped)

    def hosts(self) -> list[HostRecord]:
        """Every known host, ordered by id."""
        return self._read(lambda conn: _hosts(conn, None))

    def host(self, host_id: str) -> HostRecord | None:
        """One host, or None if unknown."""
        found = self._read(lambda conn: _hosts(conn, host_id))
        return found[0] if found else None

    def latest(self, host_id: str) -> list[InterfaceSample]:
        """The newest sample of each interface of a host, ordered by interface name."""
        return self._read(lambda conn: read_latest(conn, host_id))

    def series(
        self,
        host_id: str,
        iface: str | None,
        start: datetime,
        end: datetime,
        step: timedelta,
    ) -> SeriesResult:
        """Buckets in [start, end): the interface, or host total plus each interface if None."""
        step_size, lo, hi = step_ms(step), to_ms(start), to_ms(end)

        def work(conn: sqlite3.Connection) -> tuple[dict[str, int], Accs]:
            names = _series_ids(conn, host_id, iface)
            return names, series_accs(conn, list(names.values()), lo, hi, step_size)

        names, accs = self._read(work)
        per_iface = {name: finish(accs[sid]) for name, sid in sorted(names.items())}
        per_iface = {name: buckets for name, buckets in per_iface.items() if buckets}
        if iface is not None:
            return SeriesResult(total=per_iface.get(iface, []))
        return SeriesResult(total=host_total(per_iface.values()), interfaces=per_iface)

    def samples(
        self, host_id: str | None, iface: str | None, start: datetime, end: datetime
    ) -> Iterator[InterfaceSample]:
        """Raw samples in [start, end), in time order, streamed from a connection of their own."""
        return _stream(self.options, host_id, iface, to_ms(start), to_ms(end))

    def alerts(self, host_id: str | None = None) -> list[AlertState]:
        """Latest alert state of every interface that has one, ordered by host and interface."""
        sql = (
            "SELECT body FROM alerts WHERE (? IS NULL OR host = ?) AND body != '' "
            "ORDER BY host, iface"
        )
        rows = self._read(lambda conn: conn.execute(sql, (host_id, host_id)).fetchall())
        return [AlertState.model_validate_json(r[0]) for r in rows]

    def maintain(self, now: datetime, budget: timedelta = timedelta(seconds=0.5)) -> None:
        """Roll up stale hours, turn settled raw rows into chunks, then purge expired rows and
        chunks, in short transactions within a budget."""
        deadline = time.monotonic() + budget.total_seconds()
        now_ms, keep = to_ms(now), self.options.retention
        # Each kind of work gets at least one slice, even when the budget is spent.
        while self._write(lambda conn: rollup_hours(conn, 4, now_ms)) == 4:
            if time.monotonic() >= deadline:
                break
        jobs: list[Callable[[sqlite3.Connection], bool]] = [
            # chunk_min=0 keeps every sample a raw row: no chunks written, none made later.
            lambda conn: self.options.chunk_min <= 0 or compact_raw(conn, now_ms),
            lambda conn: purge_raw(conn, now_ms - keep.raw_ms, 600_000),
            lambda conn: purge_rollup(conn, "m1", now_ms - keep.m1_ms, DAY_MS),
            lambda conn: purge_rollup(conn, "m15", now_ms - keep.m1_ms, DAY_MS),
            lambda conn: purge_rollup(conn, "h1", now_ms - keep.h1_ms, 30 * DAY_MS),
        ]
        for job in jobs:
            while not self._write(job) and time.monotonic() < deadline:
                pass

    def backlog(self, now: datetime | None = None) -> int:
        """How many hours have stale rollups (h1 and m15): of those ended by `now`, the ones
        maintain(now) works off; all of them without `now`."""
        until = _NO_END if now is None else to_ms(now)
        return len(self._read(lambda conn: due_hours(conn, until)))

    def ping(self) -> None:
        """Raise StoreUnavailable if the database does not answer."""
        try:
            self._read(lambda conn: conn.execute("SELECT 1").fetchone())
        except StoreError as exc:
            raise StoreUnavailable(str(exc)) from exc

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            self._conn.close()


def _series_ids(conn: sqlite3.Connection, host_id: str, iface: str | None) -> dict[str, int]:
    rows = conn.execute(
        "SELECT iface, id FROM series WHERE host = ? AND (? IS NULL OR iface = ?)",
        (host_id, iface, iface),
    )
    return {str(name): int(sid) for name, sid in rows}


def _hosts(conn: sqlite3.Connection, host_id: str | None) -> list[HostRecord]:
    ifaces: dict[str, list[str]] = {}
    for host, name in conn.execute(
        "SELECT host, iface FROM series WHERE ? IS NULL OR host = ? ORDER BY host, iface",
        (host_id, host_id),
    ):
        ifaces.setdefault(host, []).append(name)
    rows = conn.execute(
        "SELECT host, sample_ts, status_ts, has_status, state, version, interval_s, "
        "spool_dropped FROM hosts WHERE ? IS NULL OR host = ? ORDER BY host",
        (host_id, host_id),
    ).fetchall()
    return [
        HostRecord(
            id=host,
            last_seen=None if (seen := sample_ts or status_ts) is None else from_ms(seen),
            state=HostState(state) if has_status and state else None,
            version=version,
            interval_s=interval_s,
            spool_dropped=dropped or 0,
            interfaces=tuple(ifaces.get(host, ())),
        )
        for host, sample_ts, status_ts, has_status, state, version, interval_s, dropped in rows
    ]


def _marks(items: dict[int, tuple[str, str]]) -> str:
    return ",".join("?" * len(items))


def _fetched(cursor: sqlite3.Cursor) -> Iterator[list[Any]]:
    while rows := cursor.fetchmany(1000):
        yield rows


def _hours_merged(
    conn: sqlite3.Connection, query: str, sids: list[int], only: bool, lo: int, hi: int
) -> Iterator[list[Any]]:
    """Raw rows and chunked samples of [lo, hi) in (ts, sid) order, an hour at a time."""
    at = lo
    while at < hi:
        # Skip to the next hour with samples: the range may span years (FAR_PAST..).
        found = conn.execute("SELECT min(ts) FROM raw WHERE ts >= ? AND ts < ?", (at, hi))
        starts = [found.fetchone()[0], chunk_io.next_time(conn, at)]
        first = min((t for t in starts if t is not None), default=None)
        if first is None or first >= hi:
            return
        hour = floor_to(first, HOUR_MS)
        a, b = max(at, hour), min(hi, hour + HOUR_MS)
        rows: list[Any] = conn.execute(query, (a, b, *(sids if only else ()))).fetchall()
        chunked = chunk_io.read_range(conn, sids, a, b)
        if chunked is not None:
            rows.extend(raw_rows(chunked))
            rows.sort(key=itemgetter(0, 1))
        if rows:
            yield rows
        at = b


def _stream(
    options: SqliteOptions, host_id: str | None, iface: str | None, lo: int, hi: int
) -> Iterator[InterfaceSample]:
    with translate():
        conn = connect(options)
    try:
        with translate():
            conn.execute("BEGIN")
            names = {
                int(sid): (str(h), str(i))
                for sid, h, i in conn.execute(
                    "SELECT id, host, iface FROM series WHERE (? IS NULL OR host = ?) "
                    "AND (? IS NULL OR iface = ?)",
                    (host_id, host_id, iface, iface),
                )
            }
            metas = {int(k): meta_from_text(t) for k, t in conn.execute("SELECT id, key FROM meta")}
            if not names:
                return
            # Filter series in SQL when asked (cheaper than in Python); the (ts, sid) key
            # already yields time order, so there is no sort before the first row.
            only = "" if host_id is None and iface is None else f"AND sid IN ({_marks(names)})"
            query = f"SELECT {RAW_LIST} FROM raw WHERE ts >= ? AND ts < ? {only} ORDER BY ts, sid"  # noqa: S608
            if chunk_io.any_in(conn, lo, hi):
                parts = _hours_merged(conn, query, list(names), bool(only), lo, hi)
            else:
                parts = _fetched(conn.execute(query, (lo, hi, *(names if only else ()))))
        while True:
            with translate():
                rows = next(parts, None)
            if rows is None:
                return
            for row in rows:
                found = names.get(row[1])
                if found is not None:
                    yield from_row(found[0], found[1], metas[row[18]], row)
    finally:
        conn.close()
