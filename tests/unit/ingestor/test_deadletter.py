from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from ingestor.deadletter import DeadLetters
from schemas import DecodeError, Reason, TopicScheme, decode_rejection


def test_publishes_rejection_counts_and_logs_once_per_reason_per_minute(
    caplog: pytest.LogCaptureFixture,
) -> None:
    scheme = TopicScheme("p")
    sent: list[tuple[str, bytes]] = []

    class Done:
        def wait_for_publish(self, timeout: float | None = None) -> None:
            pass

        def is_published(self) -> bool:
            return True

    now = [0.0]
    seen: list[Reason] = []
    dl = DeadLetters(
        scheme,
        lambda t, p: (sent.append((t, p)), Done())[1],
        ingestor_id="ing-1",
        clock=lambda: datetime(2026, 11, 22, tzinfo=UTC),
        monotonic=lambda: now[0],
        on_rejected=seen.append,
    )
    caplog.set_level(logging.WARNING)
    for _ in range(3):
        dl.reject(DecodeError(Reason.BAD_JSON, "nope"), "p/v1/h/iface/e", b"{" * 2000)
    dl.reject(DecodeError(Reason.SCHEMA, "x"), "p/v1/h/iface/e", b"{}")
    now[0] = 61.0
    dl.reject(DecodeError(Reason.BAD_JSON, "again"), "p/v1/h/iface/e", b"{")

    assert [t for t, _ in sent] == [scheme.rejected()] * 5
    first = decode_rejection(sent[0][1])
    assert first.reason == Reason.BAD_JSON and first.ingestor == "ing-1"
    assert first.topic == "p/v1/h/iface/e" and len(first.payload) == 512
    assert dl.counts == {Reason.BAD_JSON: 4, Reason.SCHEMA: 1}
    assert seen.count(Reason.BAD_JSON) == 4
    lines = [r.getMessage() for r in caplog.records]
    assert sum("bad_json" in line for line in lines) == 2
    assert sum("schema" in line for line in lines) == 1
