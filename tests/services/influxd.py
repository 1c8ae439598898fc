"""A real InfluxDB 1.x (`influxd`) on free loopback ports with its own data dirs."""

from __future__ import annotations

import urllib.request
from pathlib import Path

from tests.services.proc import LOOPBACK, Process, free_port, need_binary

_CONF = """\
reporting-disabled = true
bind-address = "{host}:{rpc_port}"

[meta]
  dir = "{dir}/meta"

[data]
  dir = "{dir}/data"
  wal-dir = "{dir}/wal"
  query-log-enabled = false

[http]
  bind-address = "{host}:{port}"
  log-enabled = false

[monitor]
  store-enabled = false

[continuous_queries]
  run-interval = "1s"
"""


class Influxd:
    """An influxd process the test owns; stop/start keep port and data."""

    def __init__(self, workdir: Path, *, port: int | None = None) -> None:
        self.binary = need_binary("influxd", "influxdb")
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.host = LOOPBACK
        self.port = port or free_port()
        self.rpc_port = free_port()
        self.conf = workdir / "influxdb.conf"
        self.conf.write_text(
            _CONF.format(host=LOOPBACK, port=self.port, rpc_port=self.rpc_port, dir=workdir)
        )
        self.process = Process(
            [self.binary, "-config", str(self.conf)],
            workdir / "influxd.log",
            self._ping,
            f"influxd:{self.port}",
        )

    @property
    def http_url(self) -> str:
        """Base HTTP URL."""
        return f"http://{self.host}:{self.port}"

    def store_url(self, database: str) -> str:
        """ifpulse store URL for a database on this server."""
        return f"influxdb://{self.host}:{self.port}/{database}"

    def _ping(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.http_url}/ping", timeout=0.5) as resp:
                return bool(resp.status == 204)
        except OSError:
            return False

    def start(self) -> None:
        """Start (again) on the same ports."""
        self.process.start(timeout=60)

    def stop(self) -> None:
        """Graceful stop."""
        self.process.stop()

    def kill(self) -> None:
        """SIGKILL."""
        self.process.kill()

    def restart(self) -> None:
        """Stop and start on the same ports."""
        self.stop()
        self.start()
