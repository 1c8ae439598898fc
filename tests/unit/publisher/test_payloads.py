"""Payloads of idle links are spliced from earlier ones: always the bytes schemas.encode gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

import publisher.payloads as payloads_module
from publisher.payloads import SampleEncoder
from publisher.sampler import Sampler
from schemas import InterfaceSample, encode
from tests.unit.publisher.readings import eth0

NAMES = ["eth0", 'a"ts"', 'b,"seq"', 'c,"rx_bytes"', "d\\", "é"]


def cycles(n: int, names: list[str] = NAMES) -> list[list[InterfaceSample]]:
    """`n` cycles of idle links (counters unchanged), 10 s apart."""
    clock = {"mono": 100.0, "wall": datetime(2026, 11, 22, 12, 0, 0, 123456, tzinfo=UTC)}
    sampler = Sampler("h1", wallclock=lambda: clock["wall"], monotonic=lambda: clock["mono"])
    readings = [eth0([7] * 16)._replace(name=name) for name in names]
    out = []
    for _ in range(n):
        out.append(sampler.sample(readings, "b1"))
        clock["mono"] += 10.000001
        clock["wall"] += timedelta(seconds=10)
    return out


def counting(monkeypatch: pytest.MonkeyPatch) -> list[InterfaceSample]:
    encoded: list[InterfaceSample] = []
    real = payloads_module.encode

    def spy(sample: InterfaceSample) -> bytes:
        encoded.append(sample)
        return real(sample)  # type: ignore[arg-type]

    monkeypatch.setattr(payloads_module, "encode", spy)
    return encoded


def test_idle_links_are_spliced_and_equal_encode(monkeypatch: pytest.MonkeyPatch) -> None:
    encoded = counting(monkeypatch)
    payloads = SampleEncoder()
    runs = cycles(5)
    for samples in runs:
        assert [payloads(s) for s in samples] == [encode(s) for s in samples]
    # First cycle (no deltas) and second (the first repeat to learn from): all encoded;
    # then one a cycle, to learn the cycle's time and interval.
    assert len(encoded) == 2 * len(NAMES) + 3


def test_a_changed_value_is_encoded(monkeypatch: pytest.MonkeyPatch) -> None:
    payloads = SampleEncoder()
    first, second = cycles(3)[1:]
    for s in first:
        payloads(s)
    payloads(second[0])  # learns this cycle's time
    changed = [
        second[1].model_copy(update={"rx_bytes": 8}),  # the same delta object, one other value
        second[2].model_copy(update={"ts": second[2].ts.astimezone(timezone(timedelta(hours=1)))}),
        second[3].model_copy(update={"interval_s": 10}),  # an int: printed differently
        second[4].model_copy(update={"seq": True}),
    ]
    for sample in changed:
        assert payloads(sample) == encode(sample)


def test_fields_in_another_order_are_encoded() -> None:
    payloads = SampleEncoder()
    first, second = cycles(3)[1:]
    for s in [*first, second[0]]:
        payloads(s)
    sample = second[1]
    swapped = dict(sample.__dict__)
    swapped["rx_errors"], swapped["tx_errors"] = swapped.pop("tx_errors"), swapped.pop("rx_errors")
    odd = InterfaceSample.model_construct(**swapped)
    object.__setattr__(odd, "__dict__", swapped)
    assert payloads(odd) == encode(odd)


def test_an_interval_of_another_object_but_equal_value_is_spliced() -> None:
    payloads = SampleEncoder()
    first, second = cycles(3)[1:]
    for s in [*first, second[0]]:
        payloads(s)
    again = second[1].model_copy(update={"interval_s": float(repr(second[1].interval_s))})
    assert payloads(again) == encode(again)
