"""`ifpulse up`: broker, ingestor, api and publisher for this host, on one machine.

Each part runs as its own child process (`python -m ifpulse <command>`), exactly as it would
in a real installation, so `up` is a supervisor and nothing more: it starts them in order,
prints what runs where, and on Ctrl-C / SIGTERM stops them in the order that loses nothing
(publisher flushes its spool, the ingestor drains and acks, then the api, then the broker).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, CliApp, SettingsConfigDict


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "ifpulse"


class UpSettings(BaseSettings):
    """Options of `ifpulse up`."""

    model_config = SettingsConfigDict(
        env_prefix="IFPULSE_",
        cli_prog_name="ifpulse up",
        cli_kebab_case=True,
        cli_implicit_flags=True,
        cli_parse_args=False,
    )

    data_dir: Path = Field(
        default_factory=_default_data_dir, description="where the store, spool, broker data live"
    )
    port: int = Field(8080, ge=1, le=65535, description="HTTP port of the api and dashboard")
    bind: str = Field("127.0.0.1", description="address the api listens on")
    mqtt_port: int = Field(1883, ge=1, le=65535, description="port of the embedded broker")
    interval: float = Field(10.0, ge=0.1, description="seconds between samples")
    broker: str | None = Field(None, description="use this broker (mqtt://host:port) instead")
    store: str | None = Field(None, description="use this store URL instead of the SQLite file")

    def cli_cmd(self) -> None:
        """Run the stack (called by CliApp)."""
        raise SystemExit(Stack(self).run())


class UpError(RuntimeError):
    """A problem the user must fix before the stack can start."""


def port_free(host: str, port: int) -> bool:
    """True if nothing listens on host:port."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def wait_port(port: int, timeout: float, child: subprocess.Popen[bytes]) -> None:
    """Wait until something accepts on loopback:port, or fail if the child died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise UpError(f"{child.args!r} exited with {child.returncode} while starting")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise UpError(f"nothing listens on port {port} after {timeout:.0f}s")


def mosquitto_conf(data_dir: Path, port: int) -> str:
    """The embedded broker's config: loopback only, persistent, sized for the ingestor."""
    lines = [
        f"listener {port} 127.0.0.1",
        "allow_anonymous true",
        "persistence true",
        f"persistence_location {data_dir}/",
        "autosave_interval 30",
        "max_inflight_messages 1000",
        "max_queued_messages 1000000",
        f"log_dest file {data_dir}/mosquitto.log",
    ]
    if os.geteuid() == 0:
        lines.append("user root")  # else it drops to `mosquitto`, who can't write data_dir
    return "\n".join(lines) + "\n"


@dataclass
class Stack:
    """The child processes of one `ifpulse up`."""

    settings: UpSettings
    children: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        child = subprocess.Popen(argv, start_new_session=True)
        self.children.append((name, child))
        return child

    def _ifpulse(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        return self._spawn(name, [sys.executable, "-m", "ifpulse", *args])

    def _check_ports(self) -> None:
        s = self.settings
        if not port_free(s.bind, s.port):
            raise UpError(f"port {s.port} is in use: choose another with --port")
        if s.broker is None and not port_free("127.0.0.1", s.mqtt_port):
            raise UpError(
                f"MQTT port {s.mqtt_port} is in use: choose another with --mqtt-port, "
                "or use that broker with --broker mqtt://127.0.0.1:PORT"
            )

    def _start_broker(self) -> str:
        s = self.settings
        if s.broker is not None:
            return s.broker
        binary = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin")
        if binary is None:
            raise UpError(
                "mosquitto not found: install it (apt-get install mosquitto) "
                "or point at a broker with --broker mqtt://host:1883"
            )
        broker_dir = s.data_dir / "mosquitto"
        broker_dir.mkdir(parents=True, exist_ok=True)
        conf = broker_dir / "mosquitto.conf"
        conf.write_text(mosquitto_conf(broker_dir, s.mqtt_port))
        wait_port(s.mqtt_port, 15, self._spawn("broker", [binary, "-c", str(conf)]))
        return f"mqtt://127.0.0.1:{s.mqtt_port}"

    def start(self) -> None:
        """Start broker, ingestor, api, publisher; print what runs where."""
        s = self.settings
        s.data_dir.mkdir(parents=True, exist_ok=True)
        self._check_ports()
        broker = self._start_broker()
        store = s.store or f"sqlite:///{s.data_dir / 'ifpulse.db'}"
        self._ifpulse("ingestor", "ingest", "--broker", broker, "--store", store)
        api = self._ifpulse("api", "api", "--store", store, "--bind", s.bind, "--port", str(s.port))
        wait_port(s.port, 30, api)
        spool = str(s.data_dir / "spool.db")
        self._ifpulse(
            "publisher", "publish", "--broker", broker, "--interval", str(s.interval),
            "--spool", spool,
        )  # fmt: skip
        host = "127.0.0.1" if s.bind in ("0.0.0.0", "::") else s.bind  # noqa: S104
        print(
            f"ifpulse is up\n  dashboard  http://{host}:{s.port}/\n"
            f"  api        http://{host}:{s.port}/api/v1/servers\n"
            f"  broker     {broker}{'' if s.broker else ' (embedded mosquitto)'}\n"
            f"  store      {store}\n  data dir   {s.data_dir}\nCtrl-C stops everything.",
            flush=True,
        )

    def stop(self) -> None:
        """Stop children newest first: publisher, api, ingestor, broker — each by PID."""
        for name, child in reversed(self.children):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
                try:
                    child.wait(45 if name in ("publisher", "ingestor") else 10)
                except subprocess.TimeoutExpired:
                    print(f"ifpulse up: {name} did not stop in time; killing it", file=sys.stderr)
                    child.kill()
                    child.wait()

    def run(self) -> int:
        """Start, supervise until a signal or a child's death, stop. Returns the exit code."""
        stopping: list[int] = []

        def on_signal(signum: int, _frame: object) -> None:
            stopping.append(signum)

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        try:
            self.start()
            while not stopping:
                dead = [(n, c) for n, c in self.children if c.poll() is not None]
                if dead:
                    name, child = dead[0]
                    print(f"ifpulse up: {name} exited ({child.returncode})", file=sys.stderr)
                    return 1
                time.sleep(0.2)
            return 0
        except UpError as exc:
            print(f"ifpulse up: {exc}", file=sys.stderr)
            return 2
        finally:
            self.stop()


def main(argv: list[str]) -> int:
    """Entry point of `ifpulse up`."""
    try:
        CliApp.run(UpSettings, cli_args=argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 0
    return 0
