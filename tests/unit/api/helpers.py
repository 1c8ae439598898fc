"""Builders of sample histories and apps for the api tests (shared by unit and integration)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from schemas import AlertState, HostStatus, InterfaceSample
from tests.factories import sample

NOW = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)

HOSTILE = [
    "eth0",
    "h",
    "'",
    '"',
    "a' OR '1'='1",
    '"; DROP MEASUREMENT samples; --',
    "/ SELECT * FROM /.*/",
    "..",
    "../..",
    "%00",
    "\x00",
    "é✓🙂",
    "x" * 10_000,
    "",
    " ",
    "$share/x/#",
    "+",
]
"""Names meant to break a query or a path: quotes, SQL/InfluxQL, traversal, 10 KB, unicode."""


def hostile_urls(value: str) -> list[str]:
    """Every endpoint with `value` in each of its path and query parameters."""
    v = quote(value, safe="")
    return [
        f"/api/v1/servers/{v}",
        f"/api/v1/servers/h/interfaces/{v}",
        f"/api/v1/servers/{v}/interfaces/eth0",
        f"/api/v1/metrics/sparkline/{v}/network",
        f"/api/v1/metrics/sparkline/h/network?interface={v}",
        f"/api/v1/metrics/sparkline/h/network?period={v}",
        f"/api/v1/metrics/sparkline/h/network?points={v}",
        f"/api/v1/traffic/summary?period={v}",
        f"/api/v1/export/traffic?server_id={v}",
        f"/api/v1/export/traffic?interface={v}",
        f"/api/v1/export/traffic?start={v}",
        f"/api/v1/export/traffic?format={v}",
        f"/api/v1/alerts?server_id={v}",
    ]


def history(
    host: str,
    iface: str,
    *,
    end: datetime = NOW,
    span: timedelta = timedelta(hours=1),
    every_s: float = 60.0,
    rx_rate: float = 1000.0,
    tx_rate: float = 500.0,
    **overrides: Any,
) -> list[InterfaceSample]:
    """Samples every `every_s` over `span` up to just before `end`, at steady rates."""
    count = int(span.total_seconds() // every_s)
    first = end - timedelta(seconds=count * every_s)
    out = []
    for i in range(count):
        rx_d, tx_d = int(rx_rate * every_s), int(tx_rate * every_s)
        fields: dict[str, Any] = {
            "ts": first + timedelta(seconds=i * every_s),
            "seq": i,
            "interval_s": every_s,
            "rx_bytes": 10_000 + i * rx_d,
            "tx_bytes": 20_000 + i * tx_d,
            "rx_packets": 100 + i * 10,
            "tx_packets": 200 + i * 5,
            "delta": {"rx_bytes": rx_d, "tx_bytes": tx_d, "rx_packets": 10, "tx_packets": 5},
            "rx_bytes_per_sec": rx_rate,
            "tx_bytes_per_sec": tx_rate,
        }
        fields.update(overrides)
        out.append(sample(host, iface, **fields))
    return out


def status(host: str, state: str = "online", ts: datetime | None = NOW, **kw: Any) -> HostStatus:
    """A HostStatus message."""
    fields: dict[str, Any] = {"host": host, "state": state, "ts": ts, "version": "0.1.0"}
    fields.update({"interval_s": 10.0, **kw})
    return HostStatus.model_validate(fields, strict=False)


def alert(host: str, iface: str, active: bool = True, **kw: Any) -> AlertState:
    """An AlertState message."""
    fields: dict[str, Any] = {"host": host, "iface": iface, "active": active, "since": NOW}
    fields.update({"reason": "rx errors 5.0/s over 1.0/s", "errors_per_sec": 5.0, **kw})
    return AlertState.model_validate(fields, strict=False)
