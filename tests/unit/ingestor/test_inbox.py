"""The inbox: FIFO, bounded (put blocks), and take sleeps until the count it waits for."""

from __future__ import annotations

import threading
import time

import pytest

from ingestor.inbox import Inbox


def test_take_returns_at_most_the_asked_number_oldest_first() -> None:
    inbox: Inbox[int] = Inbox(10)
    for n in range(5):
        inbox.put(n)
    assert inbox.take(3) == [0, 1, 2]
    assert inbox.take(10) == [3, 4]
    assert inbox.take(10) == []
    assert inbox.arrived == 5 and len(inbox) == 0


def test_take_times_out_with_what_is_there() -> None:
    inbox: Inbox[int] = Inbox(10)
    inbox.put(1)
    started = time.monotonic()
    assert inbox.take(5, wait_for=5, timeout=0.05) == [1]
    assert time.monotonic() - started >= 0.04


def test_take_wakes_once_the_count_it_waits_for_is_reached() -> None:
    inbox: Inbox[int] = Inbox(100)
    got: list[int] = []
    reader = threading.Thread(target=lambda: got.extend(inbox.take(10, wait_for=3, timeout=10)))
    reader.start()
    for n in range(2):
        inbox.put(n)
    time.sleep(0.05)
    assert got == [], "woke before its count"
    inbox.put(2)
    reader.join(5)
    assert got == [0, 1, 2]


def test_put_blocks_while_full_until_a_take() -> None:
    inbox: Inbox[int] = Inbox(2)
    inbox.put(0)
    inbox.put(1)
    writer = threading.Thread(target=inbox.put, args=(2,))
    writer.start()
    time.sleep(0.05)
    assert writer.is_alive(), "put into a full inbox returned"
    assert inbox.take(1) == [0]
    writer.join(5)
    assert not writer.is_alive()
    assert inbox.take(5) == [1, 2]


def test_wait_for_more_than_fits_is_capped_at_the_capacity() -> None:
    inbox: Inbox[int] = Inbox(2)
    inbox.put(0)
    inbox.put(1)
    assert inbox.take(5, wait_for=5, timeout=10) == [0, 1]  # returns at once


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="capacity"):
        Inbox(0)
