"""The bounded hand-over from paho's thread to the writer: put one at a time, take a batch."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class Inbox(Generic[T]):
    """A FIFO of at most `capacity` items; `take` sleeps until a whole batch is there.

    Why not queue.Queue: its reader wakes for every item, so a writer filling a batch of 500
    would be woken 500 times, each wake a GIL hand-over that stalls paho's socket reads.
    Here `put` wakes the reader only once the count it waits for is reached.
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self._capacity = capacity
        self._items: deque[T] = deque()
        self._lock = threading.Lock()
        self._readable = threading.Condition(self._lock)
        self._writable = threading.Condition(self._lock)
        self._wanted = 0  # how many items the sleeping reader waits for (0: none sleeps)
        self._put_waiting = 0
        self.arrived = 0
        """Items put so far (read without the lock: a gauge may lag by one)."""

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item: T) -> None:
        """Append one item; block while the inbox is full (the reader frees room)."""
        with self._lock:
            while len(self._items) >= self._capacity:
                self._put_waiting += 1
                try:
                    self._writable.wait()
                finally:
                    self._put_waiting -= 1
            self._items.append(item)
            self.arrived += 1
            if self._wanted and len(self._items) >= self._wanted:
                self._wanted = 0
                self._readable.notify()

    def take(self, most: int, wait_for: int = 1, timeout: float = 0.0) -> list[T]:
        """Up to `most` items, oldest first, once `wait_for` are there or `timeout` s passed."""
        wait_for = max(1, min(wait_for, most, self._capacity))
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self._items) < wait_for:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._wanted = wait_for
                self._readable.wait(left)
            self._wanted = 0
            items = self._items
            count = min(most, len(items))
            taken = [items.popleft() for _ in range(count)]
            if count and self._put_waiting:
                self._writable.notify_all()
            return taken
