"""Golden line protocol and InfluxQL quoting for hostile names, counters above int64."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas import COUNTER_NAMES, RATE_NAMES, AlertState, HostStatus, InterfaceSample
from stores.influx_lp import (
    alert_line,
    clamp_delta,
    escape_measurement,
    escape_tag,
    float_field,
    from_ms,
    ident,
    literal,
    sample_line,
    status_line,
    string_field,
    tag_iface,
    to_ms,
    untag_iface,
    unwrap_counter,
    wrap_counter,
)
from tests.factories import sample

GOLDEN_SAMPLE = (
    "interface,host=h1,interface=we\\,i\\=rd/x,kind=ethernet "
    'seq=1i,boot_id="0f2c7b1e-5b0c-4e8a-9d0e-1c2b3a4d5e6f",'
    "rx_bytes=-1i,tx_bytes=2000i,rx_packets=10i,tx_packets=20i,rx_errors=0i,tx_errors=0i,"
    "rx_dropped=0i,tx_dropped=0i,multicast=0i,collisions=0i,"
    "delta_rx_bytes=9223372036854775807i,delta_tx_bytes=7i,rx_bytes_per_sec=12.5,"
    'interval_s=10.0,is_up=true,oper_state="up",speed_mbps=1000i,mtu=1500i,'
    'mac="52:54:00:12:34:56" 1795348800123'
)


def test_sample_line_golden_with_hostile_iface_and_huge_counter() -> None:
    s = sample(
        iface="we,i=rd\\x",
        rx_bytes=2**64 - 1,
        delta={"rx_bytes": 2**64 - 1, "tx_bytes": 7},
        rx_bytes_per_sec=12.5,
        interval_s=10.0,
    )
    assert sample_line(s) == GOLDEN_SAMPLE


def test_sample_line_first_sample_has_no_delta_or_rate_fields() -> None:
    line = sample_line(sample(iface="e'\"=", mtu=None, speed_mbps=None, mac=None))
    assert line.startswith("interface,host=h1,interface=e'\"\\=,kind=ethernet seq=1i,")
    assert "delta_" not in line and "per_sec" not in line and "mtu" not in line
    assert "interval_s" not in line and "mac=" not in line


def test_status_line_escapes_string_fields() -> None:
    st_ = HostStatus.model_validate(
        {
            "host": "h-1",
            "state": "online",
            "ts": datetime(2026, 1, 1, tzinfo=UTC),
            "version": 'v1 "q" \\ x\ny',
            "interval_s": 10,
            "spool_dropped": 3,
        },
        strict=False,
    )
    assert status_line(st_, datetime(2030, 1, 1, tzinfo=UTC)) == (
        'host_status,host=h-1 state="online",version="v1 \\"q\\" \\\\ x\ny",interval_s=10.0,'
        "spool_depth=0i,spool_dropped=3i,has_ts=true 1767225600000"
    )


def test_will_without_ts_is_stamped_now() -> None:
    will = HostStatus.model_validate(
        {"host": "h", "state": "offline", "version": "1", "interval_s": 5.0}, strict=False
    )
    line = status_line(will, datetime(2030, 1, 1, tzinfo=UTC))
    assert line.endswith("has_ts=false 1893456000000")


def test_alert_line() -> None:
    a = AlertState.model_validate(
        {
            "host": "h",
            "iface": "a,b",
            "active": True,
            "reason": "errors > 5/s",
            "since": "2026-01-01T00:00:00.001Z",
            "errors_per_sec": 6.5,
        },
        strict=False,
    )
    assert alert_line(a) == (
        'alert,host=h,interface=a\\,b active=true,reason="errors > 5/s",errors_per_sec=6.5 '
        "1767225600001"
    )


def _reference_sample_line(s: InterfaceSample) -> str:
    """The plain, field-by-field form that the optimised sample_line must match byte for byte."""
    fields = [f"seq={s.seq}i", f"boot_id={string_field(s.boot_id)}"]
    fields += [f"{name}={wrap_counter(getattr(s, name))}i" for name in COUNTER_NAMES]
    for name in COUNTER_NAMES:
        delta = getattr(s.delta, name)
        if delta is not None:
            fields.append(f"delta_{name}={clamp_delta(delta)}i")
    for name in RATE_NAMES:
        rate = getattr(s, name)
        if rate is not None:
            fields.append(f"{name}={float_field(rate)}")
    if s.interval_s is not None:
        fields.append(f"interval_s={float_field(s.interval_s)}")
    fields.append(f"is_up={'true' if s.is_up else 'false'}")
    fields.append(f"oper_state={string_field(s.oper_state.value)}")
    if s.speed_mbps is not None:
        fields.append(f"speed_mbps={s.speed_mbps}i")
    if s.mtu is not None:
        fields.append(f"mtu={s.mtu}i")
    if s.mac is not None:
        fields.append(f"mac={string_field(s.mac)}")
    tags = [("host", s.host), ("interface", tag_iface(s.iface)), ("kind", s.kind.value)]
    tag_part = "".join(f",{escape_tag(k)}={escape_tag(v)}" for k, v in tags)
    return f"{escape_measurement('interface')}{tag_part} {','.join(fields)} {to_ms(s.ts)}"


_counter = st.integers(min_value=0, max_value=2**64 - 1)
_maybe_counter = st.none() | _counter
_maybe_rate = st.none() | st.floats(min_value=0, allow_nan=False, allow_infinity=False)


@given(
    iface=st.sampled_from(["eth0", "we,i=rd\\x", "e'\"=", "x=y,z", "\u00e9th"]),
    counters=st.lists(_counter, min_size=10, max_size=10),
    deltas=st.lists(_maybe_counter, min_size=10, max_size=10),
    rates=st.lists(_maybe_rate, min_size=4, max_size=4),
    interval=_maybe_rate.filter(lambda v: v is None or v > 0),
    optional=st.fixed_dictionaries(
        {"mtu": st.none() | st.just(1500), "speed_mbps": st.none() | st.just(0)}
    ),
    ms=st.integers(min_value=0, max_value=2**41),
)
def test_sample_line_matches_the_plain_form(
    iface: str,
    counters: list[int],
    deltas: list[int | None],
    rates: list[float | None],
    interval: float | None,
    optional: dict[str, int | None],
    ms: int,
) -> None:
    s = sample(
        iface=iface,
        ts=from_ms(ms),
        delta=dict(zip(COUNTER_NAMES, deltas, strict=True)),
        interval_s=interval,
        **dict(zip(COUNTER_NAMES, counters, strict=True)),
        **dict(zip(RATE_NAMES, rates, strict=True)),
        **optional,
    )
    assert sample_line(s) == _reference_sample_line(s)


@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_counter_wrap_round_trips_and_fits_int64(value: int) -> None:
    wrapped = wrap_counter(value)
    assert -(2**63) <= wrapped <= 2**63 - 1
    assert unwrap_counter(wrapped) == value


@given(st.text(alphabet=st.characters(blacklist_characters="/"), min_size=1, max_size=15))
def test_iface_tag_round_trips_and_never_has_a_backslash(name: str) -> None:
    assert "\\" not in tag_iface(name)
    assert untag_iface(tag_iface(name)) == name


@pytest.mark.parametrize(
    ("value", "quoted"),
    [
        ("eth0", "'eth0'"),
        ("x' OR '1'='1", "'x\\' OR \\'1\\'=\\'1'"),
        ("a\\", "'a\\\\'"),
        ("a\nb", "'a\\nb'"),
    ],
)
def test_influxql_string_literal(value: str, quoted: str) -> None:
    assert literal(value) == quoted


def test_influxql_identifier() -> None:
    assert ident('we"ird\\') == '"we\\"ird\\\\"'


def test_ms_round_trip() -> None:
    ts = datetime(2026, 11, 22, 12, 0, 0, 123000, tzinfo=UTC)
    assert from_ms(to_ms(ts)) == ts
    assert to_ms(datetime(1970, 1, 1, tzinfo=UTC)) == 0
