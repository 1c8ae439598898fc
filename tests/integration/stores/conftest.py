"""The stores' own tests run the SQLite store three ways: as configured by default, with raw
rows only (chunk_min=0) and with every batch chunked where it can be (chunk_min=1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.services.influxd import Influxd

SQLITE_VARIANTS = {"sqlite": "", "sqlite-rows": "?chunk_min=0", "sqlite-chunks": "?chunk_min=1"}


@pytest.fixture(params=[*SQLITE_VARIANTS, "influx"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path, unique: str) -> str:
    """A fresh, empty store: a SQLite file in each variant, or a database on the influxd."""
    if request.param in SQLITE_VARIANTS:
        return f"sqlite:///{tmp_path / 'store' / 'ifpulse.db'}{SQLITE_VARIANTS[request.param]}"
    server: Influxd = request.getfixturevalue("influxd")
    return server.store_url(unique)
