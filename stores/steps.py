"""Choose a series step from a period so a sparkline gets a sensible number of points."""

from __future__ import annotations

from datetime import timedelta

PERIODS: dict[str, timedelta] = {
    "15m": timedelta(minutes=15),
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
"""The periods the api offers, by the name it accepts."""

NICE_STEPS: tuple[timedelta, ...] = tuple(
    timedelta(seconds=s)
    for s in (10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)
)
"""Steps a human reads easily; all divide a day, so buckets line up with wall-clock hours."""

DEFAULT_POINTS = 120
"""The smallest nice step giving at most this many points gives 60-120 for every PERIOD."""
MAX_POINTS = 1000


def choose_step(period: timedelta, points: int | None = None) -> timedelta:
    """The smallest nice step that splits `period` into at most `points` buckets (default 120)."""
    if period <= timedelta(0):
        raise ValueError(f"period must be positive, got {period}")
    limit = DEFAULT_POINTS if points is None else points
    if not 1 <= limit <= MAX_POINTS:
        raise ValueError(f"points must be between 1 and {MAX_POINTS}, got {points}")
    for step in NICE_STEPS:
        if period / step <= limit:
            return step
    # Longer than the list covers: whole days, still aligned with the nice steps.
    day = NICE_STEPS[-1]
    days = -(-period // (day * limit))
    return day * days
