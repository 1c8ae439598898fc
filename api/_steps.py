"""Stand-in for stores.steps until it lands: the sparkline periods and their bucket step."""

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

_NICE_S = (1, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200)


def choose_step(period: timedelta, points: int | None = None) -> timedelta:
    """A step giving about `points` buckets (60-120 by default); ValueError outside 1..1000."""
    if points is not None and not 1 <= points <= 1000:
        raise ValueError("points must be between 1 and 1000")
    seconds = period.total_seconds()
    if points is None:
        for nice in _NICE_S:
            if 60 <= seconds / nice <= 120:
                return timedelta(seconds=nice)
        return timedelta(seconds=max(1, round(seconds / 90)))
    return timedelta(seconds=max(1, -(-int(seconds) // points)))
