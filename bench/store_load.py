"""Load N days x H hosts x I interfaces of 10 s samples into a store, then time sparklines.

    python bench/store_load.py                       # 7 days, 20 hosts, 10 interfaces
    python bench/store_load.py --days 1 --hosts 5    # smaller
Only write_batch()/maintain() time counts as load time; building the samples is reported apart.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from schemas import Deltas, InterfaceKind, InterfaceSample, OperState
from stores import Store, open_store
from stores.steps import PERIODS, choose_step

INTERVAL = 10


_FIELDS_SET = frozenset(InterfaceSample.model_fields)
_DELTAS: dict[tuple[int, int], Deltas] = {}


def fake_sample(host: str, iface: str, ts: datetime, n: int) -> InterfaceSample:
    """A realistic sample built without validation (the ingestor has validated already).

    Even model_construct() costs ~20 us; filling __dict__ directly keeps generation from
    dominating a 12-million-sample run.
    """
    rx, tx = 12_000 + n % 977, 3_000 + n % 211
    delta = _DELTAS.get((rx, tx))
    if delta is None:
        delta = _DELTAS[(rx, tx)] = Deltas(rx_bytes=rx, tx_bytes=tx, rx_packets=10, tx_packets=5)
    obj = InterfaceSample.__new__(InterfaceSample)
    fields = {
        "v": 1,
        "host": host,
        "iface": iface,
        "ts": ts,
        "seq": n,
        "boot_id": "0f2c7b1e-5b0c-4e8a-9d0e-1c2b3a4d5e6f",
        "interval_s": float(INTERVAL),
        "rx_bytes": 10**9 + n * rx,
        "tx_bytes": 10**9 + n * tx,
        "rx_packets": n * 10,
        "tx_packets": n * 5,
        "rx_errors": 0,
        "tx_errors": 0,
        "rx_dropped": n // 1000,
        "tx_dropped": 0,
        "multicast": 0,
        "collisions": 0,
        "delta": delta,
        "rx_bytes_per_sec": rx / INTERVAL,
        "tx_bytes_per_sec": tx / INTERVAL,
        "rx_packets_per_sec": 1.0,
        "tx_packets_per_sec": 0.5,
        "is_up": True,
        "oper_state": OperState.UP,
        "speed_mbps": 1000,
        "mtu": 1500,
        "mac": "52:54:00:12:34:56",
        "kind": InterfaceKind.ETHERNET,
    }
    object.__setattr__(obj, "__dict__", fields)
    object.__setattr__(obj, "__pydantic_fields_set__", _FIELDS_SET)
    object.__setattr__(obj, "__pydantic_extra__", None)
    object.__setattr__(obj, "__pydantic_private__", None)
    return obj


def batches(
    start: datetime, steps: int, hosts: int, ifaces: int, size: int
) -> Iterator[list[InterfaceSample]]:
    """Time-ordered batches of about `size` samples, as an ingestor would write them."""
    batch: list[InterfaceSample] = []
    names = [(f"host{h:03d}", f"eth{i}") for h in range(hosts) for i in range(ifaces)]
    for k in range(steps):
        ts = start + timedelta(seconds=k * INTERVAL)
        batch.extend(fake_sample(h, i, ts, k) for h, i in names)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def load(store: Store, args: argparse.Namespace, end: datetime) -> None:
    """Write everything, calling maintain() every few batches like the ingestor does."""
    steps = args.days * 86400 // INTERVAL
    start = end - timedelta(seconds=steps * INTERVAL)
    rows, write_s, maint_s, t0 = 0, 0.0, 0.0, time.perf_counter()
    slowest_write = slowest_maint = 0.0
    per_day: list[float] = []  # store time of each simulated day, to see it grow with the file
    for n, batch in enumerate(batches(start, steps, args.hosts, args.ifaces, args.batch)):
        w0 = time.perf_counter()
        store.write_batch(batch)
        w1 = time.perf_counter()
        if n % args.maintain_every == 0:
            store.maintain(start + (batch[-1].ts - start))
        w2 = time.perf_counter()
        write_s += w1 - w0
        maint_s += w2 - w1
        slowest_write, slowest_maint = max(slowest_write, w1 - w0), max(slowest_maint, w2 - w1)
        rows += len(batch)
        day = (batch[-1].ts - start) // timedelta(days=1)
        per_day.extend([0.0] * (day + 1 - len(per_day)))
        per_day[day] += w2 - w0
    wall = time.perf_counter() - t0
    print(f"rows            {rows:,}")
    print(f"write_batch     {write_s:.1f} s  ({rows / write_s:,.0f} rows/s)")
    print(f"maintain        {maint_s:.1f} s (during load)")
    slow_w, slow_m = slowest_write * 1000, slowest_maint * 1000
    print(f"slowest call    write_batch {slow_w:.0f} ms, maintain {slow_m:.0f} ms")
    print(f"store total     {write_s + maint_s:.1f} s  ({rows / (write_s + maint_s):,.0f} rows/s)")
    print(f"wall incl. gen  {wall:.1f} s")
    print("per day         " + " ".join(f"{t:.1f}" for t in per_day) + " s")
    t1 = time.perf_counter()
    backlog = getattr(store, "backlog", lambda now: 0)
    while backlog(end):
        store.maintain(end)
    store.maintain(end)
    print(f"maintain after  {time.perf_counter() - t1:.1f} s (rollup backlog + retention)")


def time_query(store: Store, end: datetime, period: str, iface: str | None, runs: int) -> str:
    """p50/p95 in ms of one sparkline query, repeated."""
    span = PERIODS[period]
    step = choose_step(span)
    took, buckets = [], 0
    for _ in range(runs):
        q0 = time.perf_counter()
        result = store.series("host000", iface, end - span, end, step)
        took.append((time.perf_counter() - q0) * 1000)
        buckets = len(result.total)
    took.sort()
    p95 = took[max(0, int(len(took) * 0.95) - 1)]
    what = iface or "host total + per-iface"
    return (
        f"{period:>4} {what:<22} step {step}  {buckets:4d} buckets  "
        f"p50 {statistics.median(took):6.1f} ms  p95 {p95:6.1f} ms"
    )


def main(argv: list[str]) -> int:
    """Parse flags, load, query, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--ifaces", type=int, default=10)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--maintain-every", type=int, default=20, help="batches")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--url", help="store URL (default: a fresh sqlite file in a temp dir)")
    parser.add_argument(
        "--sqlite-options", default="", help="query of the temp sqlite URL, e.g. chunk_min=0"
    )
    args = parser.parse_args(argv)
    print("command: python " + " ".join(["bench/store_load.py", *argv]))
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    with tempfile.TemporaryDirectory(prefix="ifpulse-bench-") as tmp:
        query = f"?{args.sqlite_options}" if args.sqlite_options else ""
        url = args.url or f"sqlite:///{Path(tmp) / 'bench.db'}{query}"
        store = open_store(url)
        try:
            load(store, args, end)
            if not args.url:
                size = sum(p.stat().st_size for p in Path(tmp).glob("bench.db*"))
                print(f"file size       {size / 1e6:,.0f} MB")
            for period, iface in (
                ("1h", "eth0"),
                ("6h", "eth0"),
                ("24h", "eth0"),
                ("30d", "eth0"),
                ("6h", None),
                ("24h", None),
            ):
                print(time_query(store, end, period, iface, args.runs))
        finally:
            store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
