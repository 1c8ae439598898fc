"""Headless Chromium (Debian's `chromium`) for dashboard tests: dump the DOM, take a screenshot."""

from __future__ import annotations

import subprocess
from html.parser import HTMLParser
from pathlib import Path

from tests.services.proc import need_binary


class DomFacts(HTMLParser):
    """What the dumped DOM shows: hosts, interface cards, sparkline point counts."""

    def __init__(self) -> None:
        super().__init__()
        self.hosts: list[str] = []
        self.interfaces: list[str] = []
        self.spark_points: list[int] = []
        self.polylines: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "button" and a.get("data-host"):
            self.hosts.append(a["data-host"] or "")
        if tag == "article" and a.get("data-interface"):
            self.interfaces.append(a["data-interface"] or "")
        if tag == "svg" and a.get("data-points") is not None:
            self.spark_points.append(int(a["data-points"] or 0))
        if tag == "polyline":
            self.polylines.append(a.get("points") or "")


def chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium with the flags a closed network needs, a fresh profile."""
    binary = need_binary("chromium", "chromium")
    argv = [binary, "--headless", "--no-sandbox", "--disable-gpu"]
    argv += ["--disable-background-networking", "--disable-component-update", "--disable-sync"]
    argv += ["--no-first-run", f"--user-data-dir={profile}", "--virtual-time-budget=5000"]
    argv += ["--window-size=1280,900", "--hide-scrollbars", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=90)
