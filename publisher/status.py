"""The publisher's retained host status (and its will): what it says, and which version."""

from __future__ import annotations

from datetime import datetime
from importlib.metadata import PackageNotFoundError, version

from schemas import HostState, HostStatus, encode

try:
    VERSION = version("ifpulse")
except PackageNotFoundError:  # a source tree that is not installed
    VERSION = "0.0.0+unknown"


def host_status(
    host: str,
    state: HostState,
    *,
    interval: float,
    boot_id: str | None,
    ts: datetime | None = None,
    spool_depth: int = 0,
    spool_dropped: int = 0,
) -> bytes:
    """An encoded HostStatus; the will is `offline` with no time (sent at an unknown time)."""
    return encode(
        HostStatus(
            host=host,
            state=state,
            ts=ts,
            version=VERSION,
            interval_s=interval,
            boot_id=boot_id,
            spool_depth=spool_depth,
            spool_dropped=spool_dropped,
        )
    )
