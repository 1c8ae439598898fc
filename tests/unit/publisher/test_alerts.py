"""Alert thresholds, overrides and change-only evaluation."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from publisher.alerts import (
    OFF,
    AlertEvaluator,
    AlertPublisher,
    Override,
    Thresholds,
)
from schemas import AlertState, InterfaceSample, TopicScheme, decode
from tests.factories import sample
from tests.unit.publisher.fakes import FakeClock

T0 = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)


def tick(
    n: int, iface: str = "eth0", interval: float | None = 10.0, **delta: int | None
) -> InterfaceSample:
    """Sample n of an interface, with the given deltas (others 0)."""
    deltas: dict[str, Any] = {
        "rx_errors": 0,
        "tx_errors": 0,
        "rx_dropped": 0,
        "tx_dropped": 0,
    }
    deltas.update(delta)
    return sample(
        iface=iface, ts=T0 + timedelta(seconds=10 * n), seq=n, interval_s=interval, delta=deltas
    )


TH = Thresholds(errors_per_sec=5.0, drops_per_sec=10.0)


def test_first_known_sample_reports_the_initial_state() -> None:
    ev = AlertEvaluator("h1", TH)
    state = ev.evaluate(tick(1))
    assert state is not None
    assert (state.active, state.reason, state.since) == (False, None, T0 + timedelta(seconds=10))
    assert (state.errors_per_sec, state.drops_per_sec) == (0.0, 0.0)
    assert ev.evaluate(tick(2)) is None  # unchanged


def test_null_deltas_never_trigger_or_report() -> None:
    ev = AlertEvaluator("h1", TH)
    assert ev.evaluate(tick(0, interval=None)) is None
    assert ev.evaluate(tick(1, rx_errors=None)) is None
    assert ev.evaluate(tick(2, tx_dropped=None)) is None
    assert ev.evaluate(tick(3, rx_errors=10_000)) is not None


def test_raises_and_clears_only_on_change() -> None:
    ev = AlertEvaluator("h1", TH)
    assert ev.evaluate(tick(1)) is not None
    raised = ev.evaluate(tick(2, rx_errors=120))  # 12/s > 5/s
    assert raised is not None
    assert raised.active
    assert raised.since == T0 + timedelta(seconds=20)
    assert raised.errors_per_sec == pytest.approx(12.0)
    assert raised.reason == "errors 12.0/s > 5/s (rx_errors 12.0/s, tx_errors 0.0/s)"
    assert ev.evaluate(tick(3, rx_errors=200)) is None  # still active: no message
    cleared = ev.evaluate(tick(4))
    assert cleared is not None
    assert not cleared.active
    assert cleared.reason is None
    assert cleared.since == T0 + timedelta(seconds=40)


def test_threshold_is_strictly_greater_and_sums_directions() -> None:
    ev = AlertEvaluator("h1", TH)
    assert ev.evaluate(tick(1, rx_errors=25, tx_errors=25)) is not None  # 5/s: not over
    state = ev.evaluate(tick(2, rx_errors=25, tx_errors=26))
    assert state is not None
    assert state.active


def test_drops_and_errors_both_named() -> None:
    ev = AlertEvaluator("h1", TH)
    state = ev.evaluate(tick(1, rx_errors=100, tx_dropped=500))
    assert state is not None
    assert state.reason is not None
    assert state.reason.startswith("errors 10.0/s > 5/s")
    assert "drops 50.0/s > 10/s (rx_dropped 0.0/s, tx_dropped 50.0/s)" in state.reason


def test_interfaces_are_independent_and_forget_resets() -> None:
    ev = AlertEvaluator("h1", TH)
    assert ev.evaluate(tick(1, iface="eth0", rx_errors=100)) is not None
    assert ev.evaluate(tick(1, iface="wlan0")) is not None
    assert ev.evaluate(tick(2, iface="eth0", rx_errors=100)) is None
    ev.forget("eth0")
    again = ev.evaluate(tick(3, iface="eth0", rx_errors=100))
    assert again is not None
    assert again.active


def test_overrides_by_glob_first_match_wins() -> None:
    th = Thresholds(
        errors_per_sec=5.0,
        drops_per_sec=10.0,
        overrides=[Override("wg*", drops_per_sec=OFF), Override("w*", errors_per_sec=0.0)],
    )
    assert th.for_iface("wg0") == (5.0, math.inf)
    assert th.for_iface("wlan0") == (0.0, 10.0)
    assert th.for_iface("eth0") == (5.0, 10.0)
    ev = AlertEvaluator("h1", th)
    quiet = ev.evaluate(tick(1, iface="wg0", rx_dropped=1_000_000))
    assert quiet is not None
    assert not quiet.active
    noisy = ev.evaluate(tick(1, iface="wlan0", rx_errors=1))
    assert noisy is not None
    assert noisy.active


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("wg*=5,off", Override("wg*", 5.0, math.inf)),
        ("eth0=-,100", Override("eth0", None, 100.0)),
        ("br-*=0.5,-", Override("br-*", 0.5, None)),
        ("a=b=1,2", Override("a=b", 1.0, 2.0)),
    ],
)
def test_override_parse(text: str, expected: Override) -> None:
    assert Override.parse(text) == expected


@pytest.mark.parametrize("text", ["wg*", "=1,2", "x=1", "x=1,2,3", "x=abc,1", "x=-1,1", "x=nan,1"])
def test_override_parse_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="alert override"):
        Override.parse(text)


def test_alert_publisher_publishes_changes_retained_on_the_alert_topic() -> None:
    scheme = TopicScheme("pfx")
    sent: list[tuple[str, bytes, bool]] = []
    pub = AlertPublisher(lambda t, p, r: sent.append((t, p, r)), scheme, AlertEvaluator("h1", TH))
    pub.on_sample(tick(1, iface="wg+1"))
    pub.on_sample(tick(2, iface="wg+1"))
    pub.on_sample(tick(3, iface="wg+1", rx_errors=1000))
    assert [(t, r) for t, _, r in sent] == [("pfx/v1/h1/alert/wg%2B1", True)] * 2
    msgs = [decode(t, p, scheme=scheme) for t, p, _ in sent]
    assert all(isinstance(m, AlertState) for m in msgs)
    assert [m.active for m in msgs if isinstance(m, AlertState)] == [False, True]


def test_reconnect_re_announces_current_states() -> None:
    """A state change published while offline must not stay lost: on_connect repeats it."""
    scheme = TopicScheme("pfx")
    sent: list[tuple[str, bytes, bool]] = []
    pub = AlertPublisher(lambda t, p, r: sent.append((t, p, r)), scheme, AlertEvaluator("h1", TH))
    pub.on_connect()
    assert sent == []
    pub.on_sample(tick(1))
    pub.on_sample(tick(2, rx_errors=1000))
    sent.clear()
    pub.on_connect()
    (msg,) = [decode(t, p, scheme=scheme) for t, p, _ in sent]
    assert isinstance(msg, AlertState) and msg.active


def _retiring(
    max_missing: int = 32,
) -> tuple[AlertPublisher, list[tuple[str, bytes, bool]], FakeClock]:
    sent: list[tuple[str, bytes, bool]] = []
    clock = FakeClock(0.0)
    pub = AlertPublisher(
        lambda t, p, r: sent.append((t, p, r)),
        TopicScheme("pfx"),
        AlertEvaluator("h1", TH),
        gone_after_s=100.0,
        max_missing=max_missing,
        clock=clock,
    )
    return pub, sent, clock


def test_a_gone_interface_has_its_retained_alert_cleared_once() -> None:
    pub, sent, clock = _retiring()
    pub.on_cycle([tick(1, "eth0"), tick(1, "veth1")])
    pub.on_cycle([tick(2, "eth0"), tick(2, "veth1", rx_errors=1000)])
    sent.clear()
    for n, now in enumerate((50.0, 100.0, 150.0, 250.0), start=3):
        clock.now = now
        pub.on_cycle([tick(n, "eth0")])
    # Missing from t=50: gone once more than 100 s have passed since it was last seen (t=0).
    assert sent == [("pfx/v1/h1/alert/veth1", b"", True)]
    sent.clear()
    pub.on_connect()  # a gone interface is not re-announced
    assert [t for t, _, _ in sent] == ["pfx/v1/h1/alert/eth0"]


def test_an_interface_back_in_time_keeps_its_alert() -> None:
    pub, sent, clock = _retiring()
    pub.on_cycle([tick(1, "eth0"), tick(1, "eth1")])
    pub.on_cycle([tick(2, "eth0"), tick(2, "eth1")])
    sent.clear()
    clock.now = 90.0
    pub.on_cycle([tick(3, "eth0")])
    clock.now = 95.0
    pub.on_cycle([tick(4, "eth0"), tick(4, "eth1")])
    clock.now = 180.0
    pub.on_cycle([tick(5, "eth0"), tick(5, "eth1")])
    assert [p for _, p, _ in sent] == []


def test_beyond_max_missing_the_longest_missing_go_at_once() -> None:
    pub, sent, clock = _retiring(max_missing=1)
    pub.on_cycle([tick(1, i) for i in ("eth0", "veth1", "veth2")])
    pub.on_cycle([tick(2, i) for i in ("eth0", "veth1", "veth2")])
    sent.clear()
    clock.now = 1.0
    pub.on_cycle([tick(3, "eth0"), tick(3, "veth2")])  # veth1 missing: within the 1 kept
    clock.now = 2.0
    pub.on_cycle([tick(4, "eth0")])  # veth2 missing too: veth1 (missing longest) goes
    assert sent == [("pfx/v1/h1/alert/veth1", b"", True)]


def test_an_interface_that_never_had_an_alert_state_publishes_nothing_when_gone() -> None:
    pub, sent, clock = _retiring()
    pub.on_cycle([tick(1, "eth0"), tick(1, "veth1", interval=None)])
    sent.clear()
    clock.now = 500.0
    pub.on_cycle([tick(2, "eth0")])
    assert sent == []
