"""API latency under 8 concurrent clients over a week of 10 s samples (SQLite) or a day (influxd).

    python bench/api_latency.py                  # SQLite: 7 d x 20 hosts x 10 ifaces (12M rows)
    python bench/api_latency.py --days 1         # smaller, faster to build
    python bench/api_latency.py --store influx   # influxd: 1 d x 5 hosts x 10 ifaces
    python bench/api_latency.py --variant 'before@/tmp/old-tree' --variant 'after'
                                                 # several apis on the same data, in turns
The SQLite file is built with bench/store_load.py's generator and kept in a cache directory
(~/.cache/ifpulse-bench) keyed by its size, so later runs only top it up to the current time.
`ifpulse api` runs as its own process. Endpoints: /api/v1/servers/{id}, the dashboard's
sparkline (host total + each interface) for 1 h, 24 h and 30 d, and /metrics. Each is timed
with one client (the ceiling), then with 8 keep-alive clients all on it, then 8 clients on
the shuffled mix of all five (what dashboards do). Latency is measured at the client.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shlex
import shutil
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2 as httpx
from common import (
    command_line,
    free_port,
    ifpulse,
    median,
    pct,
    port_open,
    sigterm_as_interrupt,
    start,
    started_influxd,
)
from store_load import INTERVAL, batches, load

from stores import open_store

ENDPOINTS = {
    "/servers/{id}": "/api/v1/servers/{id}",
    "sparkline 1h": "/api/v1/metrics/sparkline/{id}/network?period=1h",
    "sparkline 24h": "/api/v1/metrics/sparkline/{id}/network?period=24h",
    "sparkline 30d": "/api/v1/metrics/sparkline/{id}/network?period=30d",
    "/metrics": "/metrics",
}
GOALS_MS = {"/servers/{id}": 20, "sparkline 24h": 50, "sparkline 30d": 100}


def top_up(url: str, since: datetime, end: datetime, hosts: int, ifaces: int) -> int:
    """Write the 10 s samples from `since` to `end` and finish the rollups; rows written."""
    store = open_store(url)
    rows = 0
    try:
        steps = int((end - since).total_seconds()) // INTERVAL
        for batch in batches(since + timedelta(seconds=INTERVAL), steps, hosts, ifaces, 5000):
            store.write_batch(batch)
            rows += len(batch)
        backlog = getattr(store, "backlog", lambda now: 0)
        while backlog(end):
            store.maintain(end)
        store.maintain(end)
    finally:
        store.close()
    return rows


def build(args: argparse.Namespace, url: str, end: datetime) -> None:
    """A fresh dataset through store_load.load (which prints its own load figures)."""
    store = open_store(url)
    try:
        load(store, argparse.Namespace(**vars(args), batch=5000, maintain_every=20), end)
    finally:
        store.close()


def sqlite_dataset(args: argparse.Namespace, tmp: Path) -> tuple[str, str]:
    """A SQLite file of the asked size up to now: from the cache, else built; (url, how)."""
    now = datetime.now(UTC).replace(microsecond=0)
    name = f"api-{args.days}d-{args.hosts}h-{args.ifaces}i.db"
    cache = Path(args.cache_dir).expanduser()
    meta = cache / (name + ".json")
    work = tmp / name
    if not args.no_cache and meta.exists() and (cache / name).exists():
        shutil.copy(cache / name, work)
        since = datetime.fromisoformat(json.loads(meta.read_text())["end"])
        t0 = time.perf_counter()
        rows = top_up(f"sqlite:///{work}", since, now, args.hosts, args.ifaces)
        how = f"cached file, topped up with {rows:,} rows in {time.perf_counter() - t0:.1f} s"
    else:
        t0 = time.perf_counter()
        build(args, f"sqlite:///{work}", now)
        how = f"built in {time.perf_counter() - t0:.0f} s"
        if not args.no_cache:
            cache.mkdir(parents=True, exist_ok=True)
            shutil.copy(work, cache / name)
    if not args.no_cache:
        shutil.copy(work, cache / name)
        meta.write_text(json.dumps({"end": now.isoformat()}))
    return f"sqlite:///{work}", how


def client(
    api: str, hosts: int, rounds: int, seed: int, names: list[str], out: dict[str, list[float]]
) -> None:
    """One keep-alive client: each of `names` once per round, in a shuffled order."""
    rnd = random.Random(seed)
    names = list(names)
    with httpx.Client(base_url=api, timeout=30) as http:
        for _ in range(rounds):
            rnd.shuffle(names)
            for name in names:
                path = ENDPOINTS[name].format(id=f"host{rnd.randrange(hosts):03d}")
                t0 = time.perf_counter()
                reply = http.get(path)
                took = time.perf_counter() - t0
                if reply.status_code != 200:
                    # Raised in a thread this would only end the thread: clients() checks.
                    out.setdefault("errors", []).append(0.0)
                    print(f"{api}{path}: HTTP {reply.status_code} {reply.text[:200]}")
                    return
                out[name].append(took * 1000)


def clients(api: str, args: argparse.Namespace, n: int, names: list[str]) -> dict[str, list[float]]:
    """n concurrent clients over `names`; latencies (ms) per endpoint."""
    took: dict[str, list[float]] = {name: [] for name in names}
    threads = [
        threading.Thread(target=client, args=(api, args.hosts, args.rounds, k, names, took))
        for k in range(n)
    ]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if "errors" in took or any(len(took[name]) != n * args.rounds for name in names):
        raise SystemExit(f"{api}: not every request answered 200 (see above)")
    return took


def report(args: argparse.Namespace, single: dict[str, float], each: dict[str, list[float]],
           mixed: dict[str, list[float]]) -> None:  # fmt: skip
    """One line per endpoint: alone, 8 clients on it, 8 clients on the dashboard mix."""
    c = args.clients
    print(f"{'endpoint':<15} {'1 client p50':>12} | {c} clients on it: p50    p95  | "
          f"{c} clients, mixed: p50    p95")  # fmt: skip
    for name in ENDPOINTS:
        goal = GOALS_MS.get(name)
        verdict = ""
        if goal and args.store == "sqlite":
            ok = pct(each[name], 95) <= goal
            verdict = f"  goal p95 <= {goal} ms: {'met' if ok else 'NOT met'}"
        print(f"{name:<15} {single[name]:>9.1f} ms | {median(each[name]):>13.1f} "
              f"{pct(each[name], 95):>6.1f} ms | {median(mixed[name]):>13.1f} "
              f"{pct(mixed[name], 95):>6.1f} ms{verdict}")  # fmt: skip


Measured = tuple[dict[str, float], dict[str, list[float]], dict[str, list[float]], float]
"""1-client medians, 8 clients on each endpoint, 8 clients on the mix, the mix's wall time."""


def measure(apis: list[str], args: argparse.Namespace) -> list[Measured]:
    """Time each api alone, with n clients on each endpoint, and on the mix; interleaved.

    The apis take turns phase by phase (not one after the other), so a burst of load from
    elsewhere on the machine falls on all of them alike.
    """
    names = list(ENDPOINTS)
    for api in apis:
        client(api, args.hosts, 1, -1, names, {name: [] for name in names})  # warm caches
    single: list[dict[str, float]] = [{} for _ in apis]
    each: list[dict[str, list[float]]] = [{} for _ in apis]
    for name in names:
        for k, api in enumerate(apis):
            single[k][name] = median(clients(api, args, 1, [name])[name])
    for name in names:
        for k, api in enumerate(apis):
            each[k][name] = clients(api, args, args.clients, [name])[name]
    out: list[Measured] = []
    for k, api in enumerate(apis):
        t0 = time.perf_counter()
        mixed = clients(api, args, args.clients, names)
        out.append((single[k], each[k], mixed, time.perf_counter() - t0))
    return out


def variant(text: str) -> tuple[str, str | None, list[str]]:
    """LABEL[@SRC_DIR][:API ARGS] -> (label, source tree or None, extra `ifpulse api` args)."""
    head, _, extra = text.partition(":")
    label, _, src = head.partition("@")
    return label, src or None, shlex.split(extra)


def main(argv: list[str]) -> int:
    """Build or reuse the dataset, start the api, run the clients, print p50/p95."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", choices=("sqlite", "influx"), default="sqlite")
    parser.add_argument("--days", type=int, help="default 7 (SQLite), 1 (influx)")
    parser.add_argument("--hosts", type=int, help="default 20 (SQLite), 5 (influx)")
    parser.add_argument("--ifaces", type=int, default=10)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=20, help="per client and endpoint")
    parser.add_argument(
        "--cache-dir", default=os.environ.get("IFPULSE_BENCH_CACHE", "~/.cache/ifpulse-bench")
    )
    parser.add_argument("--no-cache", action="store_true")
    parser.add_argument(
        "--variant",
        type=variant,
        action="append",
        help="LABEL[@SRC_DIR][:API ARGS], repeatable: also run an api so (from another source "
        "tree, with extra args) on the same data, taking turns; default this tree as is",
    )
    args = parser.parse_args(argv)
    sqlite = args.store == "sqlite"
    args.days = args.days or (7 if sqlite else 1)
    args.hosts = args.hosts or (20 if sqlite else 5)
    sigterm_as_interrupt()
    api_lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="ifpulse-bench-") as t, contextlib.ExitStack() as stack:
        tmp = Path(t)
        if sqlite:
            url, how = sqlite_dataset(args, tmp)
        else:
            influxd = started_influxd(stack, tmp)
            url = influxd.store_url("api")
            t0 = time.perf_counter()
            build(args, url, datetime.now(UTC).replace(microsecond=0))
            how = f"built in {time.perf_counter() - t0:.0f} s"
        variants = args.variant or [("this tree", None, [])]
        apis = []
        for k, (_, src, extra) in enumerate(variants):
            port = free_port()
            api_cmd = ifpulse("api", "--store", url, "--port", str(port),
                              "--log-level", "warning", *extra)  # fmt: skip
            if src:  # another source tree, e.g. a worktree of main (-m puts the cwd first)
                api_cmd = ["env", "-C", src, f"PYTHONPATH={src}", *api_cmd]
            start(stack, api_cmd, tmp / f"api{k}.log", lambda p=port: port_open(p), "api")
            apis.append(f"http://127.0.0.1:{port}")
            api_lines.append(shlex.join(api_cmd).replace(t, "$TMP"))
        runs = list(zip((v[0] for v in variants), measure(apis, args), strict=True))
    rows = args.days * 86400 // INTERVAL * args.hosts * args.ifaces
    print(f"command: {command_line()}")
    print(f"dataset: {args.store}, {args.days} d x {args.hosts} hosts x {args.ifaces} ifaces "
          f"at {INTERVAL} s = {rows:,} samples ({how})")  # fmt: skip
    for label, (single, each, mixed, wall) in runs:
        total = sum(len(v) for v in mixed.values())
        print(f"\n[{label}] {args.rounds} requests per client per endpoint; the mixed run: "
              f"{total} requests in {wall:.1f} s ({total / wall:,.0f} req/s)")  # fmt: skip
        report(args, single, each, mixed)
    for line in api_lines:
        print(f"api: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
