"""Which samples of a batch the SQLite store writes as chunks, and their columns.

A series qualifies when the batch holds at least `chunk_min` of its samples, all newer than
anything stored for it (latest.ts), none older than raw retention, and no two at the same
time. The others, and every sample of a batch too small to bother, go the raw-row way.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter

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
_DELTA_AT = _TOP_NAMES.index("delta")
_DELTAS = itemgetter(*COUNTER_NAMES)


@dataclass(frozen=True, slots=True)
class Dense:
    """Samples to chunk: their columns sorted by (sid, ts), and the newest sample per series."""

    cols: Cols
    newest: dict[int, tuple[int, InterfaceSample]]


def split(
    conn: sqlite3.Connection,
    samples: Sequence[InterfaceSample],
    keys: Sequence[tuple[str, str]],
    series: dict[tuple[str, str], int],
    meta_id: Callable[[MetaKey], int],
    oldest: int,
    chunk_min: int,
) -> tuple[Dense | None, Sequence[InterfaceSample]]:
    """(the samples to chunk, the rest): `keys` are the samples' (host, iface), all of which
    `series` knows."""
    if chunk_min <= 0 or len(samples) < chunk_min:
        return None, samples
    counts = Counter(keys)
    wanted = {key for key, n in counts.items() if n >= chunk_min}
    if not wanted:
        return None, samples
    picked = samples
    if len(wanted) < len(counts):
        picked = [s for s, key in zip(samples, keys, strict=True) if key in wanted]
    cols = sort_by_series(_columns(picked, series, meta_id))
    bad = _refused(conn, cols, oldest)
    rest: Sequence[InterfaceSample] = []
    if len(wanted) < len(counts) or bad:
        sids = {series[key] for key in wanted} - bad
        rest = [s for s, key in zip(samples, keys, strict=True) if series[key] not in sids]
    if bad:
        cols = select(cols, ~np.isin(cols["sid"], list(bad)))
    if not len(cols["ts"]):
        return None, samples
    sid, ts, idx = cols["sid"], cols["ts"], cols.pop("idx")
    last = np.append(np.flatnonzero(sid[1:] != sid[:-1]), len(sid) - 1)
    newest = {
        s: (t, picked[i])
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


_BLOCK = 256
"""Samples read at a time: every field of a block while its models are still in the CPU's
cache (one pass per field over a whole batch missed the cache on nearly every model)."""


def _columns(
    samples: Sequence[InterfaceSample],
    series: dict[tuple[str, str], int],
    meta_id: Callable[[MetaKey], int],
) -> Cols:
    """Columns of the samples in batch order, plus "idx" (each one's index in `samples`)."""
    times: dict[datetime, int] = {}
    metas: dict[MetaKey, int] = {}
    blocks = [
        _block(samples[i : i + _BLOCK], series, times, metas, meta_id)
        for i in range(0, len(samples), _BLOCK)
    ]
    cols = {name: np.concatenate([b[name] for b in blocks]) for name in blocks[0]}
    cols["idx"] = np.arange(len(samples))
    return cols


def _block(
    samples: Sequence[InterfaceSample],
    series: dict[tuple[str, str], int],
    times: dict[datetime, int],
    metas: dict[MetaKey, int],
    meta_id: Callable[[MetaKey], int],
) -> Cols:
    # A tuple per sample, turned into columns: one lookup of the model's __dict__ per sample.
    values = list(zip(*[_TOP(s.__dict__) for s in samples], strict=True))
    cols: Cols = {
        "sid": ints("q", [series[k] for k in zip(values[0], values[1], strict=True)]),
        "ts": ints(
            "q", [times[t] if t in times else times.setdefault(t, to_ms(t)) for t in values[2]]
        ),
        "seq": ints("q", values[3]),
        "interval_s": floats(values[4]),
        "meta": ints(
            "q",
            [
                metas[k] if k in metas else metas.setdefault(k, meta_id(k))
                for k in zip(*values[_DELTA_AT + 1 :], strict=True)
            ],
        ),
    }
    for k, name in enumerate(RATE_NAMES, start=5):
        cols[name] = floats(values[k])
    for k, name in enumerate(COUNTER_NAMES, start=5 + len(RATE_NAMES)):
        cols[name] = ints("Q", values[k])
    deltas = zip(*[_DELTAS(d.__dict__) for d in values[_DELTA_AT]], strict=True)
    for name, column in zip(DELTA_NAMES, deltas, strict=True):
        set_delta(cols, name, column)
    return cols
