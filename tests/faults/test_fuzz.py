"""Hostile input: over 10,000 generated messages (hypothesis mutations of a valid sample,
random bytes, deep JSON, huge numbers, NaN/Infinity, wrong types, unicode names, oversize,
bad topics, spoofed hosts, other versions) go through the real broker to a real ingestor
process. It stays up with bounded memory; every bad message is dead-lettered with the reason
`schemas.decode` gives it, and every good one is stored, once."""

from __future__ import annotations

import json
import random
import signal
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from schemas import DecodeError, InterfaceSample, Reason, TopicScheme, decode, decode_rejection
from tests.factories import sample
from tests.faults.pipeline import (
    RESULTS,
    Figures,
    rss_kib,
    start_ingestor,
    stop_all,
    stored_points,
)
from tests.integration.ingestor.helpers import Collector, Publisher, wait_for
from tests.services.mosquitto import Mosquitto

pytestmark = pytest.mark.faults
IFACES = ("eth0", "wlan0", "é0", "wg+1", "eth0.10", "br-ü", "🙂x", "a#b")
SKEW = timedelta(minutes=5)
MAX_RSS_MIB = 300

Message = tuple[str, bytes]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


class Corpus:
    """Generated (topic, payload) pairs, each with a unique seq and time so keys never clash."""

    def __init__(self, prefix: str, host: str) -> None:
        self.scheme = TopicScheme(prefix)
        self.host = host
        self.messages: list[Message] = []
        self.t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)

    def fields(self, iface: str | None = None) -> dict[str, Any]:
        """A valid sample's JSON fields, with the next seq and time."""
        i = len(self.messages)
        name = iface or IFACES[i % len(IFACES)]
        valid = sample(self.host, name, ts=self.t0 + timedelta(milliseconds=i), seq=i)
        return dict(valid.model_dump(mode="json"))

    def add(self, fields: dict[str, Any] | bytes | str, topic: str | None = None) -> None:
        """One message; on the topic its host and iface name, unless given."""
        if isinstance(fields, dict):
            topic = topic or self.scheme.sample(
                str(fields.get("host", self.host)), str(fields.get("iface", "eth0"))
            )
            payload = json.dumps(fields, allow_nan=True).encode()
        else:
            payload = fields.encode() if isinstance(fields, str) else fields
        self.messages.append((topic or self.scheme.sample(self.host, "eth0"), payload))


def crafted(corpus: Corpus, rng: random.Random) -> None:
    """Every hostile shape the issue lists, plus good samples with unicode interface names."""
    for _ in range(2000):
        corpus.add(corpus.fields())
    for _ in range(3500):  # random bytes, some of them starting like JSON
        head = rng.choice([b"", b"{", b'{"v": 1, ', b"["])
        corpus.add(head + rng.randbytes(rng.randrange(0, 1500)))
    for depth in range(10, 4000, 20):  # deep nesting, within the size limit
        f = corpus.fields()
        f["rx_bytes"] = "__DEEP__"
        text = json.dumps(f).replace('"__DEEP__"', "[" * depth + "]" * depth)
        corpus.add(text, corpus.scheme.sample(corpus.host, str(f["iface"])))
    huge = ["2" * 400, "18446744073709551616", "-1", "1e308", "1e999", "NaN", "Infinity",
            "-Infinity", "0.5", "1" + "0" * 4000]  # fmt: skip
    for i in range(300):
        f = corpus.fields()
        field = rng.choice(["rx_bytes", "tx_packets", "rx_bytes_per_sec", "seq", "mtu"])
        f[field] = "__NUM__"
        text = json.dumps(f).replace('"__NUM__"', huge[i % len(huge)])
        corpus.add(text, corpus.scheme.sample(corpus.host, str(f["iface"])))
    wrong: list[Any] = ["12", [1], {"a": 1}, True, None, 1.5, "", "x" * 300]
    for i in range(300):
        f = corpus.fields()
        f[rng.choice(sorted(f))] = wrong[i % len(wrong)]
        usable = isinstance(f["iface"], str) and 0 < len(f["iface"]) < 16
        corpus.add(f, None if usable else corpus.scheme.sample(corpus.host, "eth0"))
    for i in range(200):  # oversize: 8 KiB + up to 56 KiB
        f = corpus.fields()
        f["boot_id"] = "x" * (8 * 1024 + i * 280)
        corpus.add(f)
    for i in range(300):  # topics the filters deliver but the scheme refuses
        f = corpus.fields()
        bad = [f"{corpus.scheme.prefix}/v1/{corpus.host}/iface/eth%30",
               f"{corpus.scheme.prefix}/v1/bad host!/iface/eth0",
               f"{corpus.scheme.prefix}/v1/{corpus.host}/iface/" + "x" * 40,
               f"{corpus.scheme.prefix}/v1/{corpus.host}/iface/%zz",
               f"{corpus.scheme.prefix}/v1/{'h' * 80}/status"]  # fmt: skip
        corpus.add(f, bad[i % len(bad)])
    for i in range(200):  # spoofing: the payload names another host or interface
        f = corpus.fields()
        other = corpus.scheme.sample("victim", str(f["iface"])) if i % 2 else None
        topic = other or corpus.scheme.sample(corpus.host, "other0")
        corpus.add(f, topic)
    for _ in range(100):
        f = corpus.fields()
        f["v"] = 2
        corpus.add(f)
    for i in range(200):  # garbage on status and alert topics
        scheme = corpus.scheme
        topic = scheme.status(corpus.host) if i % 2 else scheme.alert(corpus.host, "eth0")
        corpus.add(rng.choice([b"{}", b'{"v": 1}', b"null", b"[]", rng.randbytes(50)]), topic)


def mutations(corpus: Corpus, n: int) -> None:
    """hypothesis: a valid sample with one field replaced, removed, or one field added."""

    @settings(
        max_examples=n,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(st.data())
    def generate(data: st.DataObject) -> None:
        f = corpus.fields()
        keep = ("host", "iface", "ts", "seq")  # so a mutant that stays valid keeps its own key
        field = data.draw(st.sampled_from(sorted(set(f) - set(keep))))
        action = data.draw(st.sampled_from(["replace", "remove", "add"]))
        if action == "replace":
            f[field] = data.draw(json_values)
        elif action == "remove":
            del f[field]
        else:
            f[data.draw(st.text(min_size=1, max_size=10))] = data.draw(json_values)
        corpus.add(f)

    generate()


def expected(corpus: Corpus) -> tuple[set[tuple[str, str, int]], Counter[Reason]]:
    """What the ingestor must do with each message: the store keys and the dead-letter reasons."""
    good: set[tuple[str, str, int]] = set()
    bad: Counter[Reason] = Counter()
    now = datetime.now(UTC)
    for topic, payload in corpus.messages:
        try:
            msg = decode(topic, payload, scheme=corpus.scheme, now=now, max_clock_skew=SKEW)
        except DecodeError as exc:
            bad[exc.reason] += 1
            continue
        if isinstance(msg, InterfaceSample):
            good.add((msg.host, msg.iface, msg.seq))
    return good, bad


class RssWatch:
    """Samples a process's resident memory every 50 ms; keeps the peak."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = self.start = rss_kib(pid)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.wait(0.05):
            try:
                self.peak = max(self.peak, rss_kib(self.pid))
            except (OSError, AssertionError):
                return

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)


def test_fuzz_ingestor_through_the_broker(
    broker_factory: Any, sqlite_url: str, topic_prefix: str, unique: str, tmp_path: Path
) -> None:
    started = time.monotonic()
    broker: Mosquitto = broker_factory()
    corpus = Corpus(topic_prefix, unique)
    crafted(corpus, random.Random(9))
    mutations(corpus, 3200)
    good, bad = expected(corpus)
    total = len(corpus.messages)
    assert total >= 10_000
    assert {Reason.BAD_JSON, Reason.SCHEMA, Reason.TOO_LARGE, Reason.BAD_TOPIC,
            Reason.TOPIC_MISMATCH, Reason.UNKNOWN_VERSION} <= set(bad)  # fmt: skip
    dead = Collector(broker, f"{topic_prefix}/v1/_rejected")
    ing = start_ingestor(broker, sqlite_url, topic_prefix, f"ing-{unique}", tmp_path / "i.log")
    watch = RssWatch(ing.popen.pid)
    pub = Publisher(broker)
    try:
        rng = random.Random(10)
        shuffled = rng.sample(corpus.messages, total)
        pub.publish(shuffled, timeout=120)
        wait_for(
            lambda: dead.count() >= sum(bad.values()),
            90,
            lambda: f"{dead.count()} of {sum(bad.values())} dead letters\n{ing.tail()}",
        )
        wait_for(
            lambda: ing.popen.poll() is not None or len(stored_points(sqlite_url)) >= len(good),
            60,
            lambda: f"{len(stored_points(sqlite_url))} of {len(good)} stored\n{ing.tail()}",
        )
        assert ing.popen.poll() is None, f"the ingestor died:\n{ing.tail()}"
        assert ing.stop(signal.SIGTERM) == 0, ing.tail()
    finally:
        watch.close()
        pub.close()
        dead.close()
        stop_all(ing)
    rejections = [decode_rejection(p) for p in dead.payloads]
    got = Counter(r.reason for r in rejections)
    stored = stored_points(sqlite_url)
    figures = Figures(
        "fuzz: 10k+ hostile messages",
        total,
        len(stored),
        len(good - set(stored)),
        len(stored) - len(set(stored)),
        time.monotonic() - started,
        f"{len(good)} good, {sum(bad.values())} bad -> {len(rejections)} dead letters; "
        f"ingestor RSS {watch.start // 1024} -> peak {watch.peak // 1024} MiB",
    )
    RESULTS.append(figures)
    print(f"\n{figures.line()}\n{dict(got)}")
    assert got == bad, "every bad message dead-lettered once, with the expected reason"
    assert set(stored) == good and len(stored) == len(good), "every good one stored, once"
    assert all(r.detail for r in rejections), "every dead letter says why"
    assert watch.peak < MAX_RSS_MIB * 1024, f"ingestor RSS peaked at {watch.peak // 1024} MiB"
