"""Start, wait for and stop a local server process by PID, on a free loopback port."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

LOOPBACK = "127.0.0.1"


class ServiceMissing(RuntimeError):
    """The binary a test needs is not installed."""


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def need_binary(name: str, package: str) -> str:
    """Path of a binary, or a failure that says which Debian package to install."""
    path = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.path.exists(p)), None
    )
    if path is None:
        raise ServiceMissing(
            f"{name} not found: install it with `apt-get install -y {package}` "
            "(scripts/test does this when run as root)"
        )
    return path


def port_open(port: int) -> bool:
    """True if something accepts TCP connections on loopback:port."""
    try:
        with socket.create_connection((LOOPBACK, port), timeout=0.2):
            return True
    except OSError:
        return False


class Process:
    """One server process we own: started with a log file, stopped by PID."""

    def __init__(self, argv: list[str], log: Path, ready: Callable[[], bool], name: str) -> None:
        self.argv = argv
        self.log = log
        self.ready = ready
        self.name = name
        self.popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """PID while running."""
        return self.popen.pid if self.popen and self.popen.poll() is None else None

    def start(self, timeout: float = 30.0) -> None:
        """Start and wait until ready; fail with the log tail if it dies or times out."""
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                self.argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start:\n{self.tail()}")
            if self.ready():
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} not ready after {timeout}s:\n{self.tail()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        """Stop by PID (SIGTERM, then SIGKILL after the timeout)."""
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.send_signal(sig)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout)

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        self.stop(signal.SIGKILL)

    def tail(self, lines: int = 30) -> str:
        """The end of the process log."""
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"
