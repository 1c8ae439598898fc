"""The topic scheme: build/parse round trip, percent-encoding, refusals."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas import DecodeError, Reason, TopicKind, TopicScheme

scheme = TopicScheme()
names = st.text(min_size=1, max_size=30)


@given(host=names, iface=names)
def test_round_trip_any_names(host: str, iface: str) -> None:
    for topic, kind in (
        (scheme.sample(host, iface), TopicKind.SAMPLE),
        (scheme.alert(host, iface), TopicKind.ALERT),
    ):
        parsed = scheme.parse(topic)
        assert (parsed.kind, parsed.host, parsed.iface) == (kind, host, iface)
    assert scheme.parse(scheme.status(host)).host == host


@given(iface=names)
def test_encoded_level_is_a_single_wildcard_free_level(iface: str) -> None:
    topic = scheme.sample("h1", iface)
    assert topic.count("/") == 4
    assert not set("+# \x00") & set(topic)
    assert topic.isascii()


def test_examples() -> None:
    assert scheme.sample("pi-4", "eth0.10") == "ifpulse/v1/pi-4/iface/eth0.10"
    assert scheme.sample("h", "wg+1#x") == "ifpulse/v1/h/iface/wg%2B1%23x"
    assert scheme.status("h") == "ifpulse/v1/h/status"
    assert scheme.alert("h", "eth0") == "ifpulse/v1/h/alert/eth0"
    assert scheme.rejected() == "ifpulse/v1/_rejected"
    assert scheme.sample_filter() == "ifpulse/v1/+/iface/+"
    assert TopicScheme("site/a").status("h") == "site/a/v1/h/status"


@pytest.mark.parametrize(
    "topic",
    [
        "other/v1/h/iface/eth0",
        "ifpulse/v2/h/iface/eth0",
        "ifpulse/v1/h/iface",
        "ifpulse/v1/h/iface/eth0/extra",
        "ifpulse/v1/h/weird/eth0",
        "ifpulse/v1//iface/eth0",
        "ifpulse/v1/h/iface/eth%30",  # not canonical: '0' needs no escape
        "ifpulse/v1/h/iface/%ff",  # not UTF-8
        "ifpulse/v1/h/iface/a%2",
    ],
)
def test_foreign_or_malformed_topics_are_bad_topic(topic: str) -> None:
    with pytest.raises(DecodeError) as err:
        scheme.parse(topic)
    assert err.value.reason is Reason.BAD_TOPIC


@pytest.mark.parametrize("prefix", ["", "a/+", "#", "/abs", "$SYS"])
def test_invalid_prefix(prefix: str) -> None:
    with pytest.raises(ValueError, match="prefix"):
        TopicScheme(prefix)
