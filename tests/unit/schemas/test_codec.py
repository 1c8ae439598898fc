"""decode(): a valid model or one DecodeError with a reason code, whatever the bytes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas import (
    MAX_PAYLOAD_BYTES,
    AlertState,
    Cleared,
    DecodeError,
    HostState,
    HostStatus,
    InterfaceSample,
    Reason,
    TopicScheme,
    decode,
    decode_rejection,
    encode,
    make_rejection,
)
from tests.factories import sample

scheme = TopicScheme()
TOPIC = scheme.sample("h1", "eth0")
GOOD = sample()


def reason_of(topic: str | bytes, payload: bytes, **kw: object) -> Reason:
    with pytest.raises(DecodeError) as err:
        decode(topic, payload, scheme=scheme, **kw)  # type: ignore[arg-type]
    return err.value.reason


def test_round_trip_of_every_message_kind() -> None:
    assert decode(TOPIC, encode(GOOD), scheme=scheme) == GOOD
    status = HostStatus(
        host="h1", state=HostState.ONLINE, ts=GOOD.ts, version="0.1.0", interval_s=10
    )
    assert decode(scheme.status("h1"), encode(status), scheme=scheme) == status
    alert = AlertState(host="h1", iface="eth0", active=True, reason="errors", since=GOOD.ts)
    assert decode(scheme.alert("h1", "eth0"), encode(alert), scheme=scheme) == alert


def test_payload_encoding_is_compact_json_under_the_cap() -> None:
    worst = sample(iface="x" * 15, host="h" * 64, rx_bytes=2**64 - 1, rx_bytes_per_sec=1e300)
    assert len(encode(worst)) < MAX_PAYLOAD_BYTES // 4


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"not json", Reason.BAD_JSON),
        (b"\xff\xfe\x00", Reason.BAD_JSON),
        (b"[" * 5000, Reason.BAD_JSON),
        (b"[]", Reason.SCHEMA),
        (b"{}", Reason.SCHEMA),
        (b"x" * (MAX_PAYLOAD_BYTES + 1), Reason.TOO_LARGE),
    ],
)
def test_reason_codes(payload: bytes, reason: Reason) -> None:
    assert reason_of(TOPIC, payload) is reason


def test_unknown_version() -> None:
    data = json.loads(encode(GOOD))
    data["v"] = 2
    data["new_field"] = "from the future"
    assert reason_of(TOPIC, json.dumps(data).encode()) is Reason.UNKNOWN_VERSION


def test_nan_and_infinity_are_schema_errors() -> None:
    raw = encode(GOOD).replace(b'"rx_bytes_per_sec":null', b'"rx_bytes_per_sec":NaN')
    assert reason_of(TOPIC, raw) in (Reason.SCHEMA, Reason.BAD_JSON)
    raw = encode(GOOD).replace(b'"rx_bytes_per_sec":null', b'"rx_bytes_per_sec":1e999')
    assert reason_of(TOPIC, raw) is Reason.SCHEMA


def test_topic_mismatch_host_and_iface() -> None:
    assert reason_of(scheme.sample("h2", "eth0"), encode(GOOD)) is Reason.TOPIC_MISMATCH
    assert reason_of(scheme.sample("h1", "eth1"), encode(GOOD)) is Reason.TOPIC_MISMATCH
    status = HostStatus(host="h1", state=HostState.ONLINE, version="x", interval_s=1)
    assert reason_of(scheme.status("h2"), encode(status)) is Reason.TOPIC_MISMATCH


def test_clock_skew_future_refused_past_accepted() -> None:
    now = GOOD.ts
    skew = timedelta(minutes=5)
    late = sample(ts=now + timedelta(minutes=10))
    assert reason_of(TOPIC, encode(late), now=now, max_clock_skew=skew) is Reason.CLOCK_SKEW
    old = sample(ts=now - timedelta(days=3))
    assert decode(TOPIC, encode(old), scheme=scheme, now=now, max_clock_skew=skew) == old


def test_non_utf8_topic_bytes() -> None:
    assert reason_of(b"ifpulse/v1/h1/iface/\xff", encode(GOOD)) is Reason.BAD_TOPIC


def test_rejection_record_round_trip() -> None:
    err = DecodeError(Reason.SCHEMA, "rx_bytes: bad")
    rej = make_rejection(err, TOPIC, b"\xff" * 5000, now=datetime.now(UTC), ingestor="i1")
    assert len(rej.payload) <= 512
    assert decode_rejection(encode(rej)) == rej


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


def _mutated_samples() -> st.SearchStrategy[bytes]:
    base = json.loads(encode(GOOD))

    def mutate(key: str, value: object) -> bytes:
        data = dict(base)
        data[key] = value
        return json.dumps(data, allow_nan=True).encode()

    return st.builds(mutate, st.sampled_from([*base.keys(), "extra"]), json_values)


payloads = st.one_of(
    st.binary(max_size=2048),
    json_values.map(lambda v: json.dumps(v, allow_nan=True).encode()),
    _mutated_samples(),
    st.integers(0, 4).map(lambda n: b"x" * (MAX_PAYLOAD_BYTES + 1 + n * 250_000)),
)
topics = st.one_of(
    st.just(TOPIC), st.text(max_size=60), st.binary(max_size=60), st.just(scheme.status("h1"))
)


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(topic=topics, payload=payloads)
def test_decode_never_raises_anything_else(topic: str | bytes, payload: bytes) -> None:
    try:
        msg = decode(topic, payload, scheme=scheme, max_clock_skew=timedelta(minutes=5))
    except DecodeError as err:
        assert isinstance(err.reason, Reason)
    else:
        assert isinstance(msg, InterfaceSample | HostStatus | AlertState | Cleared)


def test_an_empty_message_on_a_retained_topic_is_a_clear() -> None:
    # What the broker forwards when `mosquitto_pub -r -n -t TOPIC` clears a retained message.
    when = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    got = decode(scheme.alert("h1", "eth0"), b"", scheme=scheme, now=when)
    assert got == Cleared(host="h1", iface="eth0", at=when)
    assert got.at == when.replace(microsecond=678000)  # the store's millisecond precision
    status = decode(scheme.status("h1"), b"", scheme=scheme, now=when)
    assert status == Cleared(host="h1", iface=None, at=when)


def test_an_empty_sample_is_still_bad_json() -> None:
    # Samples are never retained: an empty one is a broken publisher, worth a dead letter.
    assert reason_of(TOPIC, b"") is Reason.BAD_JSON


def test_a_clear_for_a_host_id_the_schema_refuses_is_rejected() -> None:
    bad = scheme.alert("h1", "eth0").replace("h1", "bad host!")
    assert reason_of(bad, b"", now=datetime.now(UTC)) in (Reason.BAD_TOPIC, Reason.SCHEMA)


def test_encode_gives_the_bytes_of_model_dump_json() -> None:
    # encode() calls pydantic-core's serializer directly; the wire bytes must not change.
    paris = timezone(timedelta(hours=1))
    models = [
        GOOD,
        sample(iface="x" * 15, host="h" * 64, rx_bytes=2**64 - 1, rx_bytes_per_sec=1e300),
        HostStatus(host="h1", state=HostState.OFFLINE, ts=None, version="0.1", interval_s=10),
        AlertState(host="h1", iface="eth0", active=True, reason="é ✓", since=GOOD.ts),
        AlertState(host="h1", iface="eth0", active=False, since=datetime(2026, 1, 1, tzinfo=paris)),
        make_rejection(DecodeError(Reason.SCHEMA, "x"), "t/\u00e9", b"\xff", now=GOOD.ts),
        Cleared(host="h1", iface="eth0", at=GOOD.ts),
    ]
    for model in models:
        assert encode(model) == model.model_dump_json().encode("utf-8")
