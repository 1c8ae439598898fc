"""Line protocol for ifpulse messages, and InfluxQL quoting of identifiers and literals."""

from __future__ import annotations

import functools
import math
import operator
from datetime import UTC, datetime, timedelta

from schemas import COUNTER_NAMES, RATE_NAMES, AlertState, HostStatus, InterfaceSample

SAMPLE_MEASUREMENT = "interface"
STATUS_MEASUREMENT = "host_status"
ALERT_MEASUREMENT = "alert"

INT64_MAX = 2**63 - 1
_TWO64 = 2**64
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def tag_iface(name: str) -> str:
    r"""Interface name → tag value: `\` becomes `/` (Linux forbids `/` in names, so it reverses).

    Why: InfluxDB 1.x line protocol cannot carry a tag value that ends in a backslash or has
    one before `,`, `=` or a space (there is no escape for the backslash itself).
    """
    return name.replace("\\", "/")


def untag_iface(tag: str) -> str:
    """Tag value → interface name (inverse of tag_iface)."""
    return tag.replace("/", "\\")


def escape_tag(value: str) -> str:
    """Escape a tag key or value: `,` `=` and space get a backslash (`\\` never appears)."""
    return value.replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def escape_measurement(value: str) -> str:
    """Escape a measurement name: `,` and space."""
    return value.replace(",", "\\,").replace(" ", "\\ ")


def string_field(value: str) -> str:
    """A double-quoted string field value: `\\` and `"` escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def wrap_counter(value: int) -> int:
    """A 64-bit unsigned counter as the signed int64 with the same bits (lossless, reversible)."""
    return value - _TWO64 if value > INT64_MAX else value


def unwrap_counter(value: int) -> int:
    """Inverse of wrap_counter: counters are never negative, so a negative value wrapped."""
    return value + _TWO64 if value < 0 else value


def clamp_delta(value: int) -> int:
    """Deltas are summed by the server, so they are clamped (not wrapped) into int64."""
    return min(value, INT64_MAX)


def float_field(value: float) -> str:
    """A float field value; repr() is exact and always has a `.` or exponent, never `i`."""
    if not math.isfinite(value):
        raise ValueError("InfluxDB cannot store NaN or infinity")
    return repr(float(value))


def to_ms(ts: datetime) -> int:
    """An aware datetime → integer epoch milliseconds."""
    if ts.tzinfo is None:
        ts = ts.astimezone(UTC)  # a naive time is local time, as astimezone() reads it
    # Aware minus aware compares instants, so no conversion to UTC is needed (5x faster).
    return (ts - _EPOCH) // _MS


def from_ms(ms: int) -> datetime:
    """Integer epoch milliseconds → aware UTC datetime."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)


def _line(measurement: str, tags: list[tuple[str, str]], fields: list[str], ms: int) -> str:
    tag_part = "".join(f",{escape_tag(k)}={escape_tag(v)}" for k, v in tags)
    return f"{escape_measurement(measurement)}{tag_part} {','.join(fields)} {ms}"


# The hot path of an ingest: the tag part of a series never changes, so it is built once per
# (host, iface, kind); the ten counters go through one format template.
_COUNTERS = operator.attrgetter(*COUNTER_NAMES)
_COUNTER_TEMPLATE = ",".join(f"{name}=%di" for name in COUNTER_NAMES)
_DELTA_KEYS = tuple(f",delta_{name}=" for name in COUNTER_NAMES)
_RATE_KEYS = tuple((name, f",{name}=") for name in RATE_NAMES)


@functools.lru_cache(maxsize=65536)
def _sample_prefix(host: str, iface: str, kind: str) -> str:
    """`interface,host=..,interface=..,kind=.. ` for one series (escaped once, then cached)."""
    tags = [("host", host), ("interface", tag_iface(iface)), ("kind", kind)]
    tag_part = "".join(f",{escape_tag(k)}={escape_tag(v)}" for k, v in tags)
    return f"{escape_measurement(SAMPLE_MEASUREMENT)}{tag_part} "


def sample_line(s: InterfaceSample) -> str:
    """One InterfaceSample → one point of `interface`, keyed by (host, interface, kind, ts)."""
    counters: tuple[int, ...] = _COUNTERS(s)
    if max(counters) > INT64_MAX:
        counters = tuple(wrap_counter(v) for v in counters)
    parts = [
        _sample_prefix(s.host, s.iface, s.kind.value),
        f"seq={s.seq}i,boot_id={string_field(s.boot_id)},",
        _COUNTER_TEMPLATE % counters,
    ]
    deltas: tuple[int | None, ...] = _COUNTERS(s.delta)
    for key, value in zip(_DELTA_KEYS, deltas, strict=True):
        if value is not None:
            parts += (key, str(clamp_delta(value)), "i")
    for name, key in _RATE_KEYS:
        rate = getattr(s, name)
        if rate is not None:
            parts += (key, float_field(rate))
    if s.interval_s is not None:
        parts += (",interval_s=", float_field(s.interval_s))
    parts.append(f",is_up={'true' if s.is_up else 'false'}")
    parts.append(f",oper_state={string_field(s.oper_state.value)}")
    if s.speed_mbps is not None:
        parts.append(f",speed_mbps={s.speed_mbps}i")
    if s.mtu is not None:
        parts.append(f",mtu={s.mtu}i")
    if s.mac is not None:
        parts.append(f",mac={string_field(s.mac)}")
    parts.append(f" {to_ms(s.ts)}")
    return "".join(parts)


def status_line(st: HostStatus, now: datetime) -> str:
    """A HostStatus → a `host_status` point at its ts (or at `now` for a will without ts)."""
    fields = [
        f"state={string_field(st.state.value)}",
        f"version={string_field(st.version)}",
        f"interval_s={float_field(st.interval_s)}",
        f"spool_depth={st.spool_depth}i",
        f"spool_dropped={st.spool_dropped}i",
        f"has_ts={'true' if st.ts is not None else 'false'}",
    ]
    if st.boot_id is not None:
        fields.append(f"boot_id={string_field(st.boot_id)}")
    return _line(STATUS_MEASUREMENT, [("host", st.host)], fields, to_ms(st.ts or now))


def alert_line(a: AlertState) -> str:
    """An AlertState → an `alert` point at its `since` time."""
    fields = [f"active={'true' if a.active else 'false'}"]
    if a.reason is not None:
        fields.append(f"reason={string_field(a.reason)}")
    if a.errors_per_sec is not None:
        fields.append(f"errors_per_sec={float_field(a.errors_per_sec)}")
    if a.drops_per_sec is not None:
        fields.append(f"drops_per_sec={float_field(a.drops_per_sec)}")
    tags = [("host", a.host), ("interface", tag_iface(a.iface))]
    return _line(ALERT_MEASUREMENT, tags, fields, to_ms(a.since))


def cleared_alert_line(host: str, iface: str, at: datetime) -> str:
    """A cleared alert → an `alert` point at the time of clearing, marked `cleared`."""
    tags = [("host", host), ("interface", tag_iface(iface))]
    return _line(ALERT_MEASUREMENT, tags, ["active=false", "cleared=true"], to_ms(at))


def ident(name: str) -> str:
    """An InfluxQL identifier: double-quoted, `\\` and `"` escaped."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def literal(value: str) -> str:
    """An InfluxQL string literal: single-quoted, `\\` `'` and newline escaped."""
    escaped = value.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")
    return "'" + escaped + "'"


def time_literal(ts: datetime) -> str:
    """A time bound as an integer epoch in ms, no string parsing on the server."""
    return f"{to_ms(ts)}ms"


def duration_literal(step: timedelta) -> str:
    """A GROUP BY time() / RP duration literal in whole milliseconds (at least 1ms)."""
    return f"{max(1, step // timedelta(milliseconds=1))}ms"
