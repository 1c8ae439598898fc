"""A small time-bounded cache of finished responses, computing each missing key only once.

Identical requests that arrive within `ttl` seconds of each other get the same bytes: a busy
dashboard wall then costs one store query per host and period per `ttl`, not one per client.
Concurrent misses of one key wait for the first caller's result instead of all querying;
while an expired answer is being refreshed, the others get it (never older than 2 x ttl).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field


@dataclass(slots=True)
class _Entry:
    lock: threading.Lock = field(default_factory=threading.Lock)
    expires: float = float("-inf")
    body: bytes = b""


class ResponseCache:
    """Bytes by key for at most `ttl` seconds, at most `max_entries` keys (least recent out)."""

    def __init__(self, max_entries: int = 256, clock: Callable[[], float] = time.monotonic) -> None:
        self._max = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()

    def get(self, key: Hashable, ttl: float, compute: Callable[[], bytes]) -> bytes:
        """The bytes of `key`: cached if younger than `ttl` s, else from compute().

        One caller computes a key at a time. While it refreshes an expired answer, the others
        get that answer if it is younger than 2 x `ttl` instead of waiting; else they wait.
        """
        if ttl <= 0:
            return compute()
        entry = self._entry(key)
        now = self._clock()
        if now < entry.expires:
            return entry.body
        if not entry.lock.acquire(blocking=False):
            if now < entry.expires + ttl:
                return entry.body  # being refreshed by another caller: serve the last answer
            entry.lock.acquire()
        try:
            if self._clock() >= entry.expires:  # not refreshed meanwhile by another caller
                body = compute()
                entry.body, entry.expires = body, self._clock() + ttl
            return entry.body
        finally:
            entry.lock.release()

    def _entry(self, key: Hashable) -> _Entry:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                entry = self._entries[key] = _Entry()
                while len(self._entries) > self._max:
                    self._entries.popitem(last=False)
            else:
                self._entries.move_to_end(key)
            return entry

    def __len__(self) -> int:
        """How many keys are held (fresh or expired)."""
        return len(self._entries)
