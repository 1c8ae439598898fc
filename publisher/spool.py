"""On-disk store-and-forward queue (SQLite WAL): put, oldest-first read, delete on ack, size cap.

Every message is committed here before it is published and deleted only when the broker has
acknowledged it, so a crash (even SIGKILL) loses nothing that was committed. One put (a
collection cycle) is one row holding all its messages: a row per message cost more SQLite work
than everything else the spool does. Messages keep ids of their own, consecutive and never
reused (the last one given is kept), so their order is the publication order. A row goes when
all its messages are acknowledged; the acks of part of a row are kept in memory only, so after
a restart those messages are sent again (the ingestor is idempotent on (host, iface, ts)).
The spool also keeps the last `seq` handed out, so sample numbers keep growing across restarts.
"""

from __future__ import annotations

import bisect
import fcntl
import logging
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Literal, NamedTuple

from publisher.spool_rows import INSERT, SCHEMA, SELECT_FROM, Row, pack, size_of, unpack

log = logging.getLogger(__name__)

_SPAN_OF = "SELECT first, count, size FROM batch WHERE first <= ? ORDER BY first DESC LIMIT 1"
_SAVE_IDS = "INSERT OR REPLACE INTO meta (key, value) VALUES ('last_id', ?)"
_SAVE_IDS_SEQ = "INSERT OR REPLACE INTO meta (key, value) VALUES ('last_id', ?), ('last_seq', ?)"
_MIGRATE_ROWS = 1000  # messages per row when converting a spool of the one-row-per-message form


class _Span(NamedTuple):
    """Where a stored row's messages are: ids first .. first + length - 1; bytes it counts."""

    first: int
    length: int
    size: int


class SpoolBusyError(RuntimeError):
    """Another publisher holds this spool."""


class Spool:
    """A durable FIFO of (topic, payload) with a byte cap that drops the oldest when full."""

    def __init__(
        self,
        path: str | Path,
        max_bytes: int = 100 * 2**20,
        *,
        sync: Literal["normal", "full"] = "normal",
    ) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_fd = self._lock(self.path.with_name(self.path.name + ".lock"))
        try:
            self.db = self._open(sync)
        except sqlite3.DatabaseError as exc:
            aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
            log.error("spool %s is unreadable (%s); moved aside to %s", self.path, exc, aside)
            for suffix in ("", "-wal", "-shm"):
                old = self.path.with_name(self.path.name + suffix)
                if old.exists():
                    old.rename(aside.with_name(aside.name + suffix))
            self.db = self._open(sync)
        self.last_id: int = max(self._meta("last_id", 0), self._max_id())
        self._migrate()
        totals = self.db.execute(
            "SELECT coalesce(sum(count), 0), coalesce(sum(size), 0) FROM batch"
        )
        depth, size = totals.fetchone()
        self.depth: int = depth
        self.bytes: int = size
        self.dropped = 0  # since this process started
        self.last_seq: int = self._meta("last_seq", -1)
        self._spans: dict[int, _Span] = {}  # rows whose ids were seen (put or read), by first
        self._acked: dict[int, frozenset[int]] = {}  # first -> ids of a row acknowledged so far
        self._cached: list[Row] = []  # the messages of the row put or read last, to peek for free

    def _meta(self, key: str, default: int) -> int:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else default

    def _max_id(self) -> int:
        row = self.db.execute("SELECT max(first + count - 1) FROM batch").fetchone()
        return int(row[0] or 0)

    @staticmethod
    def _lock(path: Path) -> int:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise SpoolBusyError(
                f"spool {path.with_suffix('')} is in use by another publisher"
            ) from None
        return fd

    def _open(self, sync: str) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={'FULL' if sync == 'full' else 'NORMAL'}")
            db.execute("PRAGMA journal_size_limit=4194304")
            db.execute("PRAGMA busy_timeout=5000")
            db.executescript(SCHEMA)
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def _migrate(self) -> None:
        """Move the messages of a spool written one row per message into rows of many."""
        old = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'queue'"
        if self.db.execute(old).fetchone() is None:
            return
        with self._transaction():
            seq = self.db.execute("SELECT max(seq) FROM sqlite_sequence WHERE name = 'queue'")
            last_id = max(self.last_id, int(seq.fetchone()[0] or 0))
            cursor = self.db.execute("SELECT topic, payload FROM queue ORDER BY id")
            moved = 0
            while chunk := cursor.fetchmany(_MIGRATE_ROWS):
                items = [(t, bytes(p)) for t, p in chunk]
                self.db.execute(INSERT, (last_id + 1, len(items), *pack(items)))
                last_id += len(items)
                moved += len(items)
            self.db.execute(_SAVE_IDS, (last_id,))
            self.db.execute("DROP TABLE queue")
        self.last_id = last_id
        log.info("spool %s converted to rows of many messages (%d waiting)", self.path, moved)

    def put(
        self,
        items: Sequence[tuple[str, bytes]],
        last_seq: int | None = None,
        acked: Sequence[int] = (),
    ) -> int:
        """Commit messages and the last seq used, and delete `acked` ids, in one transaction.

        Returns how many of the oldest were dropped to keep under the size cap.
        """
        saved = self._save()
        try:
            with self._transaction():
                removed, freed_acked, gone = self._settle(sorted(set(acked)))
                self._delete_rows(gone)
                first, added = self.last_id + 1, 0
                if items:
                    packed = pack(items)
                    self.db.execute(INSERT, (first, len(items), *packed))
                    added = packed[0]
                    self._spans[first] = _Span(first, len(items), added)
                    self._cached = [(first + i, t, p) for i, (t, p) in enumerate(items)]
                last_id = self.last_id + len(items)
                if last_seq is None:
                    self.db.execute(_SAVE_IDS, (last_id,))
                else:
                    self.db.execute(_SAVE_IDS_SEQ, (last_id, last_seq))
                size = self.bytes - freed_acked + added
                dropped, freed = self._drop_oldest(size - self.max_bytes)
        except BaseException:
            self._restore(saved)
            raise
        self.last_id = last_id
        self.depth += len(items) - removed - dropped
        self.bytes = size - freed
        if last_seq is not None:
            self.last_seq = last_seq
        if dropped:
            self.dropped += dropped
            log.warning(
                "spool full (%.1f MB cap): dropped the %d oldest samples (%d since start)",
                self.max_bytes / 2**20,
                dropped,
                self.dropped,
            )
        return dropped

    def _save(self) -> tuple[dict[int, _Span], dict[int, frozenset[int]], list[Row]]:
        """What a failed transaction must put back of the in-memory state."""
        return dict(self._spans), dict(self._acked), self._cached

    def _restore(
        self, saved: tuple[dict[int, _Span], dict[int, frozenset[int]], list[Row]]
    ) -> None:
        self._spans, self._acked, self._cached = saved

    def _drop_oldest(self, excess: int) -> tuple[int, int]:
        """Delete the oldest messages until `excess` bytes are freed; (messages, bytes).

        Acknowledged messages of a row kept for its others free their bytes but are not
        counted as dropped.
        """
        if excess <= 0:
            return 0, 0
        freed = 0
        whole: list[_Span] = []
        part: _Span | None = None
        cursor = self.db.execute("SELECT first, count, size FROM batch ORDER BY first")
        for span in map(_Span._make, cursor):
            if freed + span.size > excess:
                part = span
                break
            whole.append(span)
            freed += span.size
            if freed == excess:
                break
        cursor.close()
        dropped = 0
        for span in whole:
            dropped += span.length - len(self._acked.pop(span.first, ()))
            self._spans.pop(span.first, None)
        if whole:
            self.db.execute("DELETE FROM batch WHERE first <= ?", (whole[-1].first,))
        if part is not None:
            part_dropped, part_freed = self._drop_part(part, excess - freed)
            dropped, freed = dropped + part_dropped, freed + part_freed
        self._cached = []
        return dropped, freed

    def _drop_part(self, span: _Span, excess: int) -> tuple[int, int]:
        """Drop the oldest messages of one row until `excess` bytes are freed; (messages, bytes)."""
        rows = self._read_row(span.first)
        freed = cut = 0
        while freed < excess:
            freed += size_of(rows[cut])
            cut += 1
        acked = self._acked.pop(span.first, frozenset())
        self._spans.pop(span.first, None)
        dropped = sum(1 for row in rows[:cut] if row[0] not in acked)
        self.db.execute("DELETE FROM batch WHERE first = ?", (span.first,))
        kept = rows[cut:]
        if kept:
            first = kept[0][0]
            items = [(t, p) for _, t, p in kept]
            self.db.execute(INSERT, (first, len(items), *pack(items)))
            self._spans[first] = _Span(first, len(items), span.size - freed)
            still = frozenset(i for i in acked if i >= first)
            if still:
                self._acked[first] = still
        return dropped, freed

    def _read_row(self, first: int) -> list[Row]:
        row = self.db.execute(
            "SELECT count, ends, topics, payloads FROM batch WHERE first = ?", (first,)
        ).fetchone()
        return unpack(first, *row)

    def peek(self, after_id: int = 0, limit: int = 100) -> list[Row]:
        """The oldest messages with an id above `after_id`, oldest first."""
        out: list[Row] = []
        cached = self._cached
        if cached and cached[0][0] <= after_id + 1:  # from the row put or read last: no read
            newest = cached[-1][0] == self.last_id
            if newest or after_id < cached[-1][0]:
                self._take(cached, after_id, limit, out)
                if newest or len(out) >= limit:
                    return out
                after_id = cached[-1][0]
        cursor = self.db.execute(SELECT_FROM, (after_id + 1,))
        try:
            while len(out) < limit and (found := cursor.fetchone()) is not None:
                first, count, size, ends, topics, payloads = found
                self._spans[first] = _Span(first, count, size)
                self._cached = unpack(first, count, ends, topics, payloads)
                self._take(self._cached, after_id, limit, out)
        finally:
            cursor.close()
        return out

    def _take(self, rows: list[Row], after_id: int, limit: int, out: list[Row]) -> None:
        """Append to `out` the rows after `after_id` not acknowledged, up to `limit` in all."""
        acked = self._acked.get(rows[0][0], ()) if rows else ()
        for row in rows:
            if row[0] > after_id and row[0] not in acked:
                out.append(row)
                if len(out) >= limit:
                    return

    def delete(self, ids: Iterable[int]) -> int:
        """Remove acknowledged messages (ids already gone are ignored); returns how many went."""
        saved = self._save()
        try:
            removed, freed, gone = self._settle(sorted(set(ids)))
            if gone:  # otherwise only the memory of a row's acks changed
                with self._transaction():
                    self._delete_rows(gone)
        except BaseException:
            self._restore(saved)
            raise
        self.depth -= removed
        self.bytes -= freed
        return removed

    def _settle(self, ids: Sequence[int]) -> tuple[int, int, list[int]]:
        """Count acknowledged `ids` (ascending): (messages newly gone, bytes freed, rows done).

        The rows whose every message is now acknowledged are to be deleted by the caller.
        """
        removed = freed = 0
        gone: list[int] = []
        for span, group in self._group(ids):
            before = self._acked.get(span.first, frozenset())
            if not before and len(group) == span.length:  # the common case: a whole row
                removed += span.length
                gone.append(span.first)
                freed += span.size
                del self._spans[span.first]
                continue
            after = before.union(group)
            removed += len(after) - len(before)
            if len(after) == span.length:
                gone.append(span.first)
                freed += span.size
                self._acked.pop(span.first, None)
                del self._spans[span.first]
            elif len(after) != len(before):
                self._acked[span.first] = after
        if gone and self._cached and self._cached[0][0] in gone:
            self._cached = []
        return removed, freed, gone

    def _group(self, ids: Sequence[int]) -> list[tuple[_Span, Sequence[int]]]:
        """`ids` (ascending) by the stored row holding them; ids of no row are left out."""
        groups: list[tuple[_Span, Sequence[int]]] = []
        firsts = sorted(self._spans)
        k, n = 0, len(ids)
        while k < n:
            i = ids[k]
            at = bisect.bisect_right(firsts, i) - 1
            span = self._spans[firsts[at]] if at >= 0 else None
            if span is None or i >= span.first + span.length:
                found = self.db.execute(_SPAN_OF, (i,)).fetchone()
                span = _Span._make(found) if found else None
                if span is None or i >= span.first + span.length:
                    k += 1
                    continue
                self._spans[span.first] = span
                bisect.insort(firsts, span.first)
            end = bisect.bisect_left(ids, span.first + span.length, k)  # the row's ids: a slice
            groups.append((span, ids[k:end]))
            k = end
        return groups

    def _delete_rows(self, firsts: list[int]) -> None:
        if firsts:
            self.db.executemany("DELETE FROM batch WHERE first = ?", [(f,) for f in firsts])

    def _compact(self) -> None:
        """Rewrite the rows acknowledged in part without those messages (else sent again)."""
        if not self._acked:
            return
        with self._transaction():
            for first, acked in self._acked.items():
                kept = [(t, p) for i, t, p in self._read_row(first) if i not in acked]
                self.db.execute("DELETE FROM batch WHERE first = ?", (first,))
                if kept:  # renumbered within the row's own ids: the order stays
                    self.db.execute(INSERT, (first, len(kept), *pack(kept)))
        self._acked.clear()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def close(self) -> None:
        """Forget what was acknowledged, checkpoint, close the database and release the lock."""
        with suppress(sqlite3.Error):
            self._compact()
        with suppress(sqlite3.Error):
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.db.close()
        os.close(self._lock_fd)
