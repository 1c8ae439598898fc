"""`ifpulse up`: the whole stack on one machine (placeholder until its issue lands)."""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    """Not built yet: say so clearly instead of pretending."""
    if argv and argv[0] in ("-h", "--help"):
        sys.stdout.write("usage: ifpulse up [--data-dir DIR] [--port PORT]\n\n(not built yet)\n")
        return 0
    sys.stderr.write(
        "ifpulse up: not built yet. Run the parts instead: ifpulse publish / ingest / api\n"
    )
    return 3
