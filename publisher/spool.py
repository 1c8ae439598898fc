"""On-disk store-and-forward queue (SQLite WAL): put, oldest-first read, delete on ack, size cap.

Every message is committed here before it is published and deleted only when the broker has
acknowledged it, so a crash (even SIGKILL) loses nothing that was committed. Ids come from
AUTOINCREMENT, so they are never reused and their order is the publication order. The spool
also keeps the last `seq` handed out, so sample numbers keep growing across restarts.
"""

from __future__ import annotations

import fcntl
import functools
import json
import logging
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Literal

log = logging.getLogger(__name__)

ROW_OVERHEAD_BYTES = 32  # rough per-row cost of the table and its key, for the size cap
_SCHEMA = """
CREATE TABLE IF NOT EXISTS queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    size INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""

_COUNT_RANGE = "SELECT count(*), coalesce(sum(size), 0) FROM queue WHERE id BETWEEN ? AND ?"
_DELETE_RANGE = "DELETE FROM queue WHERE id BETWEEN ? AND ?"
_COUNT_LIST = (
    "SELECT count(*), coalesce(sum(size), 0) FROM queue"
    " WHERE id IN (SELECT value FROM json_each(?))"
)
_DELETE_LIST = "DELETE FROM queue WHERE id IN (SELECT value FROM json_each(?))"
# SQLite 3.35+ deletes and reports the sizes freed in one statement.
_RETURNING = sqlite3.sqlite_version_info >= (3, 35, 0)
_RETURN_SIZE = " RETURNING size"
_INSERT_ROWS_MAX = 300  # 900 parameters per statement: below every SQLite's limit (999)

Row = tuple[int, str, bytes]


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
        totals = self.db.execute("SELECT count(*), coalesce(sum(size), 0) FROM queue").fetchone()
        depth, size = totals
        self.depth: int = depth
        self.bytes: int = size
        self.dropped = 0  # since this process started
        row = self.db.execute("SELECT value FROM meta WHERE key = 'last_seq'").fetchone()
        self.last_seq: int = row[0] if row else -1
        self.last_id = self._max_id()
        self._recent: list[Row] = []  # the rows of the last put still queued, to peek for free

    def _max_id(self) -> int:
        """The highest id ever given (AUTOINCREMENT keeps it in sqlite_sequence)."""
        row = self.db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'queue'").fetchone()
        return int(row[0]) if row else 0

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
            db.executescript(_SCHEMA)
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def put(
        self,
        items: Sequence[tuple[str, bytes]],
        last_seq: int | None = None,
        acked: Sequence[int] = (),
    ) -> int:
        """Commit messages and the last seq used, and delete `acked` ids, in one transaction.

        Returns how many of the oldest were dropped to keep under the size cap.
        """
        params: list[object] = []
        added = 0
        for topic, payload in items:
            size = len(topic) + len(payload) + ROW_OVERHEAD_BYTES
            params += (topic, payload, size)
            added += size
        with self._transaction():
            removed, removed_bytes = self._delete(sorted(set(acked)))
            last_id = self._insert(params)
            if last_seq is not None:
                self.db.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('last_seq', ?)", (last_seq,)
                )
            size = self.bytes - removed_bytes + added
            dropped, freed, dropped_up_to = self._drop_oldest(size - self.max_bytes)
        self.last_id = last_id
        # AUTOINCREMENT ids within one transaction are consecutive.
        first_id = last_id - len(items) + 1
        self._recent = [
            (first_id + i, t, p) for i, (t, p) in enumerate(items) if first_id + i > dropped_up_to
        ]
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

    def _insert(self, params: list[object]) -> int:
        """Insert rows given as flat (topic, payload, size) triples; the highest id after."""
        # One statement of many rows: a statement per row costs more than the row itself.
        step = _INSERT_ROWS_MAX * 3
        last_id = self.last_id
        for start in range(0, len(params), step):
            chunk = params[start : start + step]
            last_id = self.db.execute(_insert_sql(len(chunk) // 3), chunk).lastrowid or last_id
        return last_id

    def _drop_oldest(self, excess: int) -> tuple[int, int, int]:
        """Delete the oldest rows until `excess` bytes are freed; (rows, bytes, last id gone)."""
        if excess <= 0:
            return 0, 0, 0
        count = freed = last_id = 0
        for row_id, size in self.db.execute("SELECT id, size FROM queue ORDER BY id"):
            count, freed, last_id = count + 1, freed + size, row_id
            if freed >= excess:
                break
        self.db.execute("DELETE FROM queue WHERE id <= ?", (last_id,))
        return count, freed, last_id

    def peek(self, after_id: int = 0, limit: int = 100) -> list[Row]:
        """The oldest messages with an id above `after_id`, oldest first."""
        recent = self._recent
        if recent and after_id >= recent[0][0] - 1:  # all wanted rows were written last: no read
            return [row for row in recent if row[0] > after_id][:limit]
        cursor = self.db.execute(
            "SELECT id, topic, payload FROM queue WHERE id > ? ORDER BY id LIMIT ?",
            (after_id, limit),
        )
        return [(i, t, bytes(p)) for i, t, p in cursor]

    def delete(self, ids: Iterable[int]) -> int:
        """Remove acknowledged messages (ids already gone are ignored); returns how many went."""
        id_list = sorted(set(ids))
        with self._transaction():
            removed, freed = self._delete(id_list)
        self.depth -= removed
        self.bytes -= freed
        if self._recent and id_list and id_list[-1] >= self._recent[0][0]:
            gone = set(id_list)
            self._recent = [row for row in self._recent if row[0] not in gone]
        return removed

    def _delete(self, ids: Sequence[int]) -> tuple[int, int]:
        """Delete ids given in ascending order; acknowledged ids are mostly one range."""
        if not ids:
            return 0, 0
        if ids[-1] - ids[0] + 1 == len(ids):
            params: tuple[object, ...] = (ids[0], ids[-1])
            count_sql, delete_sql = _COUNT_RANGE, _DELETE_RANGE
        else:
            params = (json.dumps(list(ids)),)
            count_sql, delete_sql = _COUNT_LIST, _DELETE_LIST
        if _RETURNING:
            sizes = self.db.execute(delete_sql + _RETURN_SIZE, params).fetchall()
            return len(sizes), sum(size for (size,) in sizes)
        removed, freed = self.db.execute(count_sql, params).fetchone()
        if removed:
            self.db.execute(delete_sql, params)
        return int(removed), int(freed)

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
        """Checkpoint, close the database and release the lock."""
        with suppress(sqlite3.Error):
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.db.close()
        os.close(self._lock_fd)


@functools.lru_cache(maxsize=64)
def _insert_sql(rows: int) -> str:
    """`INSERT` of `rows` rows (a host's interface count: a few distinct values)."""
    values = ",".join(["(?, ?, ?)"] * rows)  # placeholders only: the values are bound
    return f"INSERT INTO queue (topic, payload, size) VALUES {values}"  # noqa: S608
