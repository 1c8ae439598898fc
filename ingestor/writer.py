"""Write batches to the store: retry while it is unavailable, isolate what it refuses."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field

from schemas import Message
from stores import BatchRejected, Store, StoreUnavailable

log = logging.getLogger(__name__)


class GaveUp(Exception):
    """The store stayed unavailable past the caller's deadline (only while shutting down)."""


@dataclass
class WriteResult:
    """Which messages of a batch the store refused for good (index -> reason)."""

    refused: dict[int, str] = field(default_factory=dict)


@dataclass
class Backoff:
    """Capped exponential backoff: first, 2 x first, ... up to `cap` seconds."""

    first: float = 0.1
    cap: float = 10.0
    _next: float = 0.0

    def reset(self) -> None:
        """Start again from the first delay."""
        self._next = 0.0

    def next_delay(self) -> float:
        """The delay to wait before the next attempt."""
        self._next = min(self.cap, self._next * 2 if self._next else self.first)
        return self._next


class Writer:
    """Writes one batch at a time; blocks (retrying) while the store is unavailable."""

    def __init__(
        self,
        store: Store,
        *,
        wait: Callable[[float], object],
        give_up: Callable[[], bool] = lambda: False,
        backoff: Backoff | None = None,
        monotonic: Callable[[], float],
        on_written: Callable[[int, float], None] = lambda _n, _secs: None,
        on_unavailable: Callable[[], None] = lambda: None,
        attempt: Callable[[], AbstractContextManager[object]] = nullcontext,
    ) -> None:
        self._store = store
        self._attempt = attempt
        self._wait = wait
        self._give_up = give_up
        self._backoff = backoff or Backoff()
        self._monotonic = monotonic
        self._on_written = on_written
        self._on_unavailable = on_unavailable

    def write(self, messages: Sequence[Message]) -> WriteResult:
        """Write all messages; return those refused. Raises GaveUp only if give_up() says so."""
        if not messages:
            return WriteResult()
        try:
            self._write_retrying(messages)
            return WriteResult()
        except BatchRejected as exc:
            if len(messages) == 1:
                return WriteResult({0: str(exc)})
            log.warning("store refused a batch of %d (%s); writing one by one", len(messages), exc)
        # A refused batch is split so that one bad record cannot take the others down.
        result = WriteResult()
        for index, message in enumerate(messages):
            try:
                self._write_retrying([message])
            except BatchRejected as exc:
                result.refused[index] = str(exc)
        return result

    def _write_retrying(self, messages: Sequence[Message]) -> None:
        self._backoff.reset()
        while True:
            started = self._monotonic()
            try:
                with self._attempt():
                    self._store.write_batch(messages)
            except BatchRejected:
                raise
            except Exception as exc:
                # Anything but an explicit refusal is treated as transient: holding the
                # data (unacked on the broker) beats losing it to an unexpected error.
                if not isinstance(exc, StoreUnavailable):
                    log.exception("unexpected store error; treating it as unavailable")
                self._on_unavailable()
                if self._give_up():
                    raise GaveUp(str(exc)) from exc
                delay = self._backoff.next_delay()
                log.warning("store unavailable (%s); retrying in %.1fs", exc, delay)
                self._wait(delay)
                continue
            self._on_written(len(messages), self._monotonic() - started)
            return
