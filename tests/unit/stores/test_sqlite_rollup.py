"""Rollup helpers that need no database: runs of touched minutes, retention rules."""

from __future__ import annotations

import pytest

from stores.buckets import MINUTE_MS
from stores.sqlite_rollup import Retention, _runs


def test_consecutive_minutes_form_one_run() -> None:
    m = MINUTE_MS
    touched = {0: {1}, m: {2}, 2 * m: {1}, 5 * m: {3}}
    assert list(_runs(touched)) == [(0, 3 * m, {1, 2}), (5 * m, 6 * m, {3})]
    assert list(_runs({})) == []


def test_retention_must_grow_with_coarseness() -> None:
    Retention(raw_ms=1, m1_ms=1, h1_ms=1)
    with pytest.raises(ValueError, match="retention"):
        Retention(raw_ms=2, m1_ms=1, h1_ms=3)
