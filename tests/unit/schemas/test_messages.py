"""InterfaceSample and friends: TS0179 TC005-TC007 on the v1 contract."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from schemas import AlertState, HostState, HostStatus, InterfaceSample, encode
from schemas.messages import _format_ts
from tests.factories import sample


def test_tc005_complete_entry_is_valid() -> None:
    s = sample()
    assert isinstance(s.iface, str)
    assert s.rx_bytes == 1000 and s.tx_bytes == 2000
    assert s.rx_packets == 10 and s.tx_packets == 20
    assert s.is_up is True


def test_tc006_missing_name_is_rejected_and_named() -> None:
    data = sample().model_dump(mode="json")
    del data["iface"]
    with pytest.raises(ValidationError) as err:
        InterfaceSample.model_validate_json(json.dumps(data))
    assert [e["loc"] for e in err.value.errors()] == [("iface",)]
    assert err.value.errors()[0]["type"] == "missing"


def test_tc007_wrong_type_is_rejected_with_a_descriptive_message() -> None:
    data = sample().model_dump(mode="json")
    data["rx_bytes"] = "invalid"
    with pytest.raises(ValidationError) as err:
        InterfaceSample.model_validate_json(json.dumps(data))
    (e,) = err.value.errors()
    assert e["loc"] == ("rx_bytes",)
    assert "integer" in e["msg"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("rx_bytes", -1),
        ("rx_bytes", 2**64),
        ("rx_bytes_per_sec", -0.5),
        ("rx_bytes_per_sec", float("nan")),
        ("host", "bad host"),
        ("host", "x" * 65),
        ("iface", "a" * 16),
        ("iface", "eth/0"),
        ("iface", "eth:0"),
        ("iface", "eth 0"),
        ("iface", ".."),
        ("mac", "52-54-00-12-34-56"),
        ("kind", "spaceship"),
        ("v", 2),
        ("ts", datetime(2026, 1, 1)),  # naive: no timezone
        ("unknown_field", 1),
    ],
)
def test_invalid_values_are_rejected(field: str, value: object) -> None:
    data = sample().model_dump()
    data[field] = value
    with pytest.raises(ValidationError):
        InterfaceSample.model_validate(data)


def test_counters_accept_full_64_bit_range() -> None:
    assert sample(rx_bytes=2**64 - 1).rx_bytes == 2**64 - 1


def test_interface_names_linux_allows() -> None:
    for name in ("eth0.10", "br-1a2b3c4d5e6f", "wg+vpn", "tun#1", "wlp0s20f3", "ä-lan"):
        assert sample(iface=name).iface == name


def test_ts_is_normalised_to_utc_milliseconds() -> None:
    plus2 = timezone(timedelta(hours=2))
    s = sample(ts=datetime(2026, 11, 22, 14, 0, 0, 123456, tzinfo=plus2))
    assert s.ts == datetime(2026, 11, 22, 12, 0, 0, 123000, tzinfo=UTC)
    assert b'"ts":"2026-11-22T12:00:00.123Z"' in encode(s)


def test_host_status_will_form_has_no_time() -> None:
    will = HostStatus(host="h1", state=HostState.OFFLINE, version="0.1.0", interval_s=10)
    assert will.ts is None
    assert HostStatus.model_validate_json(encode(will)) == will


def test_timestamps_print_in_their_own_zone_whatever_was_printed_before() -> None:
    utc = datetime(2026, 11, 22, 12, 0, 0, 123000, tzinfo=UTC)
    plus2 = utc.astimezone(timezone(timedelta(hours=2)))
    assert utc == plus2  # equal instants: a cache keyed on the value alone would mix them
    assert _format_ts(utc) == "2026-11-22T12:00:00.123Z"
    assert _format_ts(plus2) == "2026-11-22T14:00:00.123+02:00"
    assert _format_ts(utc) == "2026-11-22T12:00:00.123Z"


def test_equal_instants_in_any_zone_validate_to_the_same_utc_millisecond() -> None:
    # _to_utc_ms is cached by instant: zones and sub-millisecond parts must not leak through.
    base = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)
    plus2 = base.astimezone(timezone(timedelta(hours=2)))
    for ts in (base, plus2, base.replace(microsecond=890999), plus2.replace(microsecond=890001)):
        got = AlertState(host="h1", iface="eth0", active=True, since=ts).since
        assert got == base.replace(microsecond=890000)
        assert got.tzinfo is UTC and got.utcoffset() == timedelta(0)
