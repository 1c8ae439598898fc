"""`ifpulse api`: parse settings, build the app, serve it with uvicorn."""

from __future__ import annotations

import logging
import sys

import uvicorn
from pydantic import ValidationError
from pydantic_settings import CliApp, SettingsError

from api.app import create_app
from api.settings import ApiSettings
from stores import StoreError


def main(argv: list[str]) -> int:
    """Serve the api until interrupted; 0 on a clean stop, 2 on bad options."""
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
    uvicorn.Server(config).run()
    return 0
