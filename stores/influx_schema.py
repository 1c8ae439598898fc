"""Where things live in InfluxDB (RPs, measurements, rollup fields) and creating it on startup."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from stores.base import StoreError, StoreUnavailable
from stores.buckets import floor_to, from_ms, step_ms, to_ms
from stores.influx_http import InfluxHttp
from stores.influx_lp import SAMPLE_MEASUREMENT, duration_literal, ident, literal, time_literal
from stores.influx_url import InfluxConfig

RP_RAW = "raw"
RP_1M = "rollup_1m"
RP_1H = "rollup_1h"
RP_META = "meta"
MEASUREMENT_1M = "interface_1m"
MEASUREMENT_1H = "interface_1h"
CQ_1M = "ifpulse_interface_1m"
CQ_1H = "ifpulse_interface_1h"
# A CQ recomputes this much of the recent past on each run; older buckets that receive late
# samples are recomputed by the store itself (backfill) right after the write.
RESAMPLE_FOR = {RP_1M: timedelta(minutes=10), RP_1H: timedelta(hours=2)}
LEVEL_STEP = {RP_1M: timedelta(minutes=1), RP_1H: timedelta(hours=1)}

# (rollup field, aggregate over raw `interface`, aggregate over a finer rollup)
ROLLUP_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("n", 'count("seq")', 'sum("n")'),
    ("rx_bytes", 'sum("delta_rx_bytes")', 'sum("rx_bytes")'),
    ("tx_bytes", 'sum("delta_tx_bytes")', 'sum("tx_bytes")'),
    ("rx_bps_sum", 'sum("rx_bytes_per_sec")', 'sum("rx_bps_sum")'),
    ("rx_bps_n", 'count("rx_bytes_per_sec")', 'sum("rx_bps_n")'),
    ("rx_bps_max", 'max("rx_bytes_per_sec")', 'max("rx_bps_max")'),
    ("tx_bps_sum", 'sum("tx_bytes_per_sec")', 'sum("tx_bps_sum")'),
    ("tx_bps_n", 'count("tx_bytes_per_sec")', 'sum("tx_bps_n")'),
    ("tx_bps_max", 'max("tx_bytes_per_sec")', 'max("tx_bps_max")'),
    ("rx_packets", 'sum("delta_rx_packets")', 'sum("rx_packets")'),
    ("tx_packets", 'sum("delta_tx_packets")', 'sum("tx_packets")'),
    ("rx_errors", 'sum("delta_rx_errors")', 'sum("rx_errors")'),
    ("tx_errors", 'sum("delta_tx_errors")', 'sum("tx_errors")'),
    ("rx_dropped", 'sum("delta_rx_dropped")', 'sum("rx_dropped")'),
    ("tx_dropped", 'sum("delta_tx_dropped")', 'sum("tx_dropped")'),
)


@dataclass(frozen=True)
class Layout:
    """Fully qualified measurement names for one database (1.x) or bucket (2.x/3.x)."""

    db: str
    rollups: bool
    """True on 1.x: our own RPs and continuous queries. False: one bucket, no rollups."""
    rp: str | None = None
    """The RP for 2.x/3.x reads through a DBRP mapping (None: the mapping's default)."""

    def _rp(self, name: str) -> str:
        return f"{ident(self.db)}.{ident(name)}." if self.rollups else ""

    def raw(self, measurement: str = SAMPLE_MEASUREMENT) -> str:
        """Raw samples (and on 2.x everything)."""
        return self._rp(RP_RAW) + ident(measurement)

    def meta(self, measurement: str) -> str:
        """Host statuses and alerts: kept forever on 1.x (a registry, not a time series)."""
        return self._rp(RP_META) + ident(measurement)

    def rollup(self, level: str) -> str:
        """The 1 m or 1 h rollup measurement."""
        name = MEASUREMENT_1M if level == RP_1M else MEASUREMENT_1H
        return self._rp(level) + ident(name)


def rollup_select(layout: Layout, level: str, where: str = "") -> str:
    """SELECT ... INTO the rollup `level`, from raw (1m) or from the 1 m rollup (1h)."""
    from_raw = level == RP_1M
    exprs = ", ".join(
        f"{raw if from_raw else fine} AS {ident(name)}" for name, raw, fine in ROLLUP_FIELDS
    )
    source = layout.raw() if from_raw else layout.rollup(RP_1M)
    step = duration_literal(LEVEL_STEP[level])
    where_sql = f" WHERE {where}" if where else ""
    return (
        f"SELECT {exprs} INTO {layout.rollup(level)} FROM {source}{where_sql} "  # noqa: S608
        f"GROUP BY time({step}), *"
    )


def continuous_query(layout: Layout, level: str) -> str:
    """CREATE CONTINUOUS QUERY for one rollup level."""
    name = CQ_1M if level == RP_1M else CQ_1H
    every = duration_literal(LEVEL_STEP[level])
    window = duration_literal(RESAMPLE_FOR[level])
    return (
        f"CREATE CONTINUOUS QUERY {ident(name)} ON {ident(layout.db)} "
        f"RESAMPLE EVERY {every} FOR {window} BEGIN {rollup_select(layout, level)} END"
    )


def backfill(http: InfluxHttp, layout: Layout, late: dict[str, tuple[datetime, datetime]]) -> None:
    """Recompute the rollups holding late samples ({host: (first, last) sample time}).

    1 m first, then 1 h from it. Only the minutes the samples fall in are read from raw, and
    hosts whose samples fall in the same buckets share one query: a replayed backlog of ten
    hosts made twenty queries per batch before (~7 ms each, more than the write itself).
    """
    for level in (RP_1M, RP_1H):
        step = step_ms(LEVEL_STEP[level])
        windows: dict[tuple[int, int], list[str]] = {}
        for host, (first, last) in sorted(late.items()):
            window = (floor_to(to_ms(first), step), floor_to(to_ms(last), step) + step)
            windows.setdefault(window, []).append(host)
        for (start, end), hosts in windows.items():
            # InfluxQL takes one time range per query, but any number of tag conditions.
            who = " OR ".join(f'"host" = {literal(h)}' for h in hosts)
            where = (
                f"({who}) AND time >= {time_literal(from_ms(start))} "
                f"AND time < {time_literal(from_ms(end))}"
            )
            http.query(rollup_select(layout, level, where), db=layout.db)


def _duration(value: timedelta | None) -> str:
    if value is None:
        return "INF"
    # InfluxDB refuses retention shorter than one hour.
    return f"{max(3600, int(value.total_seconds()))}s"


def ensure_v1(http: InfluxHttp, cfg: InfluxConfig, layout: Layout) -> None:
    """Create the database, the four RPs and the two CQs when missing (1.x); idempotent."""
    db = ident(cfg.database)
    http.query(f"CREATE DATABASE {db}")
    result = http.query(f"SHOW RETENTION POLICIES ON {db}")
    have = {row[0] for s in result[0].get("series", []) for row in s.get("values", [])}
    wanted = {
        RP_RAW: cfg.retention_raw,
        RP_1M: cfg.retention_1m,
        RP_1H: cfg.retention_1h,
        RP_META: None,
    }
    for name, keep in wanted.items():
        verb = "ALTER" if name in have else "CREATE"
        # ALTER keeps the RPs in step with the configured retention on every start.
        http.query(
            f"{verb} RETENTION POLICY {ident(name)} ON {db} DURATION {_duration(keep)}"
            + ("" if verb == "ALTER" else " REPLICATION 1")
        )
    result = http.query("SHOW CONTINUOUS QUERIES")
    cqs = {
        row[0]
        for s in result[0].get("series", [])
        if s.get("name") == cfg.database
        for row in s.get("values", [])
    }
    for level, name in ((RP_1M, CQ_1M), (RP_1H, CQ_1H)):
        if name not in cqs:
            http.query(continuous_query(layout, level))


def ensure_v2(cfg: InfluxConfig, bucket: str) -> None:
    """Create the bucket (raw retention) when missing, through influxdb-client (2.x)."""
    from influxdb_client.client.influxdb_client import InfluxDBClient
    from influxdb_client.domain.bucket_retention_rules import BucketRetentionRules

    if not cfg.token or not cfg.org:
        raise StoreError("InfluxDB 2.x needs a token (IFPULSE_INFLUX_TOKEN) and ?org=")
    try:
        with InfluxDBClient(url=cfg.base_url, token=cfg.token, org=cfg.org) as client:
            buckets = client.buckets_api()
            if buckets.find_bucket_by_name(bucket) is None:
                rules: Any = BucketRetentionRules(  # type: ignore[no-untyped-call]
                    type="expire", every_seconds=int(cfg.retention_raw.total_seconds())
                )
                buckets.create_bucket(bucket_name=bucket, org=cfg.org, retention_rules=rules)
    except Exception as exc:  # influxdb-client raises ApiException and urllib3 errors
        # The type and status only: an exception's text could echo request headers.
        status = getattr(exc, "status", None)
        raise StoreUnavailable(
            f"InfluxDB 2.x bucket setup failed: {type(exc).__name__} {status}"
        ) from None
