"""Response schemas of the api, named by role (ServerPublic, InterfacePublic ...)."""

from __future__ import annotations

import enum
import functools
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from schemas import InterfaceKind, OperState


@functools.lru_cache(maxsize=4096)
def utc_text(value: datetime) -> str:
    """RFC 3339 UTC with milliseconds, the protocol's own time format."""
    # Cached: a host's sparkline repeats each bucket start once per interface.
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    text = value.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


PeriodName = Literal["15m", "1h", "6h", "24h", "7d", "30d"]
"""The periods a sparkline or summary may cover (the keys of stores.steps.PERIODS)."""

UtcTime = Annotated[datetime, PlainSerializer(utc_text, return_type=str, when_used="json")]


class _Public(BaseModel):
    model_config = ConfigDict(frozen=True)


class Problem(_Public):
    """An error: `detail` says what was wrong."""

    detail: str


class HostStatusName(enum.StrEnum):
    """online: reporting now; offline: said goodbye; stale: went silent without saying so."""

    ONLINE = "online"
    OFFLINE = "offline"
    STALE = "stale"


class ServerPublic(_Public):
    """One monitored host as listed by /api/v1/servers."""

    id: str
    hostname: str
    status: HostStatusName
    last_seen: UtcTime | None
    interface_count: int
    primary_interface: str | None = Field(description="the up interface that moved most bytes")
    version: str | None = Field(default=None, description="publisher version")
    interval_s: float | None = Field(default=None, description="publisher collection interval")
    spool_dropped: int = Field(default=0, description="samples the publisher had to drop")


class InterfacePublic(_Public):
    """The newest state of one interface: cumulative counters, current rates, link facts."""

    name: str
    rx_bytes: int
    tx_bytes: int
    rx_packets: int
    tx_packets: int
    is_up: bool
    rx_errors: int
    tx_errors: int
    rx_dropped: int
    tx_dropped: int
    multicast: int
    collisions: int
    rx_bytes_per_sec: float | None
    tx_bytes_per_sec: float | None
    rx_packets_per_sec: float | None
    tx_packets_per_sec: float | None
    oper_state: OperState
    speed_mbps: int | None
    mtu: int | None
    kind: InterfaceKind
    mac: str | None
    last_seen: UtcTime


class ServerDetail(ServerPublic):
    """A host with every interface it reported (empty before its first sample)."""

    network_interfaces: list[InterfacePublic]


class SparkPoint(_Public):
    """One bucket: bytes moved within it and the average rate over its samples."""

    timestamp: UtcTime
    rx_bytes: int
    tx_bytes: int
    rx_bytes_per_sec: float | None
    tx_bytes_per_sec: float | None


class InterfaceSeries(_Public):
    """The sparkline of one interface, when the host total was asked for."""

    interface: str
    data: list[SparkPoint]


class Sparkline(_Public):
    """Network traffic of a host (or one interface) over a period, in time order."""

    server_id: str
    metric: str = "network"
    interface: str | None
    period: PeriodName
    step_seconds: float
    data: list[SparkPoint]
    series: list[InterfaceSeries] | None = Field(
        default=None, description="per-interface series; only when no interface was asked for"
    )


class InterfaceTraffic(_Public):
    """Traffic of one interface (or a host total) over the summary period."""

    interface: str | None = Field(description="null for the host total")
    rx_bytes: int
    tx_bytes: int
    rx_peak_bytes_per_sec: float | None
    tx_peak_bytes_per_sec: float | None
    rx_p95_bytes_per_sec: float | None
    tx_p95_bytes_per_sec: float | None
    rx_packets: int
    tx_packets: int
    errors: int
    drops: int


class HostTraffic(_Public):
    """One host's traffic: its total and each interface."""

    server_id: str
    total: InterfaceTraffic
    interfaces: list[InterfaceTraffic]


class TrafficSummary(_Public):
    """vnStat-style summary of every host over a period."""

    period: PeriodName
    start: UtcTime
    end: UtcTime
    step_seconds: float = Field(description="bucket width the percentiles were taken over")
    servers: list[HostTraffic]


class AlertPublic(_Public):
    """An interface whose error or drop rate is over its threshold."""

    server_id: str
    interface: str
    active: bool
    reason: str | None
    since: UtcTime
    errors_per_sec: float | None
    drops_per_sec: float | None


class Health(_Public):
    """Liveness or readiness answer."""

    status: str
    detail: str | None = None
