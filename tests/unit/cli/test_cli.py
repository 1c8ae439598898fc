"""The `ifpulse` command: help for every subcommand, version, clear errors."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib.metadata import requires

import pytest

from ifpulse.cli import COMMANDS


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ifpulse", *args], capture_output=True, text=True, timeout=60
    )


def test_top_level_help_lists_every_command() -> None:
    out = run("--help")
    assert out.returncode == 0
    for name in [*COMMANDS, "version"]:
        assert re.search(rf"^\s+{name}\s", out.stdout, re.M), name


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_subcommand_has_help(command: str) -> None:
    out = run(command, "--help")
    assert out.returncode == 0, out.stderr
    assert "usage:" in out.stdout


def test_version() -> None:
    out = run("version")
    assert out.returncode == 0
    assert out.stdout.startswith("ifpulse ")


def test_unknown_command_is_a_usage_error() -> None:
    out = run("frobnicate")
    assert out.returncode == 2
    assert "unknown command 'frobnicate'" in out.stderr


def test_publisher_extra_stays_light() -> None:
    """`pip install ifpulse[publisher]` must not pull the api's or the store's dependencies."""
    reqs = requires("ifpulse") or []
    publisher = [r for r in reqs if 'extra == "publisher"' in r]
    assert publisher, reqs
    for heavy in ("fastapi", "uvicorn", "influxdb-client", "prometheus-client"):
        assert not any(r.startswith(heavy) for r in publisher), publisher
