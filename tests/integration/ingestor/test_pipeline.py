"""Samples through real mosquitto and a real store: values, series, duplicates, bad input."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from schemas import (
    MAX_PAYLOAD_BYTES,
    AlertState,
    HostStatus,
    Reason,
    TopicScheme,
    decode_rejection,
    encode,
)
from stores import open_store
from tests.integration.ingestor.helpers import (
    FAR_FUTURE,
    FAR_PAST,
    Collector,
    Publisher,
    ThreadIngestor,
    progress,
    samples_for,
    settings,
    stored_keys,
    wait_for,
)
from tests.services.mosquitto import Mosquitto

pytestmark = pytest.mark.integration


def test_samples_land_with_tags_and_values_two_series(
    mosquitto: Mosquitto, store_url: str, topic_prefix: str, unique: str
) -> None:
    """TS0179 TC011/TC016/TC018 adapted: host/iface tags, exact values, separate series."""
    scheme = TopicScheme(topic_prefix)
    sent = samples_for(unique, 20, ifaces=("eth0", "wg+1"))
    ing = ThreadIngestor(settings(mosquitto, store_url, topic_prefix))
    pub = Publisher(mosquitto)
    try:
        pub.publish_samples(scheme, sent)
        wait_for(
            lambda: progress(store_url, unique) == 20,
            10,
            lambda: f"{progress(store_url, unique)} of 20 samples stored",
        )
    finally:
        pub.close()
        assert ing.stop() == 0
    store = open_store(store_url)
    try:
        for iface in ("eth0", "wg+1"):
            got = list(store.samples(unique, iface, FAR_PAST, FAR_FUTURE))
            want = [s for s in sent if s.iface == iface]
            assert got == want, f"series {iface} differs from what was published"
        assert [s.iface for s in store.latest(unique)] == ["eth0", "wg+1"]
    finally:
        store.close()


def test_duplicates_and_replays_make_one_point(
    mosquitto: Mosquitto, store_url: str, topic_prefix: str, unique: str
) -> None:
    scheme = TopicScheme(topic_prefix)
    sent = samples_for(unique, 10)
    ing = ThreadIngestor(settings(mosquitto, store_url, topic_prefix))
    pub = Publisher(mosquitto)
    try:
        pub.publish_samples(scheme, sent * 3)  # duplicates, in one batch and across batches
        wait_for(lambda: ing.ingestor is not None and _stored(ing) >= 30, 10, "30 writes")
        pub.publish_samples(scheme, sent)  # a replayed backlog, after the first copies landed
        wait_for(lambda: _stored(ing) >= 40, 10, "40 writes")
    finally:
        pub.close()
        assert ing.stop() == 0
    keys = stored_keys(store_url, unique)
    assert len(keys) == 10 and len(set(keys)) == 10


def _stored(ing: ThreadIngestor) -> float:
    assert ing.ingestor is not None
    return float(ing.ingestor.metrics.stored._value.get())


def test_status_feeds_the_host_registry(
    mosquitto: Mosquitto, store_url: str, topic_prefix: str, unique: str
) -> None:
    scheme = TopicScheme(topic_prefix)
    status = HostStatus.model_validate(
        {
            "host": unique,
            "state": "online",
            "ts": datetime.now(UTC),
            "version": "9.9.9",
            "interval_s": 10.0,
            "boot_id": None,
            "spool_depth": 0,
            "spool_dropped": 0,
        },
        strict=False,
    )
    pub = Publisher(mosquitto)
    # Retained before the ingestor exists: it must still learn the host's status.
    pub.publish([(scheme.status(unique), encode(status))], retain=True)
    ing = ThreadIngestor(settings(mosquitto, store_url, topic_prefix))
    try:
        pub.publish_samples(scheme, samples_for(unique, 3, ifaces=("eth0", "eth1", "lo")))
        wait_for(lambda: _stored(ing) >= 4, 10, "status and 3 samples stored")
    finally:
        pub.publish([(scheme.status(unique), b"")], retain=True)  # clear the retained message
        pub.close()
        assert ing.stop() == 0
    store = open_store(store_url)
    try:
        record = store.host(unique)
    finally:
        store.close()
    assert record is not None and record.state is not None
    assert record.state.value == "online" and record.version == "9.9.9"
    assert set(record.interfaces) == {"eth0", "eth1", "lo"}


def _bad_messages(scheme: TopicScheme, host: str, n: int) -> list[tuple[str, bytes, Reason]]:
    """n malformed messages, cycling through every reason code."""
    good = samples_for(host, 1)[0]
    body = json.loads(encode(good))
    topic = scheme.sample(host, "eth0")
    future = dict(body, ts=(datetime.now(UTC) + timedelta(hours=1)).isoformat())
    makers = [
        (scheme.sample(host, "eth0").replace("/eth0", "/eth%30"), encode(good), Reason.BAD_TOPIC),
        (topic, b'{"v": 1, "host": ', Reason.BAD_JSON),
        (topic, json.dumps(dict(body, rx_bytes="12")).encode(), Reason.SCHEMA),
        (scheme.sample("someone-else", "eth0"), encode(good), Reason.TOPIC_MISMATCH),
        (topic, b" " * (MAX_PAYLOAD_BYTES + 1), Reason.TOO_LARGE),
        (topic, json.dumps(future).encode(), Reason.CLOCK_SKEW),
        (topic, json.dumps(dict(body, v=2)).encode(), Reason.UNKNOWN_VERSION),
    ]
    assert {m[2] for m in makers} == set(Reason)
    return [makers[i % len(makers)] for i in range(n)]


def test_malformed_messages_are_dead_lettered_and_good_ones_stored(
    mosquitto: Mosquitto, store_url: str, topic_prefix: str, unique: str
) -> None:
    scheme = TopicScheme(topic_prefix)
    good = samples_for(unique, 1000, ifaces=("eth0", "eth1"))
    bad = _bad_messages(scheme, unique, 1000)
    mixed: list[tuple[str, bytes]] = []
    for s, (topic, payload, _) in zip(good, bad, strict=True):
        mixed += [(scheme.sample(s.host, s.iface), encode(s)), (topic, payload)]
    dead = Collector(mosquitto, scheme.rejected())
    ing = ThreadIngestor(settings(mosquitto, store_url, topic_prefix))
    pub = Publisher(mosquitto)
    try:
        pub.publish(mixed)
        wait_for(lambda: dead.count() >= 1000, 20, lambda: f"{dead.count()} of 1000 dead letters")
        wait_for(lambda: _stored(ing) >= 1000, 20, lambda: f"{_stored(ing)} of 1000 stored")
        assert ing.thread.is_alive(), "ingestor died"
    finally:
        pub.close()
        dead.close()
        assert ing.stop() == 0
    assert len(set(stored_keys(store_url, unique))) == 1000
    got = Counter(decode_rejection(p).reason for p in dead.payloads)
    assert got == Counter(reason for _, _, reason in bad)
    assert ing.ingestor is not None
    assert ing.ingestor.dead_letters.counts == dict(got)


def test_two_ingestors_in_a_group_split_the_stream(
    mosquitto: Mosquitto, store_url: str, topic_prefix: str, unique: str
) -> None:
    scheme = TopicScheme(topic_prefix)
    sent = samples_for(unique, 2000, ifaces=("eth0", "eth1", "eth2"))
    group = {"group": f"g{unique}"}
    ings = [
        ThreadIngestor(
            settings(mosquitto, store_url, topic_prefix, client_id=f"{unique}-{i}", **group)
        )
        for i in range(2)
    ]
    pub = Publisher(mosquitto)
    try:
        pub.publish_samples(scheme, sent)
        wait_for(
            lambda: sum(_stored(i) for i in ings) >= 2000,
            20,
            lambda: f"stored {[_stored(i) for i in ings]} of 2000",
        )
    finally:
        pub.close()
        for ing in ings:
            assert ing.stop() == 0
    shares = [_stored(i) for i in ings]
    assert all(share > 0 for share in shares), f"one ingestor took everything: {shares}"
    assert sum(shares) == 2000, f"some messages were processed twice: {shares}"
    keys = stored_keys(store_url, unique)
    assert len(keys) == 2000 and len(set(keys)) == 2000


def test_clearing_a_retained_alert_removes_it_without_a_dead_letter(
    mosquitto: Mosquitto, store_url: str, topic_prefix: str, unique: str
) -> None:
    scheme = TopicScheme(topic_prefix)
    since = datetime.now(UTC) - timedelta(minutes=5)
    alert = AlertState(host=unique, iface="eth9", active=True, reason="errors", since=since)
    dead = Collector(mosquitto, scheme.rejected())
    pub = Publisher(mosquitto)
    ing = ThreadIngestor(settings(mosquitto, store_url, topic_prefix))
    store = open_store(store_url)

    def alerts() -> list[str]:
        return [a.iface for a in store.alerts(unique)]

    try:
        pub.publish([(scheme.alert(unique, "eth9"), encode(alert))], retain=True)
        wait_for(lambda: alerts() == ["eth9"], 10, "the retained alert stored")
        # An operator (or the publisher) clears the retained alert and the retained status.
        pub.publish(
            [(scheme.alert(unique, "eth9"), b""), (scheme.status(unique), b"")], retain=True
        )
        wait_for(lambda: alerts() == [], 10, lambda: f"alert still listed: {alerts()}")
        wait_for(lambda: _stored(ing) >= 3, 10, "the clears acked as stored")
    finally:
        pub.close()
        assert ing.stop() == 0
        store.close()
        dead.close()
    assert dead.payloads == []
