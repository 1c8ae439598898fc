"""Turns: the network thread waits while a write is in progress, and never for long."""

from __future__ import annotations

import threading
import time

from ingestor.turns import Turns


def test_no_wait_without_a_write() -> None:
    turns = Turns()
    started = time.monotonic()
    for _ in range(1000):
        turns.wait_turn()
    assert time.monotonic() - started < 0.5


def test_waits_until_the_write_ends() -> None:
    turns = Turns(longest_wait=5.0)
    waited: list[float] = []
    in_write = threading.Event()

    def network_thread() -> None:
        in_write.wait()
        started = time.monotonic()
        turns.wait_turn()
        waited.append(time.monotonic() - started)

    thread = threading.Thread(target=network_thread)
    thread.start()
    with turns.writing():
        in_write.set()
        time.sleep(0.2)
    thread.join(5)
    assert 0.15 <= waited[0] < 2.0


def test_a_long_write_stops_the_network_thread_only_briefly() -> None:
    turns = Turns(longest_wait=0.1)
    with turns.writing():
        started = time.monotonic()
        turns.wait_turn()
        assert 0.05 <= time.monotonic() - started < 1.0


def test_the_turn_ends_when_the_write_raises() -> None:
    turns = Turns(longest_wait=5.0)
    try:
        with turns.writing():
            raise RuntimeError("store down")
    except RuntimeError:
        pass
    started = time.monotonic()
    turns.wait_turn()
    assert time.monotonic() - started < 0.5
