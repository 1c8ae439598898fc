"""Run a blocking chunk producer in ONE thread and hand its chunks to an async response.

Store iterators (an SQLite cursor, an InfluxDB chunked reply) may be tied to the thread
that opened them, while Starlette would advance a sync iterator from whichever worker
thread is free; so the whole iteration runs in a thread of its own behind a bounded queue
(memory stays bounded: a month of data never sits in memory at once).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass

import anyio.to_thread

_QUEUE_CHUNKS = 8
_POLL_S = 0.25
# A consumer that takes nothing for this long is gone (e.g. the response never started):
# the producer then stops, so its thread and its store connection are not held forever.
_IDLE_LIMIT_S = 300.0


@dataclass(frozen=True, slots=True)
class _Failed:
    error: BaseException


class _End:
    pass


_Item = bytes | _Failed | _End


class ThreadedChunks:
    """Chunks from `make()` produced in a dedicated thread; `first()` then `rest()`."""

    def __init__(
        self, make: Callable[[], Iterator[bytes]], *, idle_limit_s: float = _IDLE_LIMIT_S
    ) -> None:
        self._make = make
        self._idle_limit_s = idle_limit_s
        self._queue: queue.Queue[_Item] = queue.Queue(maxsize=_QUEUE_CHUNKS)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ifpulse-export", daemon=True)

    def _put(self, item: _Item) -> bool:
        deadline = time.monotonic() + self._idle_limit_s
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                self._queue.put(item, timeout=_POLL_S)
            except queue.Full:
                continue
            return True
        self._stop.set()
        return False

    def _take(self) -> _Item:
        # Never block for good: a cancelled consumer leaves this call running in a worker
        # thread, which must come back once stop is set or the pool loses a thread.
        while True:
            try:
                return self._queue.get(timeout=_POLL_S)
            except queue.Empty:
                if self._stop.is_set() and not self._thread.is_alive():
                    return _End()

    def _run(self) -> None:
        try:
            chunks = self._make()
            try:
                for chunk in chunks:
                    if not self._put(chunk):
                        return
            finally:
                close = getattr(chunks, "close", None)
                if close is not None:
                    close()
        except Exception as exc:  # handed to the consumer, which raises it in its own task
            self._put(_Failed(exc))
            return
        self._put(_End())

    async def _get(self) -> _Item:
        return await anyio.to_thread.run_sync(self._take)

    async def first(self) -> bytes | None:
        """Start the producer and wait for its first chunk; raise what it raised."""
        self._thread.start()
        return self._unwrap(await self._get())

    async def rest(self, first: bytes | None) -> AsyncIterator[bytes]:
        """Yield `first`, then every further chunk; stop the producer if the client leaves."""
        try:
            if first is None:
                return
            yield first
            while (chunk := self._unwrap(await self._get())) is not None:
                yield chunk
        finally:
            self._stop.set()

    def running(self) -> bool:
        """True while the producer thread is alive."""
        return self._thread.is_alive()

    @staticmethod
    def _unwrap(item: _Item) -> bytes | None:
        if isinstance(item, _Failed):
            raise item.error
        if isinstance(item, _End):
            return None
        return item
