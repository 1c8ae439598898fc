"""choose_step: 60-120 points for every offered period, caller limits honoured."""

from __future__ import annotations

from datetime import timedelta

import pytest

from stores.steps import MAX_POINTS, NICE_STEPS, PERIODS, choose_step


@pytest.mark.parametrize("name", sorted(PERIODS))
def test_default_gives_60_to_120_points(name: str) -> None:
    period = PERIODS[name]
    step = choose_step(period)
    assert step in NICE_STEPS
    assert 60 <= period / step <= 120


@pytest.mark.parametrize(
    ("name", "expected"),
    [("15m", 10), ("1h", 30), ("6h", 300), ("24h", 900), ("7d", 7200), ("30d", 21600)],
)
def test_known_steps(name: str, expected: int) -> None:
    assert choose_step(PERIODS[name]) == timedelta(seconds=expected)


def test_more_points_gives_finer_step() -> None:
    assert choose_step(PERIODS["24h"], points=1000) == timedelta(minutes=2)
    assert choose_step(PERIODS["24h"], points=MAX_POINTS) < choose_step(PERIODS["24h"])


def test_finest_step_is_the_sample_interval() -> None:
    assert choose_step(timedelta(minutes=1), points=1000) == timedelta(seconds=10)


def test_very_long_period_uses_whole_days() -> None:
    step = choose_step(timedelta(days=3650))
    assert step % timedelta(days=1) == timedelta(0)
    assert timedelta(days=3650) / step <= 120


@pytest.mark.parametrize("points", [0, -1, 1001])
def test_points_out_of_range(points: int) -> None:
    with pytest.raises(ValueError, match="points"):
        choose_step(timedelta(hours=1), points=points)


def test_period_must_be_positive() -> None:
    with pytest.raises(ValueError, match="period"):
        choose_step(timedelta(0))
