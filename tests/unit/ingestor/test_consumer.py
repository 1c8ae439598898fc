from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from ingestor.consumer import CachingScheme, Consumer, ConsumerConfig, Received
from ingestor.service import subscription_filters
from schemas import DecodeError, InterfaceSample, Reason, TopicScheme
from tests.factories import sample
from tests.unit.ingestor.fake_mqtt import FakeClient

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def _consumer(scheme: TopicScheme) -> tuple[Consumer, FakeClient, list[Received]]:
    got: list[Received] = []
    config = ConsumerConfig(
        host="127.0.0.1",
        port=1883,
        client_id="ing",
        filters=subscription_filters(scheme, None),
        receive_maximum=1000,
        session_expiry=3600,
        keepalive=30,
        max_clock_skew=timedelta(minutes=5),
    )
    consumer = Consumer(config, scheme, got.append, client_factory=FakeClient, clock=lambda: NOW)
    client = consumer.client
    assert isinstance(client, FakeClient)
    return consumer, client, got


def test_connects_persistent_mqtt5_session_with_receive_maximum() -> None:
    scheme = TopicScheme("p")
    consumer, client, _ = _consumer(scheme)
    consumer.start()
    props = client.connect_args["properties"]
    assert client.connect_args["clean_start"] is False
    assert props.ReceiveMaximum == 1000 and props.SessionExpiryInterval == 3600
    topics = [t for t, _ in client.subscribed[0]]
    assert topics == [scheme.sample_filter(), scheme.status_filter(), scheme.alert_filter()]
    client.connected(session_present=True)
    assert len(client.subscribed) == 1  # a resumed session keeps its subscriptions


def test_shared_subscription_filters() -> None:
    scheme = TopicScheme("p")
    assert subscription_filters(scheme, "g1") == (
        "$share/g1/p/v1/+/iface/+",
        "$share/g1/p/v1/+/status",
        "$share/g1/p/v1/+/alert/+",
    )


def test_decodes_good_and_classifies_bad_without_raising() -> None:
    scheme = TopicScheme("p")
    consumer, client, got = _consumer(scheme)
    consumer.start()
    s = sample()
    client.deliver(scheme.sample(s.host, s.iface), s)
    client.deliver(scheme.sample(s.host, s.iface), b"not json")
    client.deliver(scheme.sample("other", s.iface), s)
    client.deliver(b"p/v1/\xff/iface/eth0", s)
    future = sample(ts=NOW + timedelta(minutes=6))
    client.deliver(scheme.sample(s.host, s.iface), future)
    old = sample(ts=NOW - timedelta(days=30))
    client.deliver(scheme.sample(s.host, s.iface), old)
    assert isinstance(got[0].message, InterfaceSample) and got[0].error is None
    reasons = [r.error.reason if r.error else None for r in got[1:]]
    assert reasons == [
        Reason.BAD_JSON,
        Reason.TOPIC_MISMATCH,
        Reason.BAD_TOPIC,
        Reason.CLOCK_SKEW,
        None,
    ]
    assert "\ufffd" in got[3].topic


def test_acks_only_on_the_connection_that_delivered() -> None:
    scheme = TopicScheme("p")
    consumer, client, got = _consumer(scheme)
    consumer.start()
    s = sample()
    client.deliver(scheme.sample(s.host, s.iface), s)
    client.dropped()
    assert consumer.ack(got[0]) is False
    client.connected(session_present=True)
    assert consumer.ack(got[0]) is False  # a packet id of the old connection
    client.deliver(scheme.sample(s.host, s.iface), s)
    assert consumer.ack(got[1]) is True
    assert client.acks == [got[1].mid]


def test_ack_many_acks_only_what_the_current_connection_delivered() -> None:
    scheme = TopicScheme("p")
    consumer, client, got = _consumer(scheme)
    consumer.start()
    s = sample()
    client.deliver(scheme.sample(s.host, s.iface), s)
    client.dropped()
    client.connected(session_present=True)
    for _ in range(2):
        client.deliver(scheme.sample(s.host, s.iface), s)
    assert consumer.ack_many(got) == 2
    assert client.acks == [got[1].mid, got[2].mid]
    client.dropped()
    assert consumer.ack_many(got) == 0, "acked while disconnected"


def test_paused_consumer_leaves_messages_to_the_broker() -> None:
    scheme = TopicScheme("p")
    consumer, client, got = _consumer(scheme)
    consumer.start()
    consumer.pause()
    client.deliver(scheme.sample("h1", "eth0"), sample())
    assert got == []


def test_a_failing_sink_never_escapes_into_paho() -> None:
    scheme = TopicScheme("p")
    config = ConsumerConfig("127.0.0.1", 1883, "ing", (), 10, 60, 30, timedelta(minutes=5))

    def broken(_item: Received) -> None:
        raise RuntimeError("boom")

    consumer = Consumer(config, scheme, broken, client_factory=FakeClient, clock=lambda: NOW)
    consumer.start()
    client = consumer.client
    assert isinstance(client, FakeClient)
    client.deliver(scheme.sample("h1", "eth0"), sample())
    assert client.acks == []


def test_a_batch_of_pubacks_is_queued_as_one_buffer_on_a_real_paho_client() -> None:
    # Pins down the use of paho's private _packet_queue: if paho changes, this fails.
    scheme = TopicScheme("p")
    config = ConsumerConfig("127.0.0.1", 1883, "ing", (), 10, 60, 30, timedelta(minutes=5))
    consumer = Consumer(config, scheme, lambda _item: None, clock=lambda: NOW)
    client = consumer.client
    flags, ok = SimpleNamespace(session_present=True), SimpleNamespace(is_failure=False)
    consumer._on_connect(client, None, flags, ok, None)  # as paho's loop would
    items = [Received("t", b"", mid, 1, 1) for mid in (1, 2, 300)]
    assert consumer.ack_many(items) == 3
    packets = [p["packet"] for p in client._out_packet]
    assert packets == [b"\x40\x02\x00\x01\x40\x02\x00\x02\x40\x02\x01\x2c"]


def test_caching_scheme_parses_as_the_plain_one_and_still_refuses() -> None:
    plain, cached = TopicScheme("p"), CachingScheme("p")
    for topic in ("p/v1/h1/iface/eth0", "p/v1/h%2F1/iface/e%2Bx", "p/v1/h1/status"):
        assert cached.parse(topic) == plain.parse(topic)
        assert cached.parse(topic) == plain.parse(topic)  # the remembered one
    for _ in range(2):
        with pytest.raises(DecodeError):
            cached.parse("p/v1/nonsense")
