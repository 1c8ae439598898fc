"""The kept-alive write connection: reused, replaced when the server closed it, errors mapped."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from stores.base import StoreUnavailable
from stores.influx_http import InfluxHttp
from stores.influx_url import parse_url


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    connections = 0
    bodies: list[bytes]
    close_after_reply = False


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive unless told otherwise
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.connections += 1

    def do_POST(self) -> None:
        self.server.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()
        if self.server.close_after_reply:
            # Closed without a `Connection: close`: the client learns only on its next request.
            self.close_connection = True

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server(("127.0.0.1", 0), _Handler)
    srv.bodies = []
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(5)


def _http(port: int) -> InfluxHttp:
    return InfluxHttp(parse_url(f"influxdb://127.0.0.1:{port}/db"))


def test_writes_reuse_one_connection(server: _Server) -> None:
    http = _http(server.server_address[1])
    for n in range(3):
        assert http.write_v1(f"m v={n}i".encode(), "db", "raw").status == 204
    http.close()
    assert server.bodies == [b"m v=0i", b"m v=1i", b"m v=2i"]
    assert server.connections == 1


def test_a_connection_the_server_closed_is_replaced_and_nothing_is_lost(server: _Server) -> None:
    server.close_after_reply = True
    http = _http(server.server_address[1])
    for n in range(3):
        assert http.write_v1(f"m v={n}i".encode(), "db", None).status == 204
    http.close()
    assert server.bodies == [b"m v=0i", b"m v=1i", b"m v=2i"]
    assert server.connections == 3


def test_no_server_is_store_unavailable() -> None:
    srv = _Server(("127.0.0.1", 0), _Handler)
    port = srv.server_address[1]
    srv.server_close()
    with pytest.raises(StoreUnavailable, match="unreachable"):
        _http(port).write_v1(b"m v=1i", "db", None)
