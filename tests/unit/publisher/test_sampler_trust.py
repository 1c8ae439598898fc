"""Samples built without validation are exactly the samples validation builds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from publisher.collect import InterfaceReading
from publisher.netdev import NetDevCounters
from publisher.sampler import Sampler
from schemas import InterfaceKind, InterfaceSample, OperState, encode
from tests.unit.publisher.readings import eth0

COUNTER = st.one_of(
    st.integers(0, 2**20),
    st.integers(2**32 - 2**20, 2**32 + 2**20),
    st.integers(2**64 - 2**20, 2**64 + 1),
    st.sampled_from([-1, 0, 2**64 - 1]),
)
READING = st.builds(
    InterfaceReading,
    name=st.sampled_from(["eth0", "veth1", "wg0", "bad/name", "x" * 16, "é" * 7]),
    counters=st.builds(NetDevCounters._make, st.lists(COUNTER, min_size=16, max_size=16)),
    is_up=st.booleans(),
    oper_state=st.sampled_from([None, *OperState]),
    carrier=st.none(),
    speed_mbps=st.sampled_from([None, 0, 100, 10**9, 10**9 + 1]),
    mtu=st.sampled_from([None, 1500, 2**31]),
    flags=st.none(),
    ifindex=st.sampled_from([None, 1, 2]),
    mac=st.sampled_from([None, "52:54:00:12:34:56", "XX"]),
    arp_type=st.none(),
    kind=st.sampled_from(list(InterfaceKind)),
)
CYCLE = st.tuples(
    st.sampled_from([-1.0, 0.0, 4e-7, 0.5, 10.0, 1e6]),  # monotonic step
    st.sampled_from(["b1", "b2", "bad id!"]),
    st.lists(READING, max_size=4, unique_by=lambda r: r.name),
)
START = datetime(2026, 11, 22, 12, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))


def run(
    cycles: list[tuple[float, str, list[InterfaceReading]]], trust: bool
) -> list[list[InterfaceSample]]:
    clock = {"mono": 100.0, "wall": START}
    sampler = Sampler(
        "h1", 7, wallclock=lambda: clock["wall"], monotonic=lambda: clock["mono"], trust=trust
    )
    out = []
    for step, boot_id, readings in cycles:
        clock["mono"] += step
        clock["wall"] += timedelta(seconds=max(step, 0), microseconds=1)
        # The same readings twice: the second time, every valid one is trusted.
        out.append(sampler.sample(readings, boot_id))
        out.append(sampler.sample(readings, boot_id))
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(CYCLE, min_size=1, max_size=5))
def test_trusted_samples_equal_validated_ones(
    cycles: list[tuple[float, str, list[InterfaceReading]]],
) -> None:
    trusted, validated = run(cycles, trust=True), run(cycles, trust=False)
    assert trusted == validated
    for got, want in zip(trusted, validated, strict=True):
        assert [encode(s) for s in got] == [encode(s) for s in want]
        assert [s.model_dump() for s in got] == [s.model_dump() for s in want]
        assert [s.model_fields_set for s in got] == [s.model_fields_set for s in want]
        assert [s.delta.model_fields_set for s in got] == [s.delta.model_fields_set for s in want]


def test_a_known_interface_is_not_validated_again(monkeypatch: pytest.MonkeyPatch) -> None:
    reading = eth0(range(16))
    clock = iter(range(100, 200, 10))
    sampler = Sampler("h1", wallclock=lambda: datetime.now(UTC), monotonic=lambda: next(clock))
    calls = []
    validate = InterfaceSample.model_validate
    monkeypatch.setattr(InterfaceSample, "model_validate", lambda v: calls.append(v) or validate(v))
    for _ in range(3):
        samples = sampler.sample([reading, reading._replace(name="eth1")], "b1")
        assert [s.iface for s in samples] == ["eth0", "eth1"]
    # Only the first cycle validates (eth0 and eth1); later cycles validate only the time.
    assert len(calls) == 2
