"""When the publisher collects (a fixed-rate tick) and how fast it replays (a token bucket)."""

from __future__ import annotations

from collections.abc import Callable


class TokenBucket:
    """At most `rate` messages a second, in bursts of at most `burst`."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float]) -> None:
        self.rate = rate
        self.burst = max(burst, 1.0)
        self.clock = clock
        self.tokens = self.burst
        self.stamp = clock()

    def available(self) -> int:
        """Whole messages that may go now."""
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return int(self.tokens)

    def spend(self, count: int) -> None:
        """Use `count` tokens."""
        self.tokens -= count

    def wait(self) -> float:
        """Seconds until the next whole token."""
        return max(0.0, (1.0 - self.tokens) / self.rate)


def next_tick(previous: float, now: float, interval: float) -> float:
    """Fixed-rate schedule; after a stall, skip the missed ticks instead of bursting."""
    tick = previous + interval
    return tick if tick > now else now + interval
