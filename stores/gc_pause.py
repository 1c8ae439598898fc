"""Pause Python's cyclic garbage collector around a store write.

A bulk write turns tens of thousands of samples into columns and rows, allocating a few
tuples a sample. Every 700 allocations start a collection, and each walks the young objects
and what they point to: the batch's models, all of them out of the CPU cache by then. In
bench/store_load.py (1 day, batches of 50,000) collections took a fifth of the store's time.
A write creates no reference cycles, so nothing is lost by collecting once afterwards: the
first allocation after the pause runs the collection the write put off.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Disable the collector for the block, unless something else had disabled it already."""
    if not gc.isenabled():
        yield  # the application manages the collector itself: leave it alone
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
