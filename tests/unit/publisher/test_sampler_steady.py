"""The steady path (a known link, counters growing) builds exactly the samples validation builds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import publisher.sampler as sampler_module
from publisher.netdev import NetDevCounters
from publisher.payloads import SampleEncoder
from publisher.sampler import Sampler
from schemas import InterfaceKind, InterfaceSample, OperState, encode
from tests.unit.publisher.readings import eth0

BASE = eth0([10**6] * 16)
STEP = st.one_of(
    st.integers(0, 3000),
    st.sampled_from([-1, -(10**6), 2**32, 2**64]),  # down (reset or wrap), huge, past the bounds
)
CHANGE = st.sampled_from(
    [
        {},
        {},
        {},
        {"ifindex": 3},
        {"oper_state": OperState.DOWN, "is_up": False},
        {"oper_state": None},
        {"speed_mbps": 10},
        {"mtu": 9000},
        {"mac": None},
        {"kind": InterfaceKind.VETH},
        {"name": "bad/name"},
    ]
)
CYCLE = st.tuples(
    st.sampled_from([0.1, 0.1, 10.0, 1e-7, 0.0, -1.0, 1e9]),  # monotonic step
    st.sampled_from(["b1", "b1", "b1", "b2"]),  # boot id
    st.lists(st.tuples(st.sampled_from(["eth0", "eth1", "veth2"]), STEP, CHANGE), max_size=3),
    st.booleans(),  # idle: the repeats read the same counters (the idle path's case)
)
Cycle = tuple[float, str, list[tuple[str, int, dict[str, object]]], bool]


def run(cycles: list[Cycle], trust: bool):  # type: ignore[no-untyped-def]
    clock = {"mono": 50.0, "wall": datetime(2026, 11, 22, 12, 0, 0, 987654, tzinfo=UTC)}
    sampler = Sampler(
        "h1", 0, wallclock=lambda: clock["wall"], monotonic=lambda: clock["mono"], trust=trust
    )
    counters: dict[str, list[int]] = {}
    out: list[list[InterfaceSample]] = []
    for step, boot_id, changes, idle in cycles:
        clock["mono"] += step
        clock["wall"] += timedelta(seconds=max(step, 0.001))
        links = {name: (grow, change) for name, grow, change in changes}
        for name, (grow, _) in links.items():
            now = counters.setdefault(name, [10**6] * 16)
            now[:] = [value + grow * (i + 1) for i, value in enumerate(now)]
        # Each cycle twice more with grown counters (the steady path's common case), or the
        # same (an idle link: the idle path's).
        for repeat in range(3):
            readings = [
                BASE._replace(name=name, counters=NetDevCounters._make(counters[name]))._replace(
                    **change  # type: ignore[arg-type]
                )
                for name, (_, change) in links.items()
            ]
            out.append(sampler.sample(readings, boot_id))
            clock["mono"] += 0.1 * (repeat + 1)
            for name in links:
                counters[name] = [c + 1500 * (not idle) for c in counters[name]]
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(CYCLE, min_size=1, max_size=6))
@example([(0.1, "b1", [("eth0", 0, {})], True), (0.1, "b2", [("eth0", 0, {})], True)])
@example([(0.1, "b1", [("eth0", 0, {})], True), (0.1, "b1", [("eth0", 0, {"mtu": 9000})], True)])
@example([(0.1, "b1", [("eth0", 0, {})], True), (0.0, "b1", [("eth0", 0, {})], True)])
def test_steady_samples_equal_validated_ones(cycles: list[Cycle]) -> None:
    trusted, validated = run(cycles, trust=True), run(cycles, trust=False)
    assert trusted == validated
    payloads = SampleEncoder()  # one publisher's: it splices repeats of earlier payloads
    for got, want in zip(trusted, validated, strict=True):
        assert [encode(s) for s in got] == [encode(s) for s in want]
        assert [payloads(s) for s in got] == [encode(s) for s in want]
        assert [list(s.__dict__) for s in got] == [list(s.__dict__) for s in want]
        assert [s.model_fields_set for s in got] == [s.model_fields_set for s in want]
        assert [s.delta.model_fields_set for s in got] == [s.delta.model_fields_set for s in want]
        assert [s.delta.__dict__ for s in got] == [s.delta.__dict__ for s in want]


def test_the_steady_path_takes_the_common_cycles(monkeypatch: pytest.MonkeyPatch) -> None:
    built = []
    steady = sampler_module._steady_sample
    monkeypatch.setattr(
        sampler_module, "_steady_sample", lambda *a: built.append(a[1]) or steady(*a)
    )
    cycles = [(0.1, "b1", [("eth0", 100, {}), ("eth1", 0, {})], False)] * 3
    samples = run(cycles, trust=True)
    assert sum(map(len, samples)) == 18
    assert len(built) == 18 - 2  # all but the first cycle's (no deltas yet)
    assert list(samples[-1][0].__dict__) == list(InterfaceSample.model_fields)


def test_an_idle_link_repeats_its_last_sample_with_new_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built = []
    steady = sampler_module._steady_sample
    monkeypatch.setattr(
        sampler_module, "_steady_sample", lambda *a: built.append(a[1]) or steady(*a)
    )
    cycles: list[Cycle] = [(0.1, "b1", [("eth0", 0, {})], True)] * 3
    samples = [s for cycle in run(cycles, trust=True) for s in cycle]
    assert len(samples) == 9 and samples == [s for c in run(cycles, trust=False) for s in c]
    assert len(built) == 1  # the first with deltas (all zero); the other 7 are repeats
    assert [s.seq for s in samples] == list(range(9))
    assert all(s.delta is not None and s.rx_bytes_per_sec == 0.0 for s in samples[1:])
    assert list(samples[-1].__dict__) == list(InterfaceSample.model_fields)


@pytest.mark.parametrize("grow", [2**64, 2**63, 1.5])
def test_a_known_link_whose_counters_leave_the_schema_is_validated(grow: int) -> None:
    """Out of bounds, or not an int: refused by validation, so never built straight."""
    cycles = [
        (0.1, "b1", [("eth0", 0, {}), ("eth1", 0, {})], False),
        (0.1, "b1", [("eth0", 0, {}), ("eth1", grow, {})], False),
    ]
    trusted, validated = run(cycles, trust=True), run(cycles, trust=False)
    assert trusted == validated
    assert [len(s) for s in trusted] == [2, 2, 2, 1, 1, 1]


def test_a_clock_without_a_zone_gives_no_samples_either_way() -> None:
    for trust in (True, False):
        sampler = Sampler("h1", wallclock=lambda: datetime(2026, 11, 22), trust=trust)
        assert sampler.sample([BASE], "b1") == []
        assert sampler.sample([BASE], "b1") == []
