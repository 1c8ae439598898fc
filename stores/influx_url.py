"""Parse `influxdb://` store URLs and read InfluxDB credentials from the environment or files."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs, unquote, urlsplit

ApiMode = Literal["auto", "v1", "v2"]

DEFAULT_RETENTION_RAW = timedelta(days=7)
DEFAULT_RETENTION_1M = timedelta(days=90)
DEFAULT_RETENTION_1H = timedelta(days=730)
# Database/bucket names end up in InfluxQL (quoted) and in URLs; keep them boring anyway.
_DB_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_DURATION = re.compile(r"^(\d+)([smhdwy])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}
_KNOWN_PARAMS = {"org", "api", "rp", "timeout", "retention_raw", "retention_1m", "retention_1h"}


@dataclass(frozen=True)
class InfluxConfig:
    """Where the InfluxDB is and how to talk to it; secrets never appear in repr()."""

    host: str
    port: int
    database: str
    tls: bool = False
    org: str | None = None
    api: ApiMode = "auto"
    rp: str | None = None
    timeout_s: float = 10.0
    retention_raw: timedelta = DEFAULT_RETENTION_RAW
    retention_1m: timedelta = DEFAULT_RETENTION_1M
    retention_1h: timedelta = DEFAULT_RETENTION_1H
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        """http(s)://host:port, for the HTTP API."""
        scheme = "https" if self.tls else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"


def parse_duration(text: str) -> timedelta:
    """`7d`, `90d`, `2y`, `12h`, `30m`, `3600s` → timedelta (a year is 365 days)."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise ValueError(f"bad duration {text!r}: use a number and one of s m h d w y, e.g. 7d")
    return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])


def _secret(env: Mapping[str, str], name: str) -> str | None:
    """`NAME` from the environment, else the contents of the file `NAME_FILE` names."""
    value = env.get(name)
    if value:
        return value
    path = env.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text().strip() or None
        except OSError as exc:
            # Say which variable, never the contents.
            raise ValueError(f"cannot read {name}_FILE: {exc.strerror}") from None
    return None


def _one(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    return values[-1] if values else None


def parse_url(url: str, env: Mapping[str, str] | None = None) -> InfluxConfig:
    """`influxdb[s]://[user[:password]@]host[:port]/db?org=&api=&rp=&timeout=&retention_*=`."""
    env = os.environ if env is None else env
    parts = urlsplit(url)
    if parts.scheme not in ("influxdb", "influxdbs"):
        raise ValueError("InfluxDB store URLs start with influxdb:// or influxdbs://")
    if not parts.hostname:
        raise ValueError("InfluxDB store URL needs a host: influxdb://host:8086/database")
    database = unquote(parts.path.lstrip("/"))
    if not _DB_PATTERN.match(database):
        raise ValueError("InfluxDB store URL needs a database or bucket name [A-Za-z0-9._-]")
    params = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(params) - _KNOWN_PARAMS)
    if unknown:
        raise ValueError(f"unknown InfluxDB URL parameter(s): {', '.join(unknown)}")
    api = _one(params, "api") or "auto"
    if api not in ("auto", "v1", "v2"):
        raise ValueError("api= must be auto, v1 or v2")
    rp = _one(params, "rp")
    if rp is not None and not _DB_PATTERN.match(rp):
        raise ValueError("rp= must match [A-Za-z0-9._-]{1,64}")
    try:
        port = parts.port or 8086
    except ValueError:
        raise ValueError("InfluxDB store URL has a bad port") from None
    return InfluxConfig(
        host=parts.hostname,
        port=port,
        database=database,
        tls=parts.scheme == "influxdbs",
        org=_one(params, "org") or None,
        api=api,  # type: ignore[arg-type]  # checked against the Literal just above
        rp=rp,
        timeout_s=float(_one(params, "timeout") or 10.0),
        retention_raw=parse_duration(_one(params, "retention_raw") or "7d"),
        retention_1m=parse_duration(_one(params, "retention_1m") or "90d"),
        retention_1h=parse_duration(_one(params, "retention_1h") or "730d"),
        username=unquote(parts.username) if parts.username else env.get("IFPULSE_INFLUX_USERNAME"),
        password=unquote(parts.password)
        if parts.password
        else _secret(env, "IFPULSE_INFLUX_PASSWORD"),
        token=_secret(env, "IFPULSE_INFLUX_TOKEN"),
    )
