"""Pick a Store implementation from a URL (`sqlite:///path`, `influxdb://host:8086/db`)."""

from __future__ import annotations

from urllib.parse import urlsplit

from stores.base import Store


def open_store(url: str) -> Store:
    """Open the store a URL names; raise ValueError with the reason for a bad URL."""
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        from stores.sqlite import SqliteStore

        return SqliteStore.from_url(url)
    if scheme in ("influxdb", "influxdbs"):
        from stores.influx import InfluxStore

        return InfluxStore.from_url(url)
    raise ValueError(f"unsupported store URL scheme {scheme!r}: use sqlite:// or influxdb://")
