"""`ifpulse ingest`: parse the settings, open the store, run the ingestor until SIGTERM."""

from __future__ import annotations

import gc
import logging
import signal
import sys
from types import FrameType
from urllib.parse import urlsplit

from pydantic import ValidationError
from pydantic_settings import CliApp, SettingsError

from ingestor.metrics import Metrics, MetricsServer
from ingestor.service import Ingestor
from ingestor.settings import Settings
from stores import StoreError, open_store

log = logging.getLogger("ingestor")


def _parse(argv: list[str]) -> Settings | int:
    # CliSuppress only hides the option from --help; refuse it outright so a password
    # never lands in shell history or the process list.
    if any(arg == "--password" or arg.startswith("--password=") for arg in argv):
        sys.stderr.write(
            "ifpulse ingest: the MQTT password is not accepted on the command line; "
            "use --password-file or IFPULSE_PASSWORD\n"
        )
        return 2
    try:
        return CliApp.run(Settings, cli_args=argv)
    except SystemExit as exc:  # --help, or argparse refusing an option
        return exc.code if isinstance(exc.code, int) else 2
    except ValidationError as exc:
        # Without the values given: a password in a URL would otherwise be echoed.
        errors = exc.errors(include_input=False, include_url=False)
        lines = [f"  {'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in errors]
        sys.stderr.write("ifpulse ingest: invalid settings:\n" + "\n".join(lines) + "\n")
        return 2
    except SettingsError as exc:
        sys.stderr.write(f"ifpulse ingest: invalid settings:\n{exc}\n")
        return 2


# Net container allocations that trigger a young-generation collection (Python's default: 700).
_GC_YOUNG = 20_000


def tune_gc() -> None:
    """Make the garbage collector cheap for a process that holds batches of messages."""
    # The start-up heap (modules, pydantic schemas) lives forever: frozen, collections skip
    # it. With the default threshold, the thousands of messages held in flight were walked
    # again and again (~3-4 us per message, measured); 20,000 lets a batch live and die
    # without a collection, and cyclic garbage still gets collected.
    gc.freeze()
    gc.set_threshold(_GC_YOUNG)


def main(argv: list[str]) -> int:
    """Run an ingestor; returns 0 after a clean drain on SIGTERM/SIGINT."""
    settings = _parse(argv)
    if isinstance(settings, int):
        return settings
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        store = open_store(settings.store)
    except (ValueError, StoreError, NotImplementedError) as exc:
        log.error("cannot open the %s store: %s", urlsplit(settings.store).scheme, exc)
        return 2
    log.info(
        "ingest: broker %s:%d, store %s, group %s, client id %s, batch %d / %.1fs, receive max %d",
        settings.broker_host,
        settings.broker_port,
        urlsplit(settings.store).scheme,
        settings.group or "(none)",
        settings.client_id,
        settings.batch_size,
        settings.flush_interval,
        settings.effective_receive_maximum,
    )
    tune_gc()
    metrics = Metrics()
    server = MetricsServer(metrics, settings.metrics_host, settings.metrics_port)
    ingestor = Ingestor(settings, store, metrics=metrics)

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: draining", signum)
        ingestor.stop()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    if settings.metrics_port:
        server.start()
    try:
        return ingestor.run()
    finally:
        server.stop()
        store.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
