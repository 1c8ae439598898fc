"""influxdb:// URL parsing and where credentials come from (never repr, never errors)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from stores.influx_http import auth_headers
from stores.influx_url import parse_duration, parse_url


def test_defaults() -> None:
    cfg = parse_url("influxdb://127.0.0.1:8086/ifpulse", env={})
    assert (cfg.host, cfg.port, cfg.database, cfg.api, cfg.tls) == (
        "127.0.0.1",
        8086,
        "ifpulse",
        "auto",
        False,
    )
    assert cfg.retention_raw == timedelta(days=7)
    assert cfg.retention_1m == timedelta(days=90)
    assert cfg.retention_1h == timedelta(days=730)
    assert cfg.base_url == "http://127.0.0.1:8086"
    assert auth_headers(cfg) == {}


def test_all_parameters() -> None:
    cfg = parse_url(
        "influxdbs://db.example:9999/metrics?org=home&api=v2&rp=autogen&timeout=3"
        "&retention_raw=2d&retention_1m=30d&retention_1h=1y",
        env={},
    )
    assert cfg.tls and cfg.base_url == "https://db.example:9999"
    assert (cfg.org, cfg.api, cfg.rp, cfg.timeout_s) == ("home", "v2", "autogen", 3.0)
    assert cfg.retention_raw == timedelta(days=2)
    assert cfg.retention_1h == timedelta(days=365)


def test_token_from_env_wins_and_is_not_in_repr() -> None:
    cfg = parse_url("influxdb://h/db", env={"IFPULSE_INFLUX_TOKEN": "s3cret"})
    assert cfg.token == "s3cret"
    assert "s3cret" not in repr(cfg)
    assert auth_headers(cfg) == {"Authorization": "Token s3cret"}


def test_token_and_password_from_files(tmp_path: Path) -> None:
    (tmp_path / "tok").write_text("from-file\n")
    (tmp_path / "pw").write_text("pw-file\n")
    env = {
        "IFPULSE_INFLUX_TOKEN_FILE": str(tmp_path / "tok"),
        "IFPULSE_INFLUX_PASSWORD_FILE": str(tmp_path / "pw"),
    }
    cfg = parse_url("influxdb://alice@h/db", env=env)
    assert (cfg.token, cfg.username, cfg.password) == ("from-file", "alice", "pw-file")
    assert "pw-file" not in repr(cfg)


def test_basic_auth_from_userinfo() -> None:
    cfg = parse_url("influxdb://bob:p%40ss@h:8086/db", env={})
    assert auth_headers(cfg) == {"Authorization": "Basic Ym9iOnBAc3M="}
    assert "p@ss" not in repr(cfg)


def test_unreadable_secret_file_names_the_variable_not_a_secret() -> None:
    with pytest.raises(ValueError, match="IFPULSE_INFLUX_TOKEN_FILE"):
        parse_url("influxdb://h/db", env={"IFPULSE_INFLUX_TOKEN_FILE": "/nonexistent/x"})


@pytest.mark.parametrize(
    "url",
    [
        "http://h/db",
        "influxdb:///db",
        "influxdb://h/",
        "influxdb://h/bad;name",
        "influxdb://h/db?api=v3",
        "influxdb://h/db?bogus=1",
        "influxdb://h/db?retention_raw=7days",
        "influxdb://h:notaport/db",
    ],
)
def test_bad_urls(url: str) -> None:
    with pytest.raises(ValueError):
        parse_url(url, env={})


def test_durations() -> None:
    assert parse_duration("90d") == timedelta(days=90)
    assert parse_duration("12h") == timedelta(hours=12)
    assert parse_duration("2w") == timedelta(days=14)
