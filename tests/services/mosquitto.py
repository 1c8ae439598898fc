"""A real mosquitto broker on a free loopback port with its own config and data dir."""

from __future__ import annotations

import os
from pathlib import Path

from tests.services.proc import LOOPBACK, Process, free_port, need_binary, port_open


class Mosquitto:
    """A mosquitto process the test owns; it can be stopped and restarted on the same port."""

    def __init__(
        self,
        workdir: Path,
        *,
        port: int | None = None,
        persistence: bool = True,
        extra_conf: str = "",
    ) -> None:
        self.binary = need_binary("mosquitto", "mosquitto")
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.host = LOOPBACK
        self.port = port or free_port()
        self.persistence = persistence
        self.extra_conf = extra_conf
        self.conf = workdir / "mosquitto.conf"
        self._write_conf()
        self.process = Process(
            [self.binary, "-c", str(self.conf)],
            workdir / "mosquitto.log",
            lambda: port_open(self.port),
            f"mosquitto:{self.port}",
        )

    @property
    def url(self) -> str:
        """mqtt:// URL clients use."""
        return f"mqtt://{self.host}:{self.port}"

    def _write_conf(self) -> None:
        lines = [
            f"listener {self.port} {LOOPBACK}",
            "allow_anonymous true",
            # Ack-after-write consumers hold many messages unacked; the defaults (20 in
            # flight, 1000 queued) would stall or silently drop them. See deploy/mosquitto.
            "max_inflight_messages 1000",
            "max_queued_messages 1000000",
            "log_dest stdout",
            "log_type error",
            "log_type warning",
            "log_type notice",
        ]
        if self.persistence:
            lines += [
                "persistence true",
                f"persistence_location {self.workdir}/",
                "autosave_interval 1",
            ]
        if os.geteuid() == 0:
            lines.append("user root")  # otherwise it drops to `mosquitto` and can't write here
        self.conf.write_text("\n".join(lines) + "\n" + self.extra_conf + "\n")

    def start(self) -> None:
        """Start (again) on the same port."""
        self.process.start()

    def stop(self) -> None:
        """Graceful stop (SIGTERM): mosquitto saves its persistence file."""
        self.process.stop()

    def kill(self) -> None:
        """SIGKILL."""
        self.process.kill()

    def restart(self) -> None:
        """Stop and start on the same port."""
        self.stop()
        self.start()
