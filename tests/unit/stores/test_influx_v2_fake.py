"""influxdb-client's /api/v2/write path against a fake HTTP server: statuses become policy."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from stores.base import BatchRejected, StoreUnavailable
from stores.influx_url import parse_url
from stores.influx_write import RetryPolicy, send_lines, v2_sender
from tests.services.proc import free_port


class FakeV2:
    """Answers /api/v2/write from a script of (status, headers, body); records requests."""

    def __init__(self) -> None:
        self.script: list[tuple[int, dict[str, str], bytes]] = []
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                fake.requests.append((self.path, dict(self.headers), body))
                status, headers, reply = fake.script.pop(0) if fake.script else (204, {}, b"")
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)


@pytest.fixture
def fake() -> Iterator[FakeV2]:
    server = FakeV2()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


def _send(fake: FakeV2, lines: list[str]) -> list[float]:
    cfg = parse_url(
        f"influxdb://127.0.0.1:{fake.port}/db?org=o&api=v2", env={"IFPULSE_INFLUX_TOKEN": "tok"}
    )
    send, close = v2_sender(cfg, "db/raw")
    sleeps: list[float] = []
    try:
        send_lines(lines, send, RetryPolicy(attempts=3, backoff_s=0.01), sleeps.append)
    finally:
        close()
    return sleeps


def test_writes_to_api_v2_with_bucket_precision_and_token(fake: FakeV2) -> None:
    _send(fake, ["m,host=h x=1i 1", "m,host=h x=2i 2"])
    ((path, headers, body),) = fake.requests
    assert path.startswith("/api/v2/write?")
    assert "bucket=db%2Fraw" in path and "precision=ms" in path and "org=o" in path
    assert headers["Authorization"] == "Token tok"
    assert body == b"m,host=h x=1i 1\nm,host=h x=2i 2"


def test_429_retry_after_then_ok(fake: FakeV2) -> None:
    fake.script = [(429, {"Retry-After": "1"}, b"slow down")]
    assert _send(fake, ["m x=1i 1"]) == [1.0]
    assert len(fake.requests) == 2


def test_5xx_exhausted_is_unavailable(fake: FakeV2) -> None:
    fake.script = [(503, {}, b"")] * 3
    with pytest.raises(StoreUnavailable, match="503"):
        _send(fake, ["m x=1i 1"])


def test_413_splits(fake: FakeV2) -> None:
    fake.script = [(413, {}, b"too big")]
    _send(fake, ["m x=1i 1", "m x=2i 2"])
    assert [r[2] for r in fake.requests[1:]] == [b"m x=1i 1", b"m x=2i 2"]


def test_400_rejected_with_server_text(fake: FakeV2) -> None:
    fake.script = [(400, {}, b'{"code":"invalid","message":"unable to parse"}')]
    with pytest.raises(BatchRejected, match="unable to parse"):
        _send(fake, ["m x=1i 1"])


def test_connection_refused_is_unavailable() -> None:
    cfg = parse_url(f"influxdb://127.0.0.1:{free_port()}/db?api=v2", env={})
    send, close = v2_sender(cfg, "db")
    with pytest.raises(StoreUnavailable, match="unreachable"):
        send_lines(["m x=1i 1"], send, RetryPolicy(attempts=2, backoff_s=0.01), lambda _: None)
    close()


def test_errors_never_carry_credentials() -> None:
    from stores.influx import InfluxStore

    url = f"influxdb://alice:pw-SECRET@127.0.0.1:{free_port()}/db"
    store = InfluxStore(parse_url(url, env={"IFPULSE_INFLUX_TOKEN": "tok-SECRET"}))
    with pytest.raises(StoreUnavailable) as err:
        store.hosts()
    assert "SECRET" not in str(err.value) and "SECRET" not in repr(store.cfg)
