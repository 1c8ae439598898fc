"""Scale-out: 1, 2 and 4 `ifpulse ingest` processes on one `$share` group drain one backlog.

    python bench/scale_out.py                          # 20,000 samples, influxd, 1/2/4 ingestors
    python bench/scale_out.py --samples 50000 --counts 1,2,4,8 --store sqlite
One mosquitto, one backlog: each group size has its own `$share/gN/...` sessions created
before the backlog is published, so the broker splits the same N messages among them. The
aggregate rate runs from the first received to N stored (sum of the ingestors' /metrics).
The count check reads the store back: every (host, iface, seq) exactly once, and the sum
of messages the ingestors received (more than N means redeliveries).
"""

from __future__ import annotations

import argparse
import contextlib
import shlex
import sys
import tempfile
from pathlib import Path

from common import (
    command_line,
    free_port,
    ifpulse,
    sigterm_as_interrupt,
    started_broker,
    started_influxd,
)
from ingest_throughput import SCHEME, Run, backlog, ingest_args, ingestors, session

from stores import open_store
from tests.integration.ingestor.helpers import FAR_FUTURE, FAR_PAST


def count_check(url: str) -> tuple[int, int]:
    """(rows stored, distinct (host, iface, seq)) read back through a fresh store."""
    store = open_store(url)
    try:
        rows = [(s.host, s.iface, s.seq) for s in store.samples(None, None, FAR_PAST, FAR_FUTURE)]
    finally:
        store.close()
    return len(rows), len(set(rows))


def main(argv: list[str]) -> int:
    """Drain one backlog with each group size; print rates, scaling and the count check."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20_000)
    parser.add_argument("--counts", default="1,2,4", help="ingestors per group")
    parser.add_argument("--store", choices=("influx", "sqlite"), default="influx")
    parser.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args(argv)
    sigterm_as_interrupt()
    counts = [int(c) for c in args.counts.split(",")]
    results: list[tuple[int, Run, tuple[int, int]]] = []
    with tempfile.TemporaryDirectory(prefix="ifpulse-bench-") as t, contextlib.ExitStack() as stack:
        tmp = Path(t)
        broker = started_broker(stack, tmp)
        influxd = None
        if args.store == "influx":
            influxd = started_influxd(stack, tmp)
        for n in counts:
            for k in range(n):
                session(broker, f"bench-g{n}-{k}", f"$share/g{n}/{SCHEME.sample_filter()}")
        size, _ = backlog(broker, args.samples)
        example = ""
        for n in counts:
            url = influxd.store_url(f"g{n}") if influxd else f"sqlite:///{tmp}/g{n}.db"
            ports = [free_port() for _ in range(n)]
            cmds = [
                ifpulse(*ingest_args(broker, url, f"bench-g{n}-{k}", p, args.batch_size, f"g{n}"))
                for k, p in enumerate(ports)
            ]
            example = shlex.join(cmds[-1][1:]).replace(t, "$TMP")
            run = ingestors(stack, cmds, ports, args.samples, tmp)
            results.append((n, run, count_check(url)))
    print(f"command: {command_line()}")
    print(f"backlog: {args.samples} samples of {size} B per group, QoS 1, store {args.store}")
    base = results[0][1].rate
    print(f"{'ingestors':>9} {'samples/s':>10} {'scaling':>8} {'received':>9} {'stored rows':>12} "
          f"{'distinct seq':>13} {'exactly once':>13}")  # fmt: skip
    for n, run, (rows, distinct) in results:
        ok = rows == distinct == args.samples and run.received == args.samples
        print(f"{n:>9} {run.rate:>10,.0f} {run.rate / base:>7.2f}x {run.received:>9,.0f} "
              f"{rows:>12,} {distinct:>13,} {'yes' if ok else 'NO':>13}")  # fmt: skip
    print(f"ingestor (last of the largest group): {example}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
