"""/metrics exposition, /healthz and /readyz, bearer-token auth, CORS, store failures."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from api.app import create_app
from api.prometheus import COUNTERS
from api.settings import ApiSettings
from tests.factories import sample
from tests.unit.api.conftest import MakeClient
from tests.unit.api.fake_store import FakeStore
from tests.unit.api.helpers import NOW, status


def _families(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    return {
        f.name: [(s.labels, s.value) for s in f.samples if not s.name.endswith("_created")]
        for f in text_string_to_metric_families(text)
    }


def test_metrics_carry_every_interface(store: FakeStore, client: TestClient) -> None:
    ts = NOW - timedelta(seconds=5)
    store.write_batch(
        [
            status("h1", spool_dropped=12),
            sample("h1", "eth0", ts=ts, rx_bytes=2**64 - 1, rx_errors=7, collisions=3),
            sample("h1", "wg+1", ts=ts, is_up=False, speed_mbps=None, kind="tunnel"),
            status("h2", state="offline", ts=None),
            sample("h2", "eth0", ts=ts, tx_dropped=4, speed_mbps=10000),
        ]
    )
    resp = client.get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain")
    fams = _families(resp.text)
    expected = {("h1", "eth0"), ("h1", "wg+1"), ("h2", "eth0")}
    for name, _, _ in COUNTERS:
        family = fams[name.removesuffix("_total")]
        assert {(lbl["host"], lbl["interface"]) for lbl, _ in family} == expected, name
    rx = dict(
        ((lbl["host"], lbl["interface"]), v) for lbl, v in fams["ifpulse_interface_receive_bytes"]
    )
    assert rx[("h1", "eth0")] == float(2**64 - 1)
    up = {(lbl["host"], lbl["interface"]): v for lbl, v in fams["ifpulse_interface_up"]}
    assert up == {("h1", "eth0"): 1.0, ("h1", "wg+1"): 0.0, ("h2", "eth0"): 1.0}
    speed = {(lbl["host"], lbl["interface"]): v for lbl, v in fams["ifpulse_interface_speed_bytes"]}
    assert speed == {("h1", "eth0"): 125_000_000.0, ("h2", "eth0"): 1_250_000_000.0}
    host_up = {lbl["host"]: v for lbl, v in fams["ifpulse_host_up"]}
    assert host_up == {"h1": 1.0, "h2": 0.0}
    seen = fams["ifpulse_interface_last_seen_timestamp_seconds"]
    assert {v for _, v in seen} == {ts.timestamp()}
    assert "ifpulse_interface_mtu_bytes" in fams
    dropped = {lbl["host"]: v for lbl, v in fams["ifpulse_host_spool_dropped"]}
    assert dropped == {"h1": 12.0, "h2": 0.0}


def test_metrics_counter_names_follow_prometheus_rules() -> None:
    for name, _, _ in COUNTERS:
        assert name.startswith("ifpulse_interface_")
        assert name.endswith("_total")


def test_metrics_empty_store_still_parses(client: TestClient) -> None:
    resp = client.get("/metrics")
    assert resp.status_code == 200
    list(text_string_to_metric_families(resp.text))


def test_healthz_and_readyz(store: FakeStore, client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "detail": None}
    assert client.get("/readyz").status_code == 200
    store.broken = True
    assert client.get("/healthz").status_code == 200
    resp = client.get("/readyz")
    assert resp.status_code == 503
    assert "fake store is broken" in resp.json()["detail"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/servers",
        "/api/v1/servers/h",
        "/api/v1/servers/h/interfaces/eth0",
        "/api/v1/metrics/sparkline/h/network",
        "/api/v1/traffic/summary",
        "/api/v1/alerts",
        "/metrics",
    ],
)
def test_store_failure_is_503_not_500(store: FakeStore, client: TestClient, path: str) -> None:
    store.broken = True
    resp = client.get(path)
    assert resp.status_code == 503
    if path != "/metrics":
        assert "store unavailable" in resp.json()["detail"]


API_PATHS = ["/api/v1/servers", "/api/v1/alerts", "/api/v1/traffic/summary"]


def test_token_guards_every_api_route(make_client: MakeClient, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("s3cret-token\n# a comment on the next line is not part of it\n")
    client = make_client(api_token_file=token_file)
    for path in API_PATHS:
        assert client.get(path).status_code == 401
        wrong = client.get(path, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        assert wrong.headers["www-authenticate"] == "Bearer"
        ok = client.get(path, headers={"Authorization": "Bearer s3cret-token"})
        assert ok.status_code == 200, path
    assert client.get("/healthz").status_code == 200
    assert client.get("/").status_code == 200
    schema = client.get("/openapi.json").json()
    assert "HTTPBearer" in schema["components"]["securitySchemes"]
    assert "401" in schema["paths"]["/api/v1/servers"]["get"]["responses"]


def test_no_token_no_security_scheme(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert "securitySchemes" not in schema.get("components", {})
    assert "401" not in schema["paths"]["/api/v1/servers"]["get"]["responses"]
    assert "503" in schema["paths"]["/api/v1/servers"]["get"]["responses"]


def test_token_from_environment(make_client: MakeClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IFPULSE_API_TOKEN", "from-env")
    client = make_client()
    assert client.get("/api/v1/servers").status_code == 401
    assert client.get("/api/v1/servers", headers={"Authorization": "Bearer from-env"}).is_success


def test_empty_token_file_is_refused(make_client: MakeClient, tmp_path: Path) -> None:
    (tmp_path / "t").write_text("\n")
    with pytest.raises(ValueError, match="empty"):
        make_client(api_token_file=tmp_path / "t")


def test_cors_off_by_default_and_configurable(make_client: MakeClient) -> None:
    origin = {"Origin": "https://grafana.lan"}
    plain = make_client()
    assert "access-control-allow-origin" not in plain.get("/api/v1/servers", headers=origin).headers
    cors = make_client(cors_origins=["https://grafana.lan"])
    resp = cors.get("/api/v1/servers", headers=origin)
    assert resp.headers["access-control-allow-origin"] == "https://grafana.lan"
    other = cors.get("/api/v1/servers", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_store_given_is_not_closed(store: FakeStore, client: TestClient) -> None:
    client.__exit__(None, None, None)
    assert not store.closed


def test_store_opened_from_url_is_closed_on_shutdown(monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[tuple[str, FakeStore]] = []

    def fake_open(url: str) -> FakeStore:
        opened.append((url, FakeStore()))
        return opened[-1][1]

    monkeypatch.setattr("api.app.open_store", fake_open)
    app = create_app(ApiSettings(store="sqlite:///x.db"))
    with TestClient(app) as client:
        assert client.get("/readyz").status_code == 200
    assert opened[0][0] == "sqlite:///x.db"
    assert opened[0][1].closed
