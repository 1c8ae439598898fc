"""`ifpulse api`: parse settings, build the app, serve it with uvicorn."""

from __future__ import annotations

import logging
import signal
import sys
from types import FrameType

import uvicorn
from pydantic import ValidationError
from pydantic_settings import CliApp, SettingsError

from api.app import create_app
from api.settings import ApiSettings
from stores import StoreError

_SECRET_FLAG = "--api-token"  # noqa: S105 (a flag name, not a secret)


def main(argv: list[str]) -> int:
    """Serve the api until interrupted; 0 on a clean stop, 2 on bad options."""
    # pydantic-settings would parse a hidden (CliSuppress) flag all the same; a token on the
    # command line leaks through `ps` and shell history, so it is refused outright.
    if any(arg == _SECRET_FLAG or arg.startswith(_SECRET_FLAG + "=") for arg in argv):
        sys.stderr.write(
            "ifpulse api: the API token is a secret: give it with --api-token-file FILE "
            "or the IFPULSE_API_TOKEN environment variable, never on the command line\n"
        )
        return 2
    try:
        settings = CliApp.run(ApiSettings, cli_args=argv)
    except SystemExit as exc:  # --help, or argparse refusing an option
        return exc.code if isinstance(exc.code, int) else 2
    except (ValidationError, SettingsError) as exc:
        sys.stderr.write(f"ifpulse api: {exc}\n")
        return 2
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(levelname)s %(name)s %(message)s"
    )
    try:
        app = create_app(settings)
    except (ValueError, OSError, StoreError) as exc:
        sys.stderr.write(f"ifpulse api: {exc}\n")
        return 2
    config = uvicorn.Config(
        app, host=settings.bind, port=settings.port, log_level=settings.log_level, access_log=False
    )
    # uvicorn shuts down gracefully on SIGTERM/SIGINT, then re-raises the signal against the
    # handlers it found; with these no-ops in place a clean stop exits 0 without a traceback.
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, _after_shutdown)
    uvicorn.Server(config).run()
    return 0


def _after_shutdown(signum: int, frame: FrameType | None) -> None:
    """Nothing left to do: uvicorn has already stopped serving and closed the app."""
