"""Hostile input never yields a 5xx; the OpenAPI schema is complete; `ifpulse api --help`."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import sample
from tests.unit.api.fake_store import FakeStore
from tests.unit.api.helpers import HOSTILE, NOW, history, hostile_urls


@pytest.fixture
def filled(store: FakeStore) -> FakeStore:
    store.write_batch([*history("h", "eth0"), sample("h", "wg+1", ts=NOW - timedelta(seconds=1))])
    return store


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_never_5xx(filled: FakeStore, client: TestClient, value: str) -> None:
    for url in hostile_urls(value):
        resp = client.get(url)
        assert resp.status_code < 500, (url[:120], resp.status_code)
        if resp.status_code >= 400:
            assert "detail" in resp.json()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=st.text(min_size=1, max_size=80))
def test_random_text_never_5xx(filled: FakeStore, client: TestClient, value: str) -> None:
    for url in hostile_urls(value):
        assert client.get(url).status_code < 500, url


def test_openapi_documents_every_route(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    for path in (
        "/api/v1/servers",
        "/api/v1/servers/{server_id}",
        "/api/v1/servers/{server_id}/interfaces/{name}",
        "/api/v1/metrics/sparkline/{server_id}/network",
        "/api/v1/traffic/summary",
        "/api/v1/export/traffic",
        "/api/v1/alerts",
        "/metrics",
        "/healthz",
        "/readyz",
    ):
        operation = paths[path]["get"]
        assert operation.get("description"), path  # from the handler docstring
    for name in ("ServerPublic", "ServerDetail", "InterfacePublic", "Sparkline", "Problem"):
        assert name in schema["components"]["schemas"]
    detail = schema["components"]["schemas"]["ServerDetail"]
    assert "network_interfaces" in detail["properties"]


def test_dashboard_and_assets_are_served(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    for asset in ("/static/app.js", "/static/style.css"):
        assert client.get(asset).status_code == 200, asset
    assert "http" not in page.text.replace("http-equiv", ""), "no CDN or remote asset"


def test_cli_help_lists_every_option() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "ifpulse", "api", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    for option in ("--store", "--bind", "--port", "--api-token-file", "--cors-origins"):
        assert option in out.stdout
    assert "--api-token " not in out.stdout  # the secret is never an argument


def test_cli_refuses_bad_options() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "ifpulse", "api", "--store", "mysql://x", "--port", "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "mysql" in out.stderr


@pytest.mark.parametrize("flag", [["--api-token", "s3cret"], ["--api-token=s3cret"]])
def test_cli_refuses_token_on_the_command_line(flag: list[str]) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "ifpulse", "api", "--store", "sqlite:///unused.db", *flag],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "--api-token-file" in out.stderr
    assert "s3cret" not in out.stderr + out.stdout


def test_docs_page_works_offline(client: TestClient) -> None:
    # A homelab api often has no internet: Swagger UI's assets come from the package.
    page = client.get("/docs")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "cdn" not in page.text.lower() and "http" not in page.text.split("<body>")[1]
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"):
        assert f"/docs/assets/{asset}" in page.text
        got = client.get(f"/docs/assets/{asset}")
        assert got.status_code == 200 and len(got.content) > 500, asset
    assert "/openapi.json" in page.text
    assert client.get("/redoc").status_code == 404  # it would need a CDN: not offered
