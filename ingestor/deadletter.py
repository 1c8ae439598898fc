"""Dead letters: publish a Rejection for every refused message, count it, log it rarely."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from schemas import DecodeError, Reason, TopicScheme, encode, make_rejection

log = logging.getLogger(__name__)


class Sent(Protocol):
    """A publish in progress (paho's MQTTMessageInfo)."""

    def wait_for_publish(self, timeout: float | None = None) -> None:
        """Block until the broker acknowledged it, or the timeout passed."""

    def is_published(self) -> bool:
        """True once the broker acknowledged it."""


Publish = Callable[[str, bytes], Sent]


def confirmed(sent: Sent, timeout: float) -> bool:
    """Wait up to `timeout` for the broker's acknowledgement of a publish."""
    try:
        sent.wait_for_publish(max(0.0, timeout))
    except (ValueError, RuntimeError):  # paho: not queued, or failed
        return False
    return sent.is_published()


class DeadLetters:
    """Publishes rejections to `{prefix}/v1/_rejected`; logs once per reason per interval."""

    def __init__(
        self,
        scheme: TopicScheme,
        publish: Publish,
        *,
        ingestor_id: str,
        clock: Callable[[], datetime],
        monotonic: Callable[[], float],
        on_rejected: Callable[[Reason], None] = lambda _reason: None,
        log_every: float = 60.0,
    ) -> None:
        self._topic = scheme.rejected()
        self._publish = publish
        self._ingestor_id = ingestor_id
        self._clock = clock
        self._monotonic = monotonic
        self._on_rejected = on_rejected
        self._log_every = log_every
        self._last_logged: dict[Reason, float] = {}
        self.counts: dict[Reason, int] = {}

    def reject(self, error: DecodeError, topic: str, payload: bytes) -> Sent:
        """Dead-letter one message; never raises for a malformed input."""
        rejection = make_rejection(
            error, topic, payload, now=self._clock(), ingestor=self._ingestor_id
        )
        sent = self._publish(self._topic, encode(rejection))
        self.counts[error.reason] = self.counts.get(error.reason, 0) + 1
        self._on_rejected(error.reason)
        self._log_rarely(error, topic)
        return sent

    def _log_rarely(self, error: DecodeError, topic: str) -> None:
        # A misbehaving host may send thousands of bad messages a second; one line per
        # reason per minute keeps the log readable while the counters keep the totals.
        now = self._monotonic()
        last = self._last_logged.get(error.reason)
        if last is not None and now - last < self._log_every:
            return
        self._last_logged[error.reason] = now
        log.warning(
            "rejected %s message on %r: %s (%d so far with this reason; logged once a minute)",
            error.reason.value,
            topic[:200],
            error.detail[:300],
            self.counts[error.reason],
        )
