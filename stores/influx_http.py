"""HTTP to InfluxDB: /ping, InfluxQL over /query, and the v1 /write endpoint (stdlib only)."""

from __future__ import annotations

import base64
import http.client
import json
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from stores.base import StoreError, StoreUnavailable
from stores.influx_url import InfluxConfig


@dataclass(frozen=True)
class Reply:
    """Status, headers and body of one HTTP response."""

    status: int
    headers: dict[str, str]
    body: bytes

    def text(self, limit: int = 300) -> str:
        """The start of the body, for error messages (server text, never our secrets)."""
        return self.body[:limit].decode("utf-8", "replace").strip()


def _reply(resp: http.client.HTTPResponse) -> Reply:
    return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())


def auth_headers(cfg: InfluxConfig) -> dict[str, str]:
    """`Token` auth for a token, HTTP Basic for username/password, nothing otherwise."""
    if cfg.token:
        return {"Authorization": f"Token {cfg.token}"}
    if cfg.username is not None:
        pair = f"{cfg.username}:{cfg.password or ''}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}
    return {}


class InfluxHttp:
    """One server's HTTP API: queries on a fresh connection each, writes on a kept-alive one.

    Writes come in a steady stream from one thread (the ingestor's), and a TCP connect plus
    close per batch cost ~5 % of an ingest; each thread keeps its own write connection, so
    the class stays thread-safe.
    """

    def __init__(self, cfg: InfluxConfig) -> None:
        self.cfg = cfg
        self._headers = auth_headers(cfg)
        self._local = threading.local()
        self._kept: set[http.client.HTTPConnection] = set()
        self._kept_lock = threading.Lock()

    def _connect(self) -> http.client.HTTPConnection:
        if self.cfg.tls:
            ctx = ssl.create_default_context()
            return http.client.HTTPSConnection(
                self.cfg.host, self.cfg.port, timeout=self.cfg.timeout_s, context=ctx
            )
        return http.client.HTTPConnection(self.cfg.host, self.cfg.port, timeout=self.cfg.timeout_s)

    def _unreachable(self, exc: BaseException) -> StoreUnavailable:
        # The URL without credentials: host and port are enough to act on.
        where = f"{self.cfg.host}:{self.cfg.port}"
        return StoreUnavailable(f"InfluxDB at {where} unreachable: {type(exc).__name__}: {exc}")

    def request(
        self,
        method: str,
        path: str,
        params: dict[str, str],
        body: bytes | None = None,
        content_type: str = "application/x-www-form-urlencoded",
    ) -> Reply:
        """One request; OSError and HTTP protocol errors become StoreUnavailable."""
        headers = dict(self._headers)
        if body is not None:
            headers["Content-Type"] = content_type
        conn = self._connect()
        try:
            conn.request(method, f"{path}?{urlencode(params)}", body=body, headers=headers)
            resp = conn.getresponse()
            return _reply(resp)
        except (OSError, http.client.HTTPException) as exc:
            raise self._unreachable(exc) from None
        finally:
            conn.close()

    def _kept_connection(self) -> tuple[http.client.HTTPConnection, bool]:
        """This thread's kept-alive connection, and whether it served a request before."""
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn, True
        conn = self._local.conn = self._connect()
        with self._kept_lock:
            self._kept.add(conn)
        return conn, False

    def _drop_kept(self) -> None:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            with self._kept_lock:
                self._kept.discard(conn)
            conn.close()

    def kept_alive_request(self, method: str, path: str, body: bytes, content_type: str) -> Reply:
        """One request on this thread's kept-alive connection (for idempotent requests only).

        A reused connection the server has closed meanwhile fails at once; the request is
        then sent once more on a fresh connection. A timeout is not retried: the server got
        the request and is slow, and retrying would only double the wait.
        """
        headers = {**self._headers, "Content-Type": content_type}
        while True:
            conn, reused = self._kept_connection()
            try:
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                reply = _reply(resp)
            except (OSError, http.client.HTTPException) as exc:
                self._drop_kept()
                if reused and not isinstance(exc, TimeoutError):
                    continue
                raise self._unreachable(exc) from None
            if resp.will_close:
                self._drop_kept()
            return reply

    def close(self) -> None:
        """Close every thread's kept-alive connection (a later request opens a new one)."""
        with self._kept_lock:
            kept, self._kept = self._kept, set()
        for conn in kept:
            conn.close()

    def ping(self) -> str:
        """The server's version from /ping's X-Influxdb-Version header ('' if absent)."""
        reply = self.request("GET", "/ping", {})
        if reply.status >= 500:
            raise StoreUnavailable(f"InfluxDB /ping answered {reply.status}")
        return reply.headers.get("x-influxdb-version", "")

    def _query_form(self, q: str, db: str | None, rp: str | None, **extra: str) -> bytes:
        form = {"q": q, "epoch": "ms", **extra}
        if db is not None:
            form["db"] = db
        if rp is not None:
            form["rp"] = rp
        return urlencode(form).encode()

    def query(self, q: str, db: str | None = None, rp: str | None = None) -> list[dict[str, Any]]:
        """Run InfluxQL (POST form, epoch=ms); return each statement's result or raise."""
        reply = self.request("POST", "/query", {}, self._query_form(q, db, rp))
        check_query_reply(reply)
        results: list[dict[str, Any]] = json.loads(reply.body).get("results", [])
        for result in results:
            if "error" in result:
                raise StoreError(f"InfluxQL error: {result['error']}")
        return results

    def query_chunks(
        self, q: str, db: str | None = None, rp: str | None = None, chunk_size: int = 5000
    ) -> Iterator[dict[str, Any]]:
        """Run one SELECT with chunked=true and yield each series chunk as it arrives."""
        body = self._query_form(q, db, rp, chunked="true", chunk_size=str(chunk_size))
        headers = {**self._headers, "Content-Type": "application/x-www-form-urlencoded"}
        conn = self._connect()
        try:
            conn.request("POST", "/query", body=body, headers=headers)
            resp = conn.getresponse()
            if resp.status != 200:
                check_query_reply(Reply(resp.status, {}, resp.read()))
            # Chunked answers are one JSON document per line.
            for line in resp:
                if not line.strip():
                    continue
                for result in json.loads(line).get("results", []):
                    if "error" in result:
                        raise StoreError(f"InfluxQL error: {result['error']}")
                    yield from result.get("series", [])
        except (OSError, http.client.HTTPException) as exc:
            raise self._unreachable(exc) from None
        finally:
            conn.close()

    def write_v1(self, body: bytes, db: str, rp: str | None) -> Reply:
        """POST line protocol to the v1 /write endpoint (ms precision); the caller judges it."""
        params = {"db": db, "precision": "ms"}
        if rp is not None:
            params["rp"] = rp
        # Rewriting the same points is harmless (same key, same values), so a write may be
        # resent on a fresh connection when a kept-alive one turns out to be closed.
        path = f"/write?{urlencode(params)}"
        return self.kept_alive_request("POST", path, body, "text/plain; charset=utf-8")


def check_query_reply(reply: Reply) -> None:
    """Raise the right StoreError for a non-200 /query answer."""
    if reply.status == 200:
        return
    if reply.status >= 500 or reply.status in (401, 403, 429):
        raise StoreUnavailable(f"InfluxDB /query answered {reply.status}: {reply.text()}")
    raise StoreError(f"InfluxDB /query answered {reply.status}: {reply.text()}")
