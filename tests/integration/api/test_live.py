"""`ifpulse api` as a real process over a real SQLite store; its dashboard in headless Chromium."""

from __future__ import annotations

import math
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2 as httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from stores import open_store
from tests.factories import sample
from tests.services.browser import DomFacts, chromium
from tests.services.proc import Process, free_port, need_binary, port_open
from tests.unit.api.helpers import status

pytestmark = pytest.mark.integration

HOST, IFACES = "web1", ("eth0", "wlan0", "wg0")
TOKEN = "live-test-token"


@dataclass
class LiveApi:
    """A running `ifpulse api` process."""

    url: str
    process: Process


def _fill(db: Path) -> None:
    """Two hours of samples every 30 s, with rates that wave so sparklines have a shape."""
    now = datetime.now(UTC)
    store = open_store(f"sqlite:///{db}")
    try:
        store.write_batch([status(HOST, ts=now, interval_s=30.0)])
        for k, iface in enumerate(IFACES):
            batch = []
            for i in range(240):
                rx = 1000.0 * (k + 1) * (2 + math.sin(i / 12))
                tx = 400.0 * (k + 1) * (2 + math.cos(i / 9))
                batch.append(
                    sample(HOST, iface, ts=now - timedelta(seconds=30 * (240 - i)), seq=i,
                           interval_s=30.0, rx_bytes=10**6 + i * 30_000, tx_bytes=10**6 + i * 9_000,
                           delta={"rx_bytes": int(rx * 30), "tx_bytes": int(tx * 30)},
                           rx_bytes_per_sec=rx, tx_bytes_per_sec=tx)
                )  # fmt: skip
            store.write_batch(batch)
    finally:
        store.close()


def _start(tmp_path: Path, *extra: str) -> LiveApi:
    db = tmp_path / "ifpulse.db"
    _fill(db)
    port = free_port()
    argv = [sys.executable, "-m", "ifpulse", "api", "--store", f"sqlite:///{db}"]
    argv += ["--bind", "127.0.0.1", "--port", str(port), *extra]
    process = Process(argv, tmp_path / "api.log", lambda: port_open(port), "ifpulse api")
    process.start(timeout=30)
    return LiveApi(f"http://127.0.0.1:{port}", process)


@pytest.fixture
def live_api(tmp_path: Path) -> Iterator[LiveApi]:
    """`ifpulse api` on a free loopback port over a filled SQLite file; stopped by PID."""
    api = _start(tmp_path)
    try:
        yield api
    finally:
        api.process.stop()


def test_cli_serves_json_metrics_and_stops_cleanly(live_api: LiveApi) -> None:
    with httpx.Client(base_url=live_api.url, timeout=10) as http:
        assert http.get("/healthz").json()["status"] == "ok"
        assert http.get("/readyz").status_code == 200
        (server,) = http.get("/api/v1/servers").json()
        assert server["status"] == "online"
        assert server["interface_count"] == len(IFACES)
        metrics = http.get("/metrics").text
        assert http.get("/openapi.json").json()["info"]["title"] == "ifpulse api"
    families = {f.name: f for f in text_string_to_metric_families(metrics)}
    seen = {s.labels["interface"] for s in families["ifpulse_interface_receive_bytes"].samples}
    assert seen == set(IFACES)
    popen = live_api.process.popen
    assert popen is not None
    live_api.process.stop()
    assert popen.returncode == 0, live_api.process.tail()
    assert "Application shutdown complete" in live_api.process.tail()


def test_ctrl_c_stops_cleanly(tmp_path: Path) -> None:
    api = _start(tmp_path)
    api.process.stop(signal.SIGINT)
    assert api.process.popen is not None
    assert api.process.popen.returncode == 0, api.process.tail()
    assert "Traceback" not in api.process.tail(200)


def test_token_file_guards_api_but_not_health(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    api = _start(tmp_path, "--api-token-file", str(token_file))
    try:
        with httpx.Client(base_url=api.url, timeout=10) as http:
            assert http.get("/api/v1/servers").status_code == 401
            auth = {"Authorization": f"Bearer {TOKEN}"}
            assert http.get("/api/v1/servers", headers=auth).status_code == 200
            assert http.get("/healthz").status_code == 200
    finally:
        api.process.stop()
    assert TOKEN not in api.process.tail(200)


def test_dashboard_renders_in_headlesschromium(live_api: LiveApi, tmp_path: Path) -> None:
    try:
        need_binary("chromium", "chromium")
    except Exception as exc:  # a missing browser is a failure, never a silent skip
        pytest.fail(str(exc), pytrace=False)
    page = f"{live_api.url}/#{HOST}"
    dom = chromium(["--dump-dom", page], tmp_path / "profile-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    facts = DomFacts()
    facts.feed(dom.stdout)
    assert facts.hosts == [HOST], dom.stdout[:2000]
    assert sorted(facts.interfaces) == sorted(IFACES)
    assert len(facts.spark_points) == len(IFACES)
    assert all(n >= 30 for n in facts.spark_points), facts.spark_points
    assert len(facts.polylines) == 2 * len(IFACES)
    assert all(len(p.split()) >= 30 for p in facts.polylines)
    assert 'data-ready="true"' in dom.stdout
    shot = tmp_path / "dashboard.png"
    result = chromium([f"--screenshot={shot}", page], tmp_path / "profile-shot")
    assert result.returncode == 0, result.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 10_000


def test_schemathesis_cli_finds_no_5xx_on_the_live_process(
    live_api: LiveApi, tmp_path: Path
) -> None:
    # The CLI run (coverage, fuzzing and stateful phases) over real HTTP and a real store;
    # start >= end is a rule between two export parameters OpenAPI cannot state.
    argv = [str(Path(sys.executable).with_name("schemathesis")), "run"]
    argv += [f"{live_api.url}/openapi.json", "--max-examples", "10", "--seed", "1"]
    argv += ["--exclude-checks", "positive_data_acceptance", "--no-color"]
    # cwd: the CLI keeps a .schemathesis/ cache in its working directory.
    out = subprocess.run(argv, capture_output=True, text=True, timeout=240, cwd=tmp_path)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "No issues found" in out.stdout
