"""`ifpulse <command>`: dispatch to a service's own main(), importing only that service.

Each service parses its own options (pydantic-settings: flags, IFPULSE_* env vars), so an
edge host with only `ifpulse[publisher]` installed can run `ifpulse publish` without the
api's or ingestor's dependencies being present.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence

from ifpulse import __version__

COMMANDS: dict[str, tuple[str, str, str]] = {
    # name: (module with main(argv) -> int, extra that provides it, summary)
    "publish": ("publisher.cli", "publisher", "read this host's interfaces and publish them"),
    "ingest": ("ingestor.cli", "ingestor", "subscribe, validate and store samples"),
    "api": ("api.cli", "api", "serve the HTTP API, /metrics and the dashboard"),
    "up": ("ifpulse.up", "all", "run broker, ingestor, api and publisher on this machine"),
}

USAGE = "usage: ifpulse [-h] {" + ",".join([*COMMANDS, "version"]) + "} ...\n"


def _help() -> str:
    lines = [USAGE, "Per-interface network metrics over MQTT.\n", "commands:"]
    lines += [f"  {name:<9} {summary}" for name, (_, _, summary) in COMMANDS.items()]
    lines += [
        "  version   print the version",
        "",
        "Run `ifpulse <command> --help` for a command's options; every option can also be",
        "set as an IFPULSE_<OPTION> environment variable.",
    ]
    return "\n".join(lines) + "\n"


def _load(name: str) -> Callable[[list[str]], int]:
    module_name, extra, _ = COMMANDS[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        sys.stderr.write(
            f"ifpulse {name}: missing dependency {exc.name!r}; "
            f"install it with `pip install 'ifpulse[{extra}]'`\n"
        )
        raise SystemExit(2) from None
    main: Callable[[list[str]], int] = module.main
    return main


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `ifpulse` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        sys.stdout.write(_help())
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command in ("version", "--version"):
        sys.stdout.write(f"ifpulse {__version__}\n")
        return 0
    if command not in COMMANDS:
        sys.stderr.write(USAGE + f"ifpulse: error: unknown command {command!r}\n")
        return 2
    return _load(command)(rest)


if __name__ == "__main__":
    raise SystemExit(main())
