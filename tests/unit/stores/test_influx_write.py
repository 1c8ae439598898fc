"""Write delivery policy against a fake sender: retry, Retry-After, 413 split, 4xx reject."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from stores.base import BatchRejected, StoreUnavailable
from stores.influx_http import Reply
from stores.influx_write import RetryPolicy, retry_after_s, send_lines

POLICY = RetryPolicy(attempts=3, backoff_s=0.1, max_backoff_s=1.0, max_retry_after_s=5.0)


class FakeServer:
    """Answers from a script of replies (or exceptions); records bodies and sleeps."""

    def __init__(self, *script: Reply | Exception | Callable[[bytes], Reply]) -> None:
        self.script = list(script)
        self.bodies: list[bytes] = []
        self.sleeps: list[float] = []

    def send(self, body: bytes) -> Reply:
        self.bodies.append(body)
        step = self.script.pop(0) if self.script else Reply(204, {}, b"")
        if isinstance(step, Exception):
            raise step
        return step(body) if callable(step) else step

    def run(self, lines: list[str]) -> None:
        send_lines(lines, self.send, POLICY, self.sleeps.append)


def test_retries_5xx_with_backoff_then_succeeds() -> None:
    fake = FakeServer(Reply(503, {}, b"busy"), Reply(500, {}, b"oops"))
    fake.run(["a x=1i 1"])
    assert len(fake.bodies) == 3
    assert fake.sleeps == [0.1, 0.2]


def test_honours_retry_after_capped() -> None:
    fake = FakeServer(Reply(429, {"retry-after": "2"}, b""), Reply(429, {"retry-after": "99"}, b""))
    fake.run(["a x=1i 1"])
    assert fake.sleeps == [2.0, 5.0]


def test_gives_up_after_attempts_with_store_unavailable() -> None:
    fake = FakeServer(*[Reply(503, {}, b"down")] * 3)
    with pytest.raises(StoreUnavailable, match="503 after 3 attempts"):
        fake.run(["a x=1i 1"])
    assert len(fake.bodies) == 3


def test_connection_errors_retry_then_store_unavailable() -> None:
    fake = FakeServer(*[StoreUnavailable("refused")] * 3)
    with pytest.raises(StoreUnavailable, match="refused"):
        fake.run(["a x=1i 1"])
    assert fake.sleeps == [0.1, 0.2]


def test_413_splits_until_it_fits() -> None:
    def too_big_over_one_line(body: bytes) -> Reply:
        return Reply(413, {}, b"") if b"\n" in body else Reply(204, {}, b"")

    lines = [f"a x={i}i {i}" for i in range(5)]
    fake = FakeServer(*[too_big_over_one_line] * 20)
    fake.run(lines)
    delivered = [b for b in fake.bodies if b"\n" not in b]
    assert sorted(delivered) == sorted(line.encode() for line in lines)


def test_413_on_a_single_point_is_rejected() -> None:
    with pytest.raises(BatchRejected, match="413"):
        FakeServer(Reply(413, {}, b"")).run(["a x=1i 1"])


def test_other_4xx_is_rejected_without_retry() -> None:
    fake = FakeServer(Reply(400, {}, b'{"error":"field type conflict"}'))
    with pytest.raises(BatchRejected, match="field type conflict"):
        fake.run(["a x=1i 1"])
    assert len(fake.bodies) == 1 and fake.sleeps == []


def test_points_beyond_retention_are_not_a_rejection() -> None:
    body = b'{"error":"partial write: points beyond retention policy dropped=2"}'
    FakeServer(Reply(400, {}, body)).run(["a x=1i 1"])


@pytest.mark.parametrize("status", [401, 403, 404])
def test_auth_and_missing_database_are_unavailable_not_rejected(status: int) -> None:
    with pytest.raises(StoreUnavailable):
        FakeServer(Reply(status, {}, b"no")).run(["a x=1i 1"])


def test_retry_after_http_date() -> None:
    now = datetime(2026, 1, 1, 0, 0, 0, tzinfo=UTC)
    assert retry_after_s("Thu, 01 Jan 2026 00:00:07 GMT", now) == 7.0
    assert retry_after_s("soon", now) is None
    assert retry_after_s(None) is None
