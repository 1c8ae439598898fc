"""Placeholder until the stores issue lands."""

from __future__ import annotations

from stores.base import Store


class InfluxStore:
    """Not built yet."""

    @classmethod
    def from_url(cls, url: str) -> Store:
        """Not built yet."""
        raise NotImplementedError("the influx store is not built yet")
