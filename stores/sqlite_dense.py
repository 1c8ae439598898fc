"""Which samples of a batch the SQLite store writes as chunks, and their columns.

A series qualifies when the batch holds at least `chunk_min` of its samples, all newer than
anything stored for it (latest.ts), none older than raw retention, and no two at the same
time. The others, and every sample of a batch too small to bother, go the raw-row way.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter, itemgetter
from typing import TypeVar

import numpy as np

from schemas import COUNTER_NAMES, RATE_NAMES, InterfaceSample
from stores.buckets import to_ms
from stores.sqlite_chunks import (
    DELTA_NAMES,
    Cols,
    floats,
    ints,
    select,
    set_delta,
    sort_by_series,
)
from stores.sqlite_rows import MetaKey

_TOP_NAMES: tuple[str, ...] = (
    "host", "iface", "ts", "seq", "interval_s", *RATE_NAMES, *COUNTER_NAMES, "delta",
    "boot_id", "is_up", "oper_state", "speed_mbps", "mtu", "mac", "kind",
)  # fmt: skip
"""What _columns reads of a sample's __dict__; the tail is a stores.sqlite_rows.MetaKey."""
_TOP = itemgetter(*_TOP_NAMES)
_DICT = attrgetter("__dict__")
_KEY = itemgetter("host", "iface")
_DELTA_AT = _TOP_NAMES.index("delta")
_DELTAS = itemgetter(*COUNTER_NAMES)


@dataclass(frozen=True, slots=True)
class Dense:
    """Samples to chunk: their columns sorted by (sid, ts), and the newest sample per series."""

    cols: Cols
    newest: dict[int, tuple[int, InterfaceSample]]


BULK = 2048
"""From this many samples in a batch, every sample is read into columns in one pass, its keys
included: a separate first pass over a big batch cost as much again in cache misses. Smaller
batches (live ingestion) take their keys first and columns only of the series that qualify."""

Ensure = Callable[[Iterable[tuple[str, str]]], None]
"""Creates the series ids of (host, iface) keys that have none yet."""


def split(
    conn: sqlite3.Connection,
    samples: Sequence[InterfaceSample],
    series: dict[tuple[str, str], int],
    ensure: Ensure,
    meta_id: Callable[[MetaKey], int],
    oldest: int,
    chunk_min: int,
) -> tuple[Dense | None, Sequence[InterfaceSample]]:
    """(the samples to chunk, the rest); afterwards `series` knows every (host, iface)."""
    if chunk_min <= 0 or len(samples) < BULK:
        keys = [_KEY(s.__dict__) for s in samples]
        ensure(keys)
        if chunk_min <= 0 or len(samples) < chunk_min:
            return None, samples
        counts = Counter(keys)
        wanted = {key for key, n in counts.items() if n >= chunk_min}
        if not wanted:
            return None, samples
        index: Sequence[int] = range(len(samples))
        if len(wanted) < len(counts):
            index = [i for i, key in enumerate(keys) if key in wanted]
        cols = _columns([samples[i] for i in index], series, ensure, meta_id)
        cols["idx"] = np.asarray(index, np.intp)[cols["idx"]]
    else:
        cols = _columns(samples, series, ensure, meta_id)
        sids, counts_ = np.unique(cols["sid"], return_counts=True)
        if not (counts_ >= chunk_min).any():
            return None, samples
        if not (counts_ >= chunk_min).all():
            cols = select(cols, np.isin(cols["sid"], sids[counts_ >= chunk_min]))
    return _settle(conn, samples, sort_by_series(cols), oldest)


def _settle(
    conn: sqlite3.Connection, samples: Sequence[InterfaceSample], cols: Cols, oldest: int
) -> tuple[Dense | None, Sequence[InterfaceSample]]:
    """Columns of candidate series sorted by (sid, ts): drop the refused, split off the rest."""
    bad = _refused(conn, cols, oldest)
    if bad:
        cols = select(cols, ~np.isin(cols["sid"], list(bad)))
    if not len(cols["ts"]):
        return None, samples
    sid, ts, idx = cols["sid"], cols["ts"], cols.pop("idx")
    rest: Sequence[InterfaceSample] = []
    if len(idx) < len(samples):
        chunked = np.zeros(len(samples), bool)
        chunked[idx] = True
        rest = [s for s, c in zip(samples, chunked.tolist(), strict=True) if not c]
    last = np.append(np.flatnonzero(sid[1:] != sid[:-1]), len(sid) - 1)
    newest = {
        s: (t, samples[i])
        for s, t, i in zip(sid[last].tolist(), ts[last].tolist(), idx[last].tolist(), strict=True)
    }
    return Dense(cols, newest), rest


def _refused(conn: sqlite3.Connection, cols: Cols, oldest: int) -> set[int]:
    """Series whose samples cannot be chunks: repeats, too old, or not newer than stored."""
    sid, ts = cols["sid"], cols["ts"]
    same = (sid[1:] == sid[:-1]) & (ts[1:] == ts[:-1])
    bad = set(sid[1:][same].tolist()) | set(sid[ts < oldest].tolist())
    firsts = np.concatenate(([0], np.flatnonzero(sid[1:] != sid[:-1]) + 1))
    first_ts = dict(zip(sid[firsts].tolist(), ts[firsts].tolist(), strict=True))
    marks = ",".join("?" * len(first_ts))
    for s, newest in conn.execute(
        f"SELECT sid, ts FROM latest WHERE sid IN ({marks})",  # noqa: S608
        tuple(first_ts),
    ):
        if first_ts[s] <= newest:
            bad.add(s)
    return bad


_BLOCK = 1024
"""Samples read at a time: every field of a model in one pass (one pass per field over a
whole batch missed the cache on nearly every model), then a block's tuples turned into
columns. 1,024 against 256: 1.46 against 1.72 us a sample (fewer per-block conversions)."""


def _columns(
    samples: Sequence[InterfaceSample],
    series: dict[tuple[str, str], int],
    ensure: Ensure,
    meta_id: Callable[[MetaKey], int],
) -> Cols:
    """Columns of the samples in batch order, plus "idx" (each one's index in `samples`)."""
    times: dict[datetime, int] = {}
    metas: dict[MetaKey, int] = {}
    blocks = [
        _block(samples[i : i + _BLOCK], series, ensure, times, metas, meta_id)
        for i in range(0, len(samples), _BLOCK)
    ]
    cols = {name: np.concatenate([b[name] for b in blocks]) for name in blocks[0]}
    cols["idx"] = np.arange(len(samples))
    return cols


def _block(
    samples: Sequence[InterfaceSample],
    series: dict[tuple[str, str], int],
    ensure: Ensure,
    times: dict[datetime, int],
    metas: dict[MetaKey, int],
    meta_id: Callable[[MetaKey], int],
) -> Cols:
    # A tuple per sample, turned into columns: one lookup of the model's __dict__ per sample.
    # map() over C callables instead of comprehensions: no Python frame per sample.
    values = list(zip(*map(_TOP, map(_DICT, samples)), strict=True))
    keys = list(zip(values[0], values[1], strict=True))
    metakeys = list(zip(*values[_DELTA_AT + 1 :], strict=True))
    cols: Cols = {
        "sid": ints("q", _lookup(series, keys, ensure)),
        "ts": ints(
            "q", _lookup(times, values[2], lambda new: times.update((t, to_ms(t)) for t in new))
        ),
        "seq": ints("q", values[3]),
        "interval_s": floats(values[4]),
        "meta": ints(
            "q", _lookup(metas, metakeys, lambda new: metas.update((k, meta_id(k)) for k in new))
        ),
    }
    for k, name in enumerate(RATE_NAMES, start=5):
        cols[name] = floats(values[k])
    for k, name in enumerate(COUNTER_NAMES, start=5 + len(RATE_NAMES)):
        cols[name] = ints("Q", values[k])
    deltas = zip(*map(_DELTAS, map(_DICT, values[_DELTA_AT])), strict=True)
    for name, column in zip(DELTA_NAMES, deltas, strict=True):
        set_delta(cols, name, column)
    return cols


K = TypeVar("K", bound=Hashable)


def _lookup(known: dict[K, int], keys: Sequence[K], add: Callable[[set[K]], object]) -> list[int]:
    """known[k] for each of the keys; `add` first puts the missing ones into `known`."""
    try:
        return list(map(known.__getitem__, keys))
    except KeyError:  # new keys: rare after a batch's first block
        add(set(keys) - known.keys())
        return list(map(known.__getitem__, keys))
