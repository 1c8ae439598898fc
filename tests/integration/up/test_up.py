"""`ifpulse up`: the whole stack on this machine, stopped with Ctrl-C, started again."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.services.browser import DomFacts, chromium
from tests.services.proc import free_port

pytestmark = pytest.mark.integration


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


class Up:
    """One `ifpulse up` process with its own data dir and ports."""

    def __init__(self, data_dir: Path, port: int, mqtt_port: int, log: Path) -> None:
        self.base = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("IFPULSE_")}
        with log.open("ab") as out:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "ifpulse", "up", "--data-dir", str(data_dir),
                 "--port", str(port), "--mqtt-port", str(mqtt_port), "--interval", "0.5"],
                stdout=out, stderr=subprocess.STDOUT, env=env,
            )  # fmt: skip
        self.log = log

    def wait_for_host(self, timeout: float = 30) -> dict[str, Any]:
        """This host as the api serves it, once it has interfaces."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.popen.poll() is None, self.log.read_text()[-3000:]
            try:
                servers = _get(f"{self.base}/api/v1/servers")
                if servers and servers[0]["interface_count"] > 0:
                    detail: dict[str, Any] = _get(f"{self.base}/api/v1/servers/{servers[0]['id']}")
                    return detail
            except OSError:
                pass
            time.sleep(0.25)
        raise AssertionError(f"no host after {timeout}s:\n{self.log.read_text()[-3000:]}")

    def interrupt(self) -> int:
        """Ctrl-C, as a user would; returns the exit code."""
        self.popen.send_signal(signal.SIGINT)
        return self.popen.wait(60)


def test_up_serves_this_host_and_keeps_data_across_a_restart(tmp_path: Path) -> None:
    data, port, mqtt_port = tmp_path / "data", free_port(), free_port()
    up = Up(data, port, mqtt_port, tmp_path / "up.log")
    try:
        host = up.wait_for_host()
        real = sorted(p.name for p in Path("/sys/class/net").iterdir() if p.name != "lo")
        names = [i["name"] for i in host["network_interfaces"]]
        assert names == real  # this machine's own interfaces, lo excluded
        assert b"ifpulse is up" in up.log.read_bytes()
        dom = chromium(["--dump-dom", f"{up.base}/#{host['id']}"], tmp_path / "profile")
        assert dom.returncode == 0, dom.stderr[-2000:]
        facts = DomFacts()
        facts.feed(dom.stdout)
        assert facts.hosts == [host["id"]]  # the dashboard renders this host's cards
        assert sorted(facts.interfaces) == real
    finally:
        assert up.interrupt() == 0
    stopped_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

    again = Up(data, port, mqtt_port, tmp_path / "up2.log")
    try:
        servers = []
        deadline = time.monotonic() + 30
        while not servers and time.monotonic() < deadline:
            try:
                servers = _get(f"{again.base}/api/v1/servers")
            except OSError:
                time.sleep(0.25)
        assert servers, again.log.read_text()[-3000:]
        old = _get(
            f"{again.base}/api/v1/export/traffic?server_id={servers[0]['id']}"
            f"&end={stopped_at}&format=json"
        )
        assert old, "samples written before the restart are still served"
        assert {s["iface"] for s in old} == set(names)
    finally:
        assert again.interrupt() == 0


def test_up_refuses_a_busy_port_naming_the_option(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = subprocess.run(
            [sys.executable, "-m", "ifpulse", "up", "--data-dir", str(tmp_path),
             "--port", str(port), "--mqtt-port", str(free_port())],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert out.returncode == 2
    assert f"port {port} is in use" in out.stderr
    assert "--port" in out.stderr
