"""sqlite:// URL forms and options."""

from __future__ import annotations

from pathlib import Path

import pytest

from stores.sqlite_url import parse_duration_ms, parse_url


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///var/lib/ifpulse/ifpulse.db", "/var/lib/ifpulse/ifpulse.db"),
        ("sqlite:////var/lib/ifpulse.db", "/var/lib/ifpulse.db"),
        ("sqlite:data/ifpulse.db", "data/ifpulse.db"),
        ("sqlite://./data/ifpulse.db", "./data/ifpulse.db"),
        ("sqlite:///tmp/with%20space.db", "/tmp/with space.db"),
    ],
)
def test_paths(url: str, path: str) -> None:
    assert parse_url(url).path == Path(path)


def test_defaults_and_options() -> None:
    default = parse_url("sqlite:///x.db")
    assert (default.retention.raw_ms, default.synchronous) == (7 * 86_400_000, "full")
    opts = parse_url(
        "sqlite:///x.db?retention_raw=2d&retention_1m=30d&retention_1h=365d"
        "&synchronous=normal&busy_timeout=250s"
    )
    assert opts.retention.m1_ms == 30 * 86_400_000
    assert (opts.synchronous, opts.busy_timeout_ms) == ("normal", 250_000)


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("sqlite://host/x.db", "host"),
        ("sqlite:///", "file name"),
        ("sqlite:///x.db?retention_raw=7", "duration"),
        ("sqlite:///x.db?retention_raw=100d", "retention"),
        ("sqlite:///x.db?colour=blue", "unknown"),
        ("sqlite:///x.db?synchronous=off", "synchronous"),
        ("influxdb:///x", "sqlite"),
    ],
)
def test_bad_urls(url: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        parse_url(url)


def test_durations() -> None:
    assert [parse_duration_ms(t) for t in ("90s", "15m", "12h", "7d")] == [
        90_000,
        900_000,
        43_200_000,
        604_800_000,
    ]
