"""Parse `sqlite://` store URLs: the database path plus retention and durability options."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from stores.sqlite_rollup import Retention

_UNITS_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_DURATION = re.compile(r"^(\d+)([smhd])$")


@dataclass(frozen=True, slots=True)
class SqliteOptions:
    """Everything a sqlite:// URL can say."""

    path: Path
    retention: Retention = field(default_factory=Retention)
    synchronous: str = "full"
    busy_timeout_ms: int = 5000
    chunk_min: int = 8
    """Samples of one series in a batch from which they are stored as a chunk; 0: never (and
    maintain() does not turn raw rows into chunks either)."""


def parse_duration_ms(text: str) -> int:
    """`90s`, `15m`, `12h`, `7d` -> milliseconds."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise ValueError(f"bad duration {text!r}: use a number and s, m, h or d (e.g. 7d)")
    return int(match.group(1)) * _UNITS_MS[match.group(2)]


def parse_url(url: str) -> SqliteOptions:
    """Parse `sqlite:///abs/path.db`, `sqlite:rel/path.db` and their `?option=value` suffix."""
    parts = urlsplit(url)
    if parts.scheme != "sqlite":
        raise ValueError(f"not a sqlite:// URL: {url!r}")
    if parts.netloc not in ("", "."):
        raise ValueError(f"sqlite URL {url!r} names a host; use sqlite:///absolute/path.db")
    raw = unquote(parts.path)
    if parts.netloc == ".":
        raw = "." + raw
    elif raw.startswith("//"):
        raw = "/" + raw.lstrip("/")
    if not raw or raw.endswith("/"):
        raise ValueError(f"sqlite URL {url!r} has no database file name")
    options = dict(parse_qsl(parts.query, keep_blank_values=True, strict_parsing=False))
    retention = Retention(
        raw_ms=parse_duration_ms(options.pop("retention_raw", "7d")),
        m1_ms=parse_duration_ms(options.pop("retention_1m", "90d")),
        h1_ms=parse_duration_ms(options.pop("retention_1h", "730d")),
    )
    synchronous = options.pop("synchronous", "full").lower()
    if synchronous not in ("full", "normal"):
        raise ValueError("synchronous must be full or normal")
    busy = parse_duration_ms(options.pop("busy_timeout", "5s"))
    chunk_min = options.pop("chunk_min", "8")
    if not chunk_min.isdigit() or int(chunk_min) > 1_000_000:
        raise ValueError(
            f"chunk_min must be a whole number (0 turns chunks off), got {chunk_min!r}"
        )
    if options:
        raise ValueError(f"unknown sqlite URL option(s): {', '.join(sorted(options))}")
    return SqliteOptions(Path(raw), retention, synchronous, busy, int(chunk_min))
