"""Payload models of protocol v1: samples, host status, alerts and rejections."""

from __future__ import annotations

import enum
import functools
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
)

from schemas.errors import Reason

PROTOCOL_VERSION = 1
MAX_COUNTER = 2**64 - 1
MAX_PAYLOAD_BYTES = 8 * 1024
HOST_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"
MAC_PATTERN = r"^[0-9a-f]{2}(:[0-9a-f]{2}){0,31}$"
BOOT_ID_PATTERN = r"^[A-Za-z0-9-]{1,64}$"

COUNTER_NAMES: tuple[str, ...] = (
    "rx_bytes",
    "tx_bytes",
    "rx_packets",
    "tx_packets",
    "rx_errors",
    "tx_errors",
    "rx_dropped",
    "tx_dropped",
    "multicast",
    "collisions",
)
RATE_NAMES: tuple[str, ...] = (
    "rx_bytes_per_sec",
    "tx_bytes_per_sec",
    "rx_packets_per_sec",
    "tx_packets_per_sec",
)


@functools.lru_cache(maxsize=4096)
def _check_iface(name: str) -> str:
    """Linux's own rule (dev_valid_name): 1-15 bytes, no '/', ':' or whitespace.

    Cached: a fleet repeats a small set of names in every message, and a refused name raises
    (exceptions are not cached), so only good names are remembered.
    """
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise ValueError("interface name is not valid UTF-8") from exc
    if not 1 <= size <= 15:
        raise ValueError("interface name must be 1-15 bytes")
    if name in (".", "..") or any(c in name for c in "/:") or any(c.isspace() for c in name):
        raise ValueError("interface name may not be '.', '..' or contain '/', ':' or whitespace")
    if not name.isprintable():
        raise ValueError("interface name may not contain control characters")
    return name


# Cached: a batch and a publisher's cycle repeat the same instants, and the result depends
# on the instant alone (equal datetimes in other zones are the same instant, hash alike and
# give the same UTC value), so a hit skips astimezone() and replace(). Small: repeats come
# close together, and a long-running publisher should not hold thousands of old instants.
@functools.lru_cache(maxsize=256)
def _to_utc_ms(value: datetime) -> datetime:
    """Normalise to UTC with millisecond precision, the precision of the point key."""
    value = value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# A publisher's cycle, an ingest batch and a sparkline repeat the same instants. Only UTC
# values are cached: equal instants in other zones compare equal but print differently.
_iso_utc = functools.lru_cache(maxsize=1024)(_iso)


def _format_ts(value: datetime) -> str:
    # Every validated timestamp is in UTC (_to_utc_ms made it so).
    return _iso_utc(value) if value.tzinfo is UTC else _iso(value)


HostId = Annotated[str, Field(pattern=HOST_PATTERN)]
IfaceName = Annotated[str, AfterValidator(_check_iface)]
Timestamp = Annotated[
    AwareDatetime, AfterValidator(_to_utc_ms), PlainSerializer(_format_ts, return_type=str)
]
Counter = Annotated[int, Field(ge=0, le=MAX_COUNTER)]
Rate = Annotated[float, Field(ge=0)]


class InterfaceKind(enum.StrEnum):
    """What sort of link an interface is, as far as sysfs tells."""

    ETHERNET = "ethernet"
    WIRELESS = "wireless"
    BRIDGE = "bridge"
    VETH = "veth"
    TUNNEL = "tunnel"
    VLAN = "vlan"
    BOND = "bond"
    VIRTUAL = "virtual"
    OTHER = "other"


class OperState(enum.StrEnum):
    """RFC 2863 operational state as the kernel reports it in `operstate`."""

    UNKNOWN = "unknown"
    NOTPRESENT = "notpresent"
    DOWN = "down"
    LOWERLAYERDOWN = "lowerlayerdown"
    TESTING = "testing"
    DORMANT = "dormant"
    UP = "up"


class _Model(BaseModel):
    model_config = ConfigDict(
        strict=True, extra="forbid", frozen=True, allow_inf_nan=False, use_enum_values=False
    )


class Deltas(_Model):
    """Counter increase since the previous sample; null where unknown (first sample, reset)."""

    rx_bytes: Counter | None = None
    tx_bytes: Counter | None = None
    rx_packets: Counter | None = None
    tx_packets: Counter | None = None
    rx_errors: Counter | None = None
    tx_errors: Counter | None = None
    rx_dropped: Counter | None = None
    tx_dropped: Counter | None = None
    multicast: Counter | None = None
    collisions: Counter | None = None


class InterfaceSample(_Model):
    """One interface of one host at one instant (topic `.../{host}/iface/{iface}`)."""

    v: Literal[1] = 1
    host: HostId
    iface: IfaceName
    ts: Timestamp = Field(description="sample time, UTC, ms precision, publisher's clock")
    seq: int = Field(ge=0, le=2**63 - 1, description="per-host, grows by one per sample")
    boot_id: str = Field(pattern=BOOT_ID_PATTERN)
    interval_s: float | None = Field(default=None, gt=0, description="seconds since previous")
    rx_bytes: Counter
    tx_bytes: Counter
    rx_packets: Counter
    tx_packets: Counter
    rx_errors: Counter = 0
    tx_errors: Counter = 0
    rx_dropped: Counter = 0
    tx_dropped: Counter = 0
    multicast: Counter = 0
    collisions: Counter = 0
    delta: Deltas = Field(default_factory=Deltas)
    rx_bytes_per_sec: Rate | None = None
    tx_bytes_per_sec: Rate | None = None
    rx_packets_per_sec: Rate | None = None
    tx_packets_per_sec: Rate | None = None
    is_up: bool
    oper_state: OperState = OperState.UNKNOWN
    speed_mbps: int | None = Field(default=None, ge=0, le=10**9)
    mtu: int | None = Field(default=None, ge=0, le=2**31 - 1)
    mac: str | None = Field(default=None, pattern=MAC_PATTERN)
    kind: InterfaceKind = InterfaceKind.OTHER


class HostState(enum.StrEnum):
    """What a host says of itself on its status topic."""

    ONLINE = "online"
    OFFLINE = "offline"


class HostStatus(_Model):
    """Retained host status; the `offline` form is also the MQTT will."""

    v: Literal[1] = 1
    host: HostId
    state: HostState
    ts: Timestamp | None = Field(default=None, description="null in the will message")
    version: str = Field(max_length=64)
    interval_s: float = Field(gt=0, le=86400)
    boot_id: str | None = Field(default=None, pattern=BOOT_ID_PATTERN)
    spool_depth: int = Field(default=0, ge=0)
    spool_dropped: int = Field(default=0, ge=0, description="samples dropped, spool full")


class AlertState(_Model):
    """Retained alert state of one interface (topic `.../{host}/alert/{iface}`)."""

    v: Literal[1] = 1
    host: HostId
    iface: IfaceName
    active: bool
    reason: str | None = Field(default=None, max_length=256)
    since: Timestamp
    errors_per_sec: Rate | None = None
    drops_per_sec: Rate | None = None


class Cleared(_Model):
    """A retained status or alert removed on the broker: the empty message on its topic.

    Not a payload of its own: clearing a retained message (`mosquitto_pub -r -n -t TOPIC`)
    makes the broker forward an empty message to subscribers, and decode() turns that into
    this. `iface` names the interface whose alert was cleared; None for a host status.
    """

    host: HostId
    iface: IfaceName | None = None
    at: Timestamp
    """When the ingestor received it: a clear hides alerts that began before this."""


class Rejection(_Model):
    """What an ingestor publishes on `{prefix}/v1/_rejected` for a refused message."""

    v: Literal[1] = 1
    reason: Reason
    detail: str = Field(max_length=1024)
    topic: str = Field(max_length=1024)
    payload: str = Field(max_length=2048, description="start of the payload, lossy UTF-8")
    ts: Timestamp
    ingestor: str | None = Field(default=None, max_length=128)


Message = InterfaceSample | HostStatus | AlertState | Cleared
