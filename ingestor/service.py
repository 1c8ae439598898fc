"""Wire consumer, batcher, writer and dead letters; run until stopped, then drain."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta

from ingestor.batcher import Batcher
from ingestor.consumer import ClientFactory, Consumer, ConsumerConfig, Received, make_client
from ingestor.deadletter import DeadLetters, Sent, confirmed
from ingestor.inbox import Inbox
from ingestor.metrics import Metrics
from ingestor.settings import Settings
from ingestor.turns import Turns
from ingestor.writer import Backoff, GaveUp, Writer
from schemas import DecodeError, Reason, TopicScheme
from stores import Store, StoreError

log = logging.getLogger(__name__)

# How often the loop wakes with nothing to do, to notice a stop request or due maintenance.
_IDLE_WAKE = 0.25
# On shutdown, how long to wait for the broker to confirm the last dead letters.
_DEAD_LETTER_CONFIRM = 5.0


def utc_now() -> datetime:
    """The wall clock, in UTC."""
    return datetime.now(UTC)


def subscription_filters(scheme: TopicScheme, group: str | None) -> tuple[str, ...]:
    """Sample, status and alert filters; `$share/{group}/` in front when load is shared."""
    filters = (scheme.sample_filter(), scheme.status_filter(), scheme.alert_filter())
    return tuple(f"$share/{group}/{f}" for f in filters) if group else filters


def consumer_config(settings: Settings, scheme: TopicScheme) -> ConsumerConfig:
    """The consumer's part of the settings."""
    return ConsumerConfig(
        host=settings.broker_host,
        port=settings.broker_port,
        client_id=settings.client_id,
        filters=subscription_filters(scheme, settings.group),
        receive_maximum=settings.effective_receive_maximum,
        session_expiry=settings.session_expiry,
        keepalive=settings.keepalive,
        max_clock_skew=timedelta(seconds=settings.max_clock_skew),
        username=settings.username,
        password=settings.mqtt_password(),
        tls=settings.tls,
        tls_ca=str(settings.tls_ca) if settings.tls_ca else None,
        tls_cert=str(settings.tls_cert) if settings.tls_cert else None,
        tls_key=str(settings.tls_key) if settings.tls_key else None,
    )


class Ingestor:
    """One ingestor: the store is used only from the thread that calls run()."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        client_factory: ClientFactory = make_client,
        clock: Callable[[], datetime] = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics or Metrics()
        self._store = store
        self._clock = clock
        self._monotonic = monotonic
        self._stop = threading.Event()
        self._turns = Turns()
        self._deadline = float("inf")
        scheme = TopicScheme(settings.topic_prefix)
        # Receive Maximum should keep the broker from sending more than that unacked, but
        # mosquitto 2.0.11 stops enforcing it after the first PUBACK (measured). So this
        # bound is what holds memory: when full, paho's thread waits, TCP backpressure
        # stops the broker, and the broker keeps the rest.
        capacity = settings.effective_receive_maximum + settings.batch_size
        self._inbox: Inbox[Received] = Inbox(capacity)
        # Received and not yet written (or dead-lettered): computed when scraped, so that
        # paho's thread updates no gauge per message.
        self._flushed = 0
        self.metrics.queue_depth.set_function(lambda: self._inbox.arrived - self._flushed)
        self._batcher: Batcher[Received] = Batcher(
            settings.batch_size, settings.flush_interval, monotonic
        )
        self.consumer = Consumer(
            consumer_config(settings, scheme),
            scheme,
            self._take,
            client_factory=client_factory,
            clock=clock,
            on_connection=lambda up: self.metrics.connected.set(1 if up else 0),
        )
        self.dead_letters = DeadLetters(
            scheme,
            self.consumer.publish,
            ingestor_id=settings.client_id,
            clock=clock,
            monotonic=monotonic,
            on_rejected=self.metrics.on_rejected,
        )
        # Only a CPU-bound write makes paho's thread wait (see ingestor/turns.py); during
        # a write that waits on a server it may as well read.
        self._turn = self._turns.writing if store.cpu_bound else nullcontext
        self._writer = Writer(
            store,
            attempt=self._turn,
            wait=self._pause,
            give_up=lambda: self._stop.is_set() and self._monotonic() >= self._deadline,
            backoff=Backoff(cap=settings.retry_max_backoff),
            monotonic=monotonic,
            on_written=self.metrics.on_written,
            on_unavailable=self.metrics.store_unavailable.inc,
        )
        self._next_maintain = monotonic() + settings.maintain_interval
        # Refused messages whose dead letter the broker has not confirmed yet; acked once it
        # has. Polled, never waited for: paho's thread may itself be waiting for queue room.
        self._awaiting: deque[tuple[Received, Sent]] = deque()

    def _take(self, item: Received) -> None:
        # paho's thread: pause while the writer writes (see ingestor/turns.py).
        self._turns.wait_turn()
        self.metrics.received.inc()
        self._inbox.put(item)

    def stop(self) -> None:
        """Ask run() to drain and return (safe from a signal handler or another thread)."""
        if not self._stop.is_set():
            self._deadline = self._monotonic() + self.settings.drain_timeout
            self._stop.set()

    def run(self) -> int:
        """Consume until stop(); then write and ack what was received. 0 if fully drained."""
        self.consumer.start()
        try:
            while not self._stop.is_set():
                self._step()
            return self._drain()
        except GaveUp as exc:
            log.error(
                "store still unavailable at shutdown (%s): leaving messages unacked "
                "on the broker, which will deliver them again",
                exc,
            )
            return 1
        finally:
            self.consumer.close()

    def _pause(self, delay: float) -> None:
        """Back off between store retries; a stop request cuts only the first wait short."""
        if not self._stop.is_set():
            self._stop.wait(delay)
        else:
            time.sleep(max(0.0, min(delay, self._deadline - self._monotonic())))

    def _step(self) -> None:
        batcher = self._batcher
        left = batcher.time_left()
        room = batcher.max_size - len(batcher)
        # An empty batch waits for its first item (which starts its age), a started one
        # sleeps until it is full or due: one wake-up per batch, not one per message.
        batcher.extend(
            self._inbox.take(
                room,
                wait_for=room if len(batcher) else 1,
                timeout=_IDLE_WAKE if left is None else min(left, _IDLE_WAKE),
            )
        )
        if batcher.due():
            self._flush(batcher.take())
        self._ack_confirmed(wait=0.0)
        if not len(self._batcher) and self._monotonic() >= self._next_maintain:
            self._maintain()

    def _drain(self) -> int:
        self.consumer.pause()
        pending = self._batcher.take()
        pending += self._inbox.take(len(self._inbox))
        log.info("stopping: writing %d queued messages", len(pending))
        size = self.settings.batch_size
        for start in range(0, len(pending), size):
            self._flush(pending[start : start + size])
        self._ack_confirmed(wait=_DEAD_LETTER_CONFIRM)
        return 0

    def _flush(self, items: list[Received]) -> None:
        messages = [item.message for item in items if item.message is not None]
        result = self._writer.write(messages)
        if len(messages) == len(items) and not result.refused:
            # The acks' wake-up of paho's loop (a socket send) gives the GIL away; within the
            # turn paho's thread is parked, so the writer gets it straight back.
            with self._turn():
                self.consumer.ack_many(items)  # the usual case: all written
        else:
            self._settle(items, result.refused)
        self._flushed += len(items)

    def _settle(self, items: list[Received], refused_at: dict[int, str]) -> None:
        """Ack what was written; dead-letter what was refused (acked once the broker has it)."""
        good = [item for item in items if item.message is not None]
        refused = {id(good[i]): f"store refused it: {d}" for i, d in refused_at.items()}
        written: list[Received] = []
        for item in items:
            error = item.error
            if id(item) in refused:
                error = DecodeError(Reason.SCHEMA, refused[id(item)])
            if error is None:
                written.append(item)
            else:
                sent = self.dead_letters.reject(error, item.topic, item.payload)
                self._awaiting.append((item, sent))
        self.consumer.ack_many(written)

    def _ack_confirmed(self, wait: float) -> None:
        """Ack refused messages whose dead letter the broker holds, oldest first."""
        # A crash before the confirmation means redelivery and a second dead letter,
        # never a message acked without its dead letter.
        deadline = self._monotonic() + wait
        while self._awaiting:
            item, sent = self._awaiting[0]
            if not sent.is_published() and not (
                wait and confirmed(sent, deadline - self._monotonic())
            ):
                return
            self._awaiting.popleft()
            self.consumer.ack(item)

    def _maintain(self) -> None:
        self._next_maintain = self._monotonic() + self.settings.maintain_interval
        try:
            self._store.maintain(self._clock())
        except StoreError as exc:
            log.warning("store maintenance failed (will try again): %s", exc)
