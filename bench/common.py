"""Shared helpers of the bench scripts: owned services and processes, /metrics, percentiles.

Every server a bench starts (mosquitto, influxd, `ifpulse ingest`, `ifpulse api`, `ifpulse
publish`) is a `tests.services.proc.Process` registered on an ExitStack, so it is stopped by
PID when the bench ends, fails, or gets Ctrl-C / SIGTERM.
"""

from __future__ import annotations

import contextlib
import math
import shlex
import signal
import statistics
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.services.influxd import Influxd  # noqa: E402
from tests.services.mosquitto import Mosquitto  # noqa: E402
from tests.services.proc import Process, free_port, port_open  # noqa: E402

__all__ = [
    "ROOT",
    "Influxd",
    "Mosquitto",
    "Process",
    "command_line",
    "cpu_seconds",
    "free_port",
    "ifpulse",
    "metric",
    "pct",
    "port_open",
    "rss_mib",
    "sigterm_as_interrupt",
    "start",
    "wait_until",
]

CLK_TCK = 100


def command_line() -> str:
    """The exact command that is running, to print next to its figures."""
    return shlex.join(["python", str(Path(sys.argv[0]).resolve().relative_to(ROOT)), *sys.argv[1:]])


def sigterm_as_interrupt() -> None:
    """Turn SIGTERM into KeyboardInterrupt so `finally` blocks stop what the bench started."""

    def _raise(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _raise)


def ifpulse(*args: str) -> list[str]:
    """argv of `python -m ifpulse ARGS` with this interpreter."""
    return [sys.executable, "-m", "ifpulse", *args]


def start(
    stack: contextlib.ExitStack,
    argv: list[str],
    log: Path,
    ready: Callable[[], bool],
    name: str,
    timeout: float = 60.0,
) -> Process:
    """Start a process, wait until ready, and stop it by PID when the stack unwinds."""
    proc = Process(argv, log, ready, name)
    stack.callback(proc.stop)
    proc.start(timeout=timeout)
    return proc


def started_broker(stack: contextlib.ExitStack, tmp: Path) -> Mosquitto:
    """A private mosquitto (no persistence) under `tmp`, stopped when `stack` closes."""
    broker = Mosquitto(tmp / "mosquitto", persistence=False)
    stack.callback(broker.stop)
    broker.start()
    return broker


def started_influxd(stack: contextlib.ExitStack, tmp: Path) -> Influxd:
    """A private influxd under `tmp`, stopped when `stack` closes."""
    influxd = Influxd(tmp / "influxd")
    stack.callback(influxd.stop)
    influxd.start()
    return influxd


def metric(port: int, name: str) -> float:
    """One unlabelled value from a Prometheus /metrics page on loopback (0 when unreachable)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:
            for line in resp.read().decode().splitlines():
                if line.startswith(name + " "):
                    return float(line.split()[1])
    except OSError:
        pass
    return 0.0


def wait_until(cond: Callable[[], bool], timeout: float, what: str, every: float = 0.02) -> float:
    """Poll until cond(); returns the perf_counter when it became true, or exits saying what."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return time.perf_counter()
        time.sleep(every)
    raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process (and its reaped children) used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15]) / CLK_TCK


def rss_mib(pid: int) -> float:
    """Resident set size of a process, MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def pct(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    if q >= 100:
        return ordered[-1]
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def median(values: Sequence[float]) -> float:
    """Median, NaN for no values."""
    return statistics.median(values) if values else float("nan")
