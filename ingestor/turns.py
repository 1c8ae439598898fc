"""Turns between paho's network thread and the writer: one of them busy at a time.

Both threads need the GIL. While the writer writes a batch, paho's thread has messages to
read, and every socket call it makes hands the GIL over to the writer and back. On two
cores those hand-overs cross cores (futex wake-ups, cold caches) and cost more than the
work itself: bench/ingest_throughput.py measured ~100 us of CPU per sample with SQLite
against ~70 when the ingestor was pinned to one core, or when paho's thread paused during
writes. So paho's thread waits for its turn before taking each message while a write is
in progress; the broker meanwhile keeps the messages in the socket and its queue.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Turns:
    """The writer's turn (`writing()`) makes the network thread wait in `wait_turn()`."""

    def __init__(self, longest_wait: float = 1.0) -> None:
        # Bounded, so that a write stuck on a slow store (a busy lock, an HTTP timeout)
        # never stops paho's thread for long: keepalives must still go out.
        self._longest_wait = longest_wait
        self._idle = threading.Event()
        self._idle.set()

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the turn for one write attempt (not for waits between retries)."""
        self._idle.clear()
        try:
            yield
        finally:
            self._idle.set()

    def wait_turn(self) -> None:
        """Return at once when no write is in progress, else when it ends (or time is up)."""
        if not self._idle.is_set():
            self._idle.wait(self._longest_wait)
