from __future__ import annotations

import pytest

from ingestor.batcher import Batcher


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_due_by_size() -> None:
    b: Batcher[int] = Batcher(3, 10.0, Clock())
    for i in range(2):
        b.add(i)
    assert not b.due()
    b.add(2)
    assert b.due()
    assert b.take() == [0, 1, 2]
    assert len(b) == 0 and not b.due()


def test_due_by_age_of_oldest_item() -> None:
    clock = Clock()
    b: Batcher[int] = Batcher(100, 1.0, clock)
    assert b.time_left() is None
    b.add(1)
    clock.now += 0.6
    b.add(2)
    assert b.time_left() == pytest.approx(0.4)
    assert not b.due()
    clock.now += 0.4
    assert b.due() and b.time_left() == 0.0
    assert b.take() == [1, 2]


def test_new_batch_restarts_age() -> None:
    clock = Clock()
    b: Batcher[int] = Batcher(100, 1.0, clock)
    b.add(1)
    clock.now += 5
    b.take()
    b.add(2)
    assert b.time_left() == pytest.approx(1.0)


def test_rejects_nonsense_limits() -> None:
    with pytest.raises(ValueError):
        Batcher(0, 1.0, Clock())
    with pytest.raises(ValueError):
        Batcher(1, 0.0, Clock())


def test_extend_is_many_adds() -> None:
    clock = Clock()
    b: Batcher[int] = Batcher(3, 1.0, clock)
    b.extend([])
    assert b.time_left() is None
    b.extend([1, 2])
    clock.now += 0.5
    b.extend([3])
    assert b.due() and b.time_left() == pytest.approx(0.5)
    assert b.take() == [1, 2, 3]
