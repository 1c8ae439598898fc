"""Raw samples as column chunks: the SQLite store's layout for dense batches (numpy, no SQL).

A batch holding many samples of a series (a bulk load, a publisher's spool replayed after an
outage) is stored as one `chunk` row per series and run of samples within an hour instead of a
row per sample: a row per sample costs SQLite ~2.5-3 us to insert and Python ~1 us to bind,
whatever its width, so a week of 200 series took minutes. Here each batch's values go
into numpy columns once, and the chunks are slices of one record array.

Blob: a version byte, one code byte per field of FIELDS (its width, and whether a null mask
follows), then the records (little-endian, packed). Integer fields are stored in the smallest
unsigned width that holds the batch's values (ts relative to the chunk's first sample), floats
as float64 with NaN for null (the schemas refuse NaN, so it never stands for a value), deltas
with a one-byte null flag when the batch has any null. A rate that is exactly its delta /
interval_s in every sample of the batch (as publishers compute it) is not stored at all.
"""

from __future__ import annotations

from array import array
from collections.abc import Collection, Sequence
from itertools import pairwise
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from schemas import COUNTER_NAMES, RATE_NAMES
from stores.buckets import HOUR_MS
from stores.sqlite_rows import RAW_COLUMNS, fit, plus

Cols = dict[str, npt.NDArray[Any]]
"""Columns of samples, one array per name of COLUMNS (plus "sid"), all the same length."""

DELTA_NAMES: tuple[str, ...] = tuple(f"d_{n}" for n in COUNTER_NAMES)
_INTS: tuple[str, ...] = ("ts", "seq", "meta", *COUNTER_NAMES)
_FLOATS: tuple[str, ...] = ("interval_s", *RATE_NAMES)
FIELDS: tuple[str, ...] = (*_INTS, *_FLOATS, *DELTA_NAMES)
"""What a chunk stores of each sample; its series and the first sample's time are the row's."""
NULL = "null_"
"""Prefix of a delta's null mask in Cols (True where the delta is null)."""
VERSION = 1
_FLOAT = 9
_DERIVED = 0
"""Code of a rate not stored: it is its delta / interval_s, as the publisher computes it."""
_HAS_NULLS = 0x10
_I63 = 2**63
_WIDTHS = ((0xFF, 1), (0xFFFF, 2), (0xFFFF_FFFF, 4))


def _width(top: int) -> int:
    for limit, width in _WIDTHS:
        if top <= limit:
            return width
    return 8


def _dtype(codes: bytes) -> np.dtype[Any]:
    """The record layout of a header's field codes."""
    fields: list[tuple[str, str]] = []
    masks: list[tuple[str, str]] = []
    for name, code in zip(FIELDS, codes, strict=True):
        width = code & 0x0F
        if code == _DERIVED:
            continue
        fields.append((name, "<f8" if width == _FLOAT else f"<u{width}"))
        if code & _HAS_NULLS:
            masks.append((NULL + name, "u1"))
    return np.dtype(fields + masks)


def _starts(sid: npt.NDArray[np.int64], key: npt.NDArray[np.int64]) -> npt.NDArray[np.intp]:
    """Index of the first row of each run of equal (sid, key) in columns sorted by sid."""
    cut = (sid[1:] != sid[:-1]) | (key[1:] != key[:-1])
    return np.concatenate(([0], np.flatnonzero(cut) + 1)).astype(np.intp)


def runs(sid: npt.NDArray[np.int64], ts: npt.NDArray[np.int64]) -> npt.NDArray[np.intp]:
    """Start index of each chunk of samples sorted by (sid, ts): a new series or a new hour."""
    return _starts(sid, ts // HOUR_MS)


def pack(cols: Cols, starts: npt.NDArray[np.intp]) -> list[tuple[int, int, int, int, bytes]]:
    """(sid, t0, t1, n, blob) of each chunk of columns sorted by (sid, ts), cut at `starts`."""
    size = len(cols["ts"])
    ends = np.append(starts[1:], size)
    lengths = ends - starts
    t0 = cols["ts"][starts]
    values: Cols = {**cols, "ts": cols["ts"] - np.repeat(t0, lengths)}
    codes = bytearray()
    for name in FIELDS:
        column = values[name]
        if name in _FLOATS:
            codes.append(_DERIVED if name in RATE_NAMES and _derivable(cols, name) else _FLOAT)
            continue
        code = _width(int(column.max())) if size else 1
        if name in DELTA_NAMES and cols[NULL + name].any():
            code |= _HAS_NULLS
        codes.append(code)
    dtype = _dtype(bytes(codes))
    records = np.empty(size, dtype=dtype)
    for name in dtype.names or ():
        records[name] = values[name]
    head = bytes([VERSION]) + bytes(codes)
    data = records.tobytes()
    item = dtype.itemsize
    return [
        (sid, first, last, end - start, head + data[start * item : end * item])
        for sid, first, last, start, end in zip(
            cols["sid"][starts].tolist(),
            t0.tolist(),
            cols["ts"][ends - 1].tolist(),
            starts.tolist(),
            ends.tolist(),
            strict=True,
        )
    ]


def _rate(cols: Cols, name: str) -> npt.NDArray[np.float64]:
    """A rate as the publisher makes it: its delta / interval_s (null when either is)."""
    delta = "d_" + name.removesuffix("_per_sec")
    interval = cols["interval_s"]
    unknown = cols[NULL + delta] | np.isnan(interval)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = cols[delta].astype(np.float64) / interval
    return np.where(unknown, np.nan, rate)


def _derivable(cols: Cols, name: str) -> bool:
    """Whether every value of a rate column is what _rate() computes (then it is not stored)."""
    return bool(np.array_equal(cols[name], _rate(cols, name), equal_nan=True))


AGG_FIELDS: frozenset[str] = frozenset(
    ("ts", "interval_s", *DELTA_NAMES[:8], "rx_bytes_per_sec", "tx_bytes_per_sec")
)
"""What aggregate() reads of chunked samples (with "sid" and the null masks): unpack() of
these alone skips converting two thirds of the columns."""


def unpack(chunks: Sequence[tuple[int, int, bytes]], fields: Collection[str] = FIELDS) -> Cols:
    """Columns of the (sid, t0, blob) chunks, in the order given (the same layout as pack's);
    of `fields` only (and "sid", and the masks of deltas among them) if given."""
    groups: dict[bytes, list[int]] = {}
    for k, (_sid, _t0, blob) in enumerate(chunks):
        if blob[0] != VERSION:
            raise ValueError(f"chunk format {blob[0]} is not {VERSION}: written by a newer ifpulse")
        groups.setdefault(blob[: 1 + len(FIELDS)], []).append(k)
    parts: list[tuple[npt.NDArray[np.intp], Cols]] = []
    for head, members in groups.items():
        dtype = _dtype(head[1:])
        skip = len(head)  # memoryview slices: each blob is copied once, by join()
        body = b"".join([memoryview(chunks[k][2])[skip:] for k in members])
        lengths = [(len(chunks[k][2]) - len(head)) // dtype.itemsize for k in members]
        part = _decoded(np.frombuffer(body, dtype=dtype), fields)
        part["sid"] = np.repeat(np.array([chunks[k][0] for k in members], np.int64), lengths)
        t0 = np.array([chunks[k][1] for k in members], np.int64)
        part["ts"] = part["ts"] + np.repeat(t0, lengths)
        parts.append((np.repeat(np.array(members, np.intp), lengths), part))
    if len(parts) == 1:
        return parts[0][1]
    # Chunks of other layouts were decoded apart: put their rows back in the chunks' order.
    order = np.argsort(np.concatenate([p[0] for p in parts]), kind="stable")
    return {name: np.concatenate([p[1][name] for p in parts])[order] for name in parts[0][1]}


def _decoded(records: npt.NDArray[Any], fields: Collection[str]) -> Cols:
    names = records.dtype.names or ()
    out: Cols = {}
    for name in _INTS:
        if name in fields:
            out[name] = records[name].astype(np.uint64 if name in COUNTER_NAMES else np.int64)
    for name in DELTA_NAMES:
        if name in fields:
            out[name] = records[name].astype(np.uint64)
            mask = NULL + name
            nulls = records[mask].astype(bool) if mask in names else None
            out[mask] = np.zeros(len(records), bool) if nulls is None else nulls
    for name in _FLOATS:
        if name in fields:
            out[name] = records[name].astype(np.float64) if name in names else _rate(out, name)
    return out


def select(cols: Cols, keep: npt.NDArray[np.bool_] | npt.NDArray[np.intp]) -> Cols:
    """The rows of `cols` a mask or index array picks."""
    return {name: column[keep] for name, column in cols.items()}


def sort_by_series(cols: Cols) -> Cols:
    """The columns ordered by (sid, ts), stable."""
    sid, ts = cols["sid"], cols["ts"]
    later = sid[1:] > sid[:-1]
    if (later | ((sid[1:] == sid[:-1]) & (ts[1:] >= ts[:-1]))).all():
        return cols  # chunks read in (sid, t0) order mostly are: no copy of every column
    return select(cols, np.lexsort((ts, sid)))


def raw_rows(cols: Cols) -> list[tuple[Any, ...]]:
    """The samples as raw-table rows (RAW_COLUMNS order, unencoded Python values, None for null)."""
    lists = {name: column.tolist() for name, column in cols.items()}
    for name in DELTA_NAMES:
        nulls = cols[NULL + name]
        if nulls.any():
            lists[name] = [
                None if z else v for v, z in zip(lists[name], nulls.tolist(), strict=True)
            ]
    for name in _FLOATS:
        lists[name] = [None if v != v else v for v in lists[name]]  # NaN is null
    return list(zip(*(lists[name] for name in RAW_COLUMNS), strict=True))


def from_raw_rows(rows: Sequence[Sequence[Any]]) -> Cols:
    """Columns of raw-table rows as stored (RAW_COLUMNS order, two's complement, NULLs)."""
    values = dict(zip(RAW_COLUMNS, zip(*rows, strict=True), strict=True))
    cols: Cols = {name: ints("q", values[name]) for name in ("sid", "ts", "seq", "meta")}
    for name in COUNTER_NAMES:
        # Counters of 2**63 and more are stored negative: the same 64 bits, read unsigned.
        cols[name] = ints("q", values[name]).view(np.uint64)
    for name in _FLOATS:
        cols[name] = floats(values[name])
    for name in DELTA_NAMES:
        set_delta(cols, name, values[name], stored=True)
    return cols


# Python numbers to numpy through the array module: about a third cheaper per value than
# np.array() over the same tuple (sequence discovery and per-item dtype checks).
def ints(code: str, values: Sequence[int]) -> npt.NDArray[Any]:
    """An int64 ("q") or uint64 ("Q") array of Python integers."""
    return np.frombuffer(array(code, values), np.int64 if code == "q" else np.uint64)


def floats(values: Sequence[float | None]) -> npt.NDArray[np.float64]:
    """A float64 array of Python floats, NaN for None (the chunks' null)."""
    # Trying first: `None in values` compares every float with None, a quarter of the cost.
    try:
        return np.frombuffer(array("d", cast(Sequence[float], values)), np.float64)
    except TypeError:
        if None not in values:
            raise
        return np.array(values, np.float64)


def set_delta(cols: Cols, name: str, column: Sequence[Any], stored: bool = False) -> None:
    """Put a delta column and its null mask into `cols` (`stored`: two's complement ints)."""
    size = len(column)
    code = "q" if stored else "Q"
    try:  # no None, the common case: one conversion instead of a scan for None first
        cols[name] = ints(code, column)
        cols[NULL + name] = np.zeros(size, bool)
    except TypeError:
        if column.count(None) == size:  # a counter the publisher does not track
            values = [0] * size
            cols[NULL + name] = np.ones(size, bool)
        else:
            values = [0 if v is None else v for v in column]
            cols[NULL + name] = np.array([v is None for v in column], bool)
        cols[name] = ints(code, values)
    if stored:
        cols[name] = cols[name].view(np.uint64)


def sql_floor(ts: npt.NDArray[np.int64], step: int) -> npt.NDArray[np.int64]:
    """SQLite's `ts / step * step`: integer division truncates toward zero."""
    q = np.where(ts < 0, -(-ts // step), ts // step)
    return np.asarray(q * step, dtype=np.int64)


def aggregate(cols: Cols, step: int) -> list[tuple[Any, ...]]:
    """(sid, bucket, RAW_AGG...) per series and bucket of columns sorted by (sid, ts).

    The same values as stores.sqlite_rows.RAW_AGG over raw rows: a delta sum is null when
    every delta is, and deltas >= 2**63 (never real) add 0; a rate's sum and max are null when
    every rate is, and its count counts the others.
    """
    if not len(cols["ts"]):
        return []
    sid, bucket = cols["sid"], sql_floor(cols["ts"], step)
    starts = _starts(sid, bucket)
    n = np.diff(np.append(starts, len(sid)))
    sums = {name: _delta_sum(cols, name, starts) for name in DELTA_NAMES[:8]}
    return list(
        zip(
            sid[starts].tolist(),
            bucket[starts].tolist(),
            n.tolist(),
            *(_nullable(*sums[f"d_{name}"]) for name in COUNTER_NAMES[:4]),
            _both(sums["d_rx_errors"][0], sums["d_tx_errors"][0]),
            _both(sums["d_rx_dropped"][0], sums["d_tx_dropped"][0]),
            *_rate_agg(cols["rx_bytes_per_sec"], starts),
            *_rate_agg(cols["tx_bytes_per_sec"], starts),
            strict=True,
        )
    )


Sums = npt.NDArray[np.uint64] | list[int | float]
"""Per-bucket sums: an array while every sum fits 63 bits for sure, else Python numbers."""


def _delta_sum(cols: Cols, name: str, starts: npt.NDArray[Any]) -> tuple[Sums, npt.NDArray[Any]]:
    """Per bucket: the sum of its non-null deltas below 2**63 (0 for none), and whether it
    had any non-null delta."""
    values, nulls = cols[name], cols[NULL + name]
    kept = np.where(nulls | (values >= np.uint64(_I63)), np.uint64(0), values)
    present = np.add.reduceat((~nulls).astype(np.int64), starts) > 0
    top = int(kept.max())
    if top and top * len(kept) >= _I63:
        # A sum that might not fit 64 bits: Python integers, group by group (never in practice),
        # a float from 2**63 on, as SQL's sums are (stores.sqlite_rows.run_sums).
        bounds = np.append(starts, len(kept)).tolist()
        return [fit(sum(kept[a:b].tolist())) for a, b in pairwise(bounds)], present
    return np.add.reduceat(kept, starts), present


def _nullable(sums: Sums, present: npt.NDArray[Any]) -> list[int | float | None]:
    """The sums, None for a bucket without any non-null delta (SQL's sum() of no values)."""
    values: list[int | float] = sums.tolist() if isinstance(sums, np.ndarray) else sums
    if present.all():  # the common case: no per-bucket pass
        return cast(list[int | float | None], values)
    return [v if p else None for v, p in zip(values, present.tolist(), strict=True)]


def _both(rx: Sums, tx: Sums) -> list[int | float]:
    """rx + tx per bucket, as SQLite's `+` of the two sums gives it (RAW_AGG's errors, drops)."""
    if isinstance(rx, np.ndarray) and isinstance(tx, np.ndarray):
        total = rx + tx  # each below 2**63, so no wrap in 64 bits
        if not len(total) or int(total.max()) < _I63:
            return cast(list[int | float], total.tolist())
    return [plus(a, b) for a, b in zip(list(rx), list(tx), strict=True)]


def _rate_agg(
    rates: npt.NDArray[np.float64], starts: npt.NDArray[Any]
) -> tuple[list[float | None], list[int], list[float | None]]:
    nulls = np.isnan(rates)
    counts = np.add.reduceat((~nulls).astype(np.int64), starts)
    total = np.add.reduceat(np.where(nulls, 0.0, rates), starts).tolist()
    top = np.maximum.reduceat(np.where(nulls, -np.inf, rates), starts).tolist()
    count = counts.tolist()
    if counts.all():
        return total, count, top
    return (
        [t if c else None for t, c in zip(total, count, strict=True)],
        count,
        [t if c else None for t, c in zip(top, count, strict=True)],
    )
