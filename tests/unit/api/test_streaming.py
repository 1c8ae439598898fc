"""ThreadedChunks: one producer thread, bounded queue, stops when the consumer leaves."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import anyio
import pytest

from api.streaming import ThreadedChunks


class Source:
    """A chunk generator that records the threads it ran on and whether it was closed."""

    def __init__(self, count: int, fail_at: int | None = None) -> None:
        self.count = count
        self.fail_at = fail_at
        self.threads: set[int] = set()
        self.closed = threading.Event()

    def make(self) -> Iterator[bytes]:
        try:
            for i in range(self.count):
                self.threads.add(threading.get_ident())
                if i == self.fail_at:
                    raise OSError("disk on fire")
                yield f"chunk{i}\n".encode()
        finally:
            self.closed.set()


def _wait_stopped(chunks: ThreadedChunks) -> None:
    deadline = time.monotonic() + 5
    while chunks.running() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not chunks.running()


def test_all_chunks_in_order_from_one_thread() -> None:
    source = Source(100)

    async def consume() -> list[bytes]:
        chunks = ThreadedChunks(source.make)
        return [c async for c in chunks.rest(await chunks.first())]

    got = anyio.run(consume)
    assert got == [f"chunk{i}\n".encode() for i in range(100)]
    assert len(source.threads) == 1
    assert source.closed.wait(5)


def test_consumer_leaving_stops_the_producer() -> None:
    source = Source(10**9)
    holder: list[ThreadedChunks] = []

    async def consume_two() -> None:
        chunks = ThreadedChunks(source.make)
        holder.append(chunks)
        stream = chunks.rest(await chunks.first())
        await anext(stream)
        await anext(stream)
        await stream.aclose()

    anyio.run(consume_two)
    _wait_stopped(holder[0])
    assert source.closed.is_set()


def test_a_consumer_that_never_reads_is_given_up() -> None:
    source = Source(10**9)

    async def start_only() -> ThreadedChunks:
        chunks = ThreadedChunks(source.make, idle_limit_s=0.5)
        await chunks.first()
        return chunks

    _wait_stopped(anyio.run(start_only))
    assert source.closed.is_set()


def test_errors_reach_the_consumer() -> None:
    async def first_fails() -> None:
        await ThreadedChunks(Source(5, fail_at=0).make).first()

    with pytest.raises(OSError, match="disk on fire"):
        anyio.run(first_fails)

    async def later_fails() -> list[bytes]:
        chunks = ThreadedChunks(Source(5, fail_at=3).make)
        return [c async for c in chunks.rest(await chunks.first())]

    with pytest.raises(OSError, match="disk on fire"):
        anyio.run(later_fails)
