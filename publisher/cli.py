"""`ifpulse publish` (placeholder until its issue lands)."""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    """Not built yet."""
    if argv and argv[0] in ("-h", "--help"):
        sys.stdout.write("usage: (not built yet)\n")
        return 0
    sys.stderr.write("not built yet\n")
    return 3
