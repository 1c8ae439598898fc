"""Builders of consistent samples for the store contract tests: times relative to BASE."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from schemas import AlertState, HostState, HostStatus, InterfaceSample
from tests.factories import sample

# Midnight two days ago: recent enough for every retention policy, aligned to every step.
BASE = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=2)
HOST = "h1"


def at(seconds: float) -> datetime:
    """BASE plus a number of seconds."""
    return BASE + timedelta(seconds=seconds)


def s(
    sec: float,
    iface: str = "eth0",
    host: str = HOST,
    *,
    rx: int | None = 1000,
    tx: int | None = 500,
    errors: int = 0,
    drops: int = 0,
    interval: float = 10.0,
    **overrides: Any,
) -> InterfaceSample:
    """A sample at BASE+sec whose deltas, rates and counters agree (rx=None: unknown delta)."""
    n = int(sec // 10) + 1
    delta = {
        "rx_bytes": rx,
        "tx_bytes": tx,
        "rx_packets": None if rx is None else rx // 100,
        "tx_packets": None if tx is None else tx // 100,
        "rx_errors": errors,
        "tx_errors": errors,
        "rx_dropped": drops,
        "tx_dropped": 0,
        "multicast": 0,
        "collisions": 0,
    }
    fields: dict[str, Any] = {
        "ts": at(sec),
        "seq": n,
        "interval_s": interval,
        "rx_bytes": 10**12 + n * 1000,
        "tx_bytes": 2 * 10**12 + n * 500,
        "rx_packets": n * 10,
        "tx_packets": n * 5,
        "rx_errors": n * errors,
        "tx_errors": n * errors,
        "rx_dropped": n * drops,
        "delta": delta,
        "rx_bytes_per_sec": None if rx is None else rx / interval,
        "tx_bytes_per_sec": None if tx is None else tx / interval,
        "rx_packets_per_sec": None if rx is None else rx // 100 / interval,
        "tx_packets_per_sec": None if tx is None else tx // 100 / interval,
    }
    fields.update(overrides)
    return sample(host, iface, **fields)


def status(
    host: str = HOST, sec: float | None = 0, *, state: str = "online", version: str = "1.0"
) -> HostStatus:
    """A HostStatus at BASE+sec (sec=None: the will, which has no time)."""
    return HostStatus(
        host=host,
        state=HostState(state),
        ts=None if sec is None else at(sec),
        version=version,
        interval_s=10.0,
        spool_dropped=3,
    )


def alert(
    iface: str = "eth0", host: str = HOST, sec: float = 0, *, active: bool = True
) -> AlertState:
    """An AlertState of an interface, begun at BASE+sec."""
    return AlertState(
        host=host,
        iface=iface,
        active=active,
        reason="errors above 1/s" if active else None,
        since=at(sec),
        errors_per_sec=2.0 if active else 0.0,
    )
