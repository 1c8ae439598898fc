"""Accumulate received items into batches, closed by size or by age (pure, clock injected)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Batcher(Generic[T]):
    """A batch is due when it holds `max_size` items or its oldest is `max_age` seconds old."""

    def __init__(self, max_size: int, max_age: float, clock: Callable[[], float]) -> None:
        if max_size < 1 or max_age <= 0:
            raise ValueError("max_size must be >= 1 and max_age > 0")
        self.max_size = max_size
        self.max_age = max_age
        self._clock = clock
        self._items: list[T] = []
        self._opened_at = 0.0

    def __len__(self) -> int:
        return len(self._items)

    def add(self, item: T) -> None:
        """Append one item; the first item of a batch starts its age."""
        if not self._items:
            self._opened_at = self._clock()
        self._items.append(item)

    def extend(self, items: list[T]) -> None:
        """Append several items (as many add() calls)."""
        if items and not self._items:
            self._opened_at = self._clock()
        self._items.extend(items)

    def due(self) -> bool:
        """True when the batch is full or old enough to be written."""
        if not self._items:
            return False
        return len(self._items) >= self.max_size or self._clock() >= self._opened_at + self.max_age

    def time_left(self) -> float | None:
        """Seconds until the batch is due by age (None when empty, so wait for input)."""
        if not self._items:
            return None
        return max(0.0, self._opened_at + self.max_age - self._clock())

    def take(self) -> list[T]:
        """Hand over the current batch and start an empty one."""
        items, self._items = self._items, []
        return items
