"""The publisher loop: collect each interval, spool, drain the spool to the broker, stop cleanly.

Every sample takes one path: committed to the spool first, then published oldest first with a
bounded in-flight window and a bounded rate, and deleted from the spool on PUBACK. A backlog
after an outage is therefore replayed in order, and nothing committed is lost to a crash.
"""

from __future__ import annotations

import logging
import signal
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import FrameType
from typing import Protocol

from publisher.collect import Collector
from publisher.pacing import TokenBucket, next_tick
from publisher.payloads import SampleEncoder
from publisher.sampler import Sampler
from publisher.spool import Spool
from publisher.status import host_status
from schemas import HostState, InterfaceSample, TopicScheme

log = logging.getLogger(__name__)

ACK_BATCH = 100  # acknowledged ids deleted from the spool in one transaction
ACK_FLUSH_S = 0.5  # ... or after this long (at least an interval: the next cycle takes them)
STATUS_REFRESH_S = 60.0  # republish the retained status so spool_depth stays current
RETRY_S = 0.1  # after the transport refused to queue a message
TOPIC_CACHE_MAX = 4096


class Transport(Protocol):
    """What the loop needs of the MQTT link (a fake one in unit tests)."""

    generation: int
    session_resets: int
    """Times the broker answered a reconnect without our session: it lost its state."""

    @property
    def connected(self) -> bool:
        """True while the broker is reachable."""

    def start(self) -> None:
        """Begin connecting."""

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> int | None:
        """Queue a QoS 1 message, return its id (None if it could not be queued)."""

    def take_acks(self) -> list[int]:
        """Ids the broker acknowledged since the last call."""

    def close(self, timeout: float = 5.0) -> None:
        """Disconnect cleanly."""


@dataclass(frozen=True, slots=True)
class LoopOptions:
    """Timing knobs of the loop."""

    interval: float = 10.0
    max_inflight: int = 20
    replay_rate: float = 200.0
    grace: float = 5.0
    once_timeout: float = 30.0
    broker_reset_hold: float = 10.0


def _now_utc() -> datetime:
    return datetime.now(UTC)


class Publisher:
    """Collects, spools and publishes until stopped; see the module docstring."""

    def __init__(
        self,
        *,
        host: str,
        scheme: TopicScheme,
        collector: Collector,
        spool: Spool,
        transport: Transport,
        options: LoopOptions,
        sampler: Sampler | None = None,
        clock: Callable[[], float] = time.monotonic,
        wallclock: Callable[[], datetime] = _now_utc,
    ) -> None:
        self.host = host
        self.scheme = scheme
        self.collector = collector
        self.spool = spool
        self.transport = transport
        self.options = options
        self.clock = clock
        self.wallclock = wallclock
        self.sampler = sampler or Sampler(
            host, spool.last_seq + 1, wallclock=wallclock, monotonic=clock
        )
        burst = min(options.replay_rate, options.max_inflight)
        self.bucket = TokenBucket(options.replay_rate, burst, clock)
        self.wake = threading.Event()
        self.stopping = False
        self.boot_id = collector.boot_id()
        self._status_topic = scheme.status(host)
        self._inflight: dict[int, int] = {}  # MQTT message id -> spool id
        self._cursor = 0  # highest spool id handed to the transport
        self._generation = 0
        self._session_resets = 0
        self._acked: list[int] = []
        self._flush_by = 0.0
        self._status_due = 0.0
        self._dropped_reported = 0
        self._retry_at = 0.0
        self._rate_warned = False
        self._topics: dict[str, str] = {}
        self._encode = SampleEncoder()  # schemas.encode's bytes, cheaper for idle links
        # Whether an ack should wake the loop (see on_ack); read by the transport's thread.
        self._ack_wakeups = True
        # Called with each cycle's samples once they are spooled (HA discovery, alerts ...).
        self.sample_listeners: list[Callable[[list[InterfaceSample]], None]] = []

    # -- status messages --------------------------------------------------------------------
    def status(self, state: HostState = HostState.ONLINE) -> bytes:
        """The retained host status with the spool's figures."""
        return host_status(
            self.host,
            state,
            interval=self.options.interval,
            boot_id=self.boot_id,
            ts=self.wallclock(),
            spool_depth=self.backlog,
            spool_dropped=self.spool.dropped,
        )

    def on_connected(self, transport: Transport) -> None:
        """Called by the transport on each connection: announce ourselves (retained)."""
        transport.publish(self._status_topic, self.status(), retain=True)
        self._status_due = self.clock() + STATUS_REFRESH_S

    def _maybe_status(self) -> None:
        if not self.transport.connected:
            return
        if self.spool.dropped != self._dropped_reported or self.clock() >= self._status_due:
            self._dropped_reported = self.spool.dropped
            self.on_connected(self.transport)

    # -- one collection cycle ---------------------------------------------------------------
    def cycle(self) -> int:
        """Read every interface and commit one sample each to the spool; returns how many."""
        self._take_acks(flush=False)  # acks that did not wake us leave with this commit
        readings = self.collector.collect()
        self.boot_id = self.collector.boot_id()
        samples = self.sampler.sample(readings, self.boot_id)
        if not samples:
            return 0
        items = [(self._topic(s.iface), self._encode(s)) for s in samples]
        live_rate = len(items) / self.options.interval
        if live_rate > self.options.replay_rate and not self._rate_warned:
            self._rate_warned = True
            log.warning(
                "%.0f samples/s exceed --replay-rate %.0f/s: the spool will only grow",
                live_rate,
                self.options.replay_rate,
            )
        try:
            # Acknowledged rows leave in the same transaction: one commit per cycle.
            self.spool.put(items, last_seq=samples[-1].seq, acked=self._acked)
        except sqlite3.Error as exc:
            log.error("spool write failed, %d samples lost: %s", len(items), exc)
            return 0
        self._acked = []
        for listener in self.sample_listeners:
            try:
                listener(samples)
            except Exception:  # an add-on's bug must not stop the samples
                log.exception("sample listener %r failed", listener)
        return len(items)

    def _topic(self, iface: str) -> str:
        topic = self._topics.get(iface)
        if topic is None:
            if len(self._topics) > TOPIC_CACHE_MAX:  # veth names churn with containers
                self._topics.clear()
            topic = self._topics[iface] = self.scheme.sample(self.host, iface)
        return topic

    # -- draining the spool -----------------------------------------------------------------
    def pump(self) -> None:
        """Delete what was acknowledged, publish what may go now, refresh the status."""
        self._take_acks()
        self._drain()
        self._maybe_status()

    def on_ack(self) -> None:
        """The transport received an ack (its thread): wake the loop if it waits for one."""
        # Waking for every ack costs a thread switch each; the loop only needs one when the
        # in-flight window is full or it waits for delivery (--once, shutdown). Other acks
        # are taken with the next cycle and leave the spool in its transaction.
        if self._ack_wakeups:
            self.wake.set()

    def _take_acks(self, flush: bool = True) -> int:
        acks = self.transport.take_acks()
        for mid in acks:
            spool_id = self._inflight.pop(mid, None)
            if spool_id is not None:
                if not self._acked:
                    self._flush_by = self.clock() + max(ACK_FLUSH_S, self.options.interval)
                self._acked.append(spool_id)
        if (
            flush
            and self._acked
            and (len(self._acked) >= ACK_BATCH or self.clock() >= self._flush_by)
        ):
            self._flush_acks()
        return len(acks)

    def _waits_for_acks(self, once: bool) -> bool:
        """Set whether acks wake the loop now; True if acks came before that (take them)."""
        window_full = len(self._inflight) >= self.options.max_inflight
        wanted = once or self.stopping or (window_full and self._cursor < self.spool.last_id)
        self._ack_wakeups = wanted
        # An ack queued before the flag went up woke nobody: look once more.
        return wanted and self._take_acks() > 0

    def _flush_acks(self) -> None:
        try:
            self.spool.delete(self._acked)
        except sqlite3.Error as exc:  # they stay in the spool and are sent again: harmless
            log.error("spool delete failed: %s", exc)
        self._acked = []

    def _drain(self) -> None:
        transport = self.transport
        if transport.generation != self._generation:
            # A new client: whatever the old one had in flight is gone; resend from the oldest.
            self._generation = transport.generation
            self._inflight.clear()
            self._cursor = 0
            if self._acked:
                self._flush_acks()
        if transport.session_resets != self._session_resets:
            self._hold_after_broker_reset(transport.session_resets)
        if not transport.connected or self.clock() < self._retry_at:
            return
        room = min(self.options.max_inflight - len(self._inflight), self.bucket.available())
        if room <= 0 or self._cursor >= self.spool.last_id:
            return
        rows = self.spool.peek(self._cursor, room)
        sent = 0
        for spool_id, topic, payload in rows:
            mid = transport.publish(topic, payload)
            if mid is None:
                self._retry_at = self.clock() + RETRY_S
                break
            self._inflight[mid] = spool_id
            self._cursor = spool_id
            sent += 1
        else:
            if len(rows) < room:  # all is handed over (a gap before last_id was dropped)
                self._cursor = self.spool.last_id
        self.bucket.spend(sent)

    def _hold_after_broker_reset(self, resets: int) -> None:
        # A broker that restarted without persistence has also forgotten the ingestors'
        # subscriptions; what we send before they resubscribe reaches nobody. Give them time.
        self._session_resets = resets
        hold = self.options.broker_reset_hold
        if hold > 0:
            self._retry_at = max(self._retry_at, self.clock() + hold)
            log.warning(
                "the broker lost our session (restarted without persistence?): holding the "
                "%d spooled samples %.0fs so subscribers can come back first",
                self.backlog,
                hold,
            )

    def _wait_time(self, next_cycle: float) -> float:
        now = self.clock()
        waits = [next_cycle - now]
        if self._acked:
            waits.append(self._flush_by - now)
        if (
            self.transport.connected
            and self._cursor < self.spool.last_id
            and len(self._inflight) < self.options.max_inflight
        ):
            waits.append(max(self.bucket.wait(), self._retry_at - now))
        return max(0.0, min(waits))

    @property
    def backlog(self) -> int:
        """Samples in the spool not yet acknowledged."""
        return max(0, self.spool.depth - len(self._acked))

    @property
    def delivered(self) -> bool:
        """Every sample in the spool has been acknowledged."""
        return self.backlog == 0 and not self._inflight

    # -- running ----------------------------------------------------------------------------
    def request_stop(self, signum: int | None = None, frame: FrameType | None = None) -> None:
        """Stop collecting and shut down (signal handler for SIGTERM and SIGINT)."""
        if signum is not None and not self.stopping:
            log.info("received %s: stopping", signal.Signals(signum).name)
        self.stopping = True
        self.wake.set()

    def run(self, once: bool = False) -> int:
        """Run until stopped (or one cycle with `once`); returns the process exit code."""
        self.transport.start()
        next_cycle = self.clock()
        deadline = None
        while not self.stopping:
            if deadline is None and self.clock() >= next_cycle:
                self._safe_cycle()
                next_cycle = next_tick(next_cycle, self.clock(), self.options.interval)
                if once:
                    deadline = self.clock() + self.options.once_timeout
            self._safe_pump()
            if deadline is not None and (self.delivered or self.clock() >= deadline):
                break
            if self._waits_for_acks(once):
                continue
            self.wake.wait(self._wait_time(next_cycle if deadline is None else deadline))
            self.wake.clear()
        return self.shutdown(once)

    def _safe_cycle(self) -> None:
        try:
            count = self.cycle()
            log.debug("cycle: %d samples, spool depth %d", count, self.spool.depth)
        except Exception:  # the loop never dies; the next cycle may well succeed
            log.exception("collection cycle failed")

    def _safe_pump(self) -> None:
        try:
            self.pump()
        except Exception:
            log.exception("publishing from the spool failed")

    def shutdown(self, once: bool = False) -> int:
        """Flush within the grace period, publish `offline`, disconnect; the exit code."""
        self._ack_wakeups = True
        deadline = self.clock() + (0 if once else self.options.grace)
        while not self.delivered and self.clock() < deadline and self.transport.connected:
            self._safe_pump()
            self.wake.wait(min(0.05, max(0.0, deadline - self.clock())))
            self.wake.clear()
        self._safe_pump()
        if self._acked:
            self._flush_acks()
        self._publish_offline(deadline=max(deadline, self.clock() + 1.0))
        self.transport.close()
        left = self.spool.depth
        self.spool.close()
        self.collector.close()
        if left:
            log.warning("%d samples stay in the spool for the next run", left)
        return 1 if once and left else 0

    def _publish_offline(self, deadline: float) -> None:
        if not self.transport.connected:
            return
        mid = self.transport.publish(self._status_topic, self.status(HostState.OFFLINE), True)
        while mid is not None and self.clock() < deadline:
            acks = self.transport.take_acks()
            if mid in acks:
                return
            for other in acks:  # a late sample ack: its row goes now
                spool_id = self._inflight.pop(other, None)
                if spool_id is not None:
                    self.spool.delete([spool_id])
            self.wake.wait(0.02)
            self.wake.clear()
