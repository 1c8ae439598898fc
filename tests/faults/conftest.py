"""Fault suite fixtures: a fresh SQLite store per test, and the figures printed after the run."""

from __future__ import annotations

from pathlib import Path

import pytest

from stores import open_store
from tests.faults.pipeline import RESULTS


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite store file for this test (created as the ingestor would)."""
    url = f"sqlite:///{tmp_path}/ifpulse.db"
    open_store(url).close()
    return url


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The end-to-end counts of every fault scenario that ran (for docs/reliability.md)."""
    if not RESULTS:
        return
    terminalreporter.section("fault scenarios: end-to-end counts")
    terminalreporter.write_line("| scenario | sent | stored | lost | duplicates | wall | note |")
    for figures in RESULTS:
        terminalreporter.write_line(figures.line())
