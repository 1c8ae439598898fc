"""Keeps a host's Home Assistant discovery config published and current."""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from publisher.discovery import (
    DEFAULT_HA_PREFIX,
    DEFAULT_RATE_UNIT,
    RATE_FACTORS,
    build_keyed_config,
    device_topic,
    encode_config,
    live_components,
)
from publisher.ha_keys import IfaceInfo, iface_keys
from schemas import TopicScheme

Publish = Callable[[str, bytes, bool], None]
Components = dict[str, dict[str, Any]]
CallLater = Callable[[float, Callable[[], None]], object]

HA_ONLINE = b"online"


@dataclass(frozen=True, slots=True)
class HaSettings:
    """Home Assistant discovery options (the publisher's settings fill these in)."""

    ha_prefix: str = DEFAULT_HA_PREFIX
    rate_unit: str = DEFAULT_RATE_UNIT
    interval_s: float = 10.0
    gone_after_s: float = 86400.0
    birth_jitter_s: float = 5.0
    max_missing: int = 32
    """Missing interfaces kept in the config (unavailable) before gone_after_s; beyond it the
    longest-missing go at once: a container host makes a veth per container, and keeping a
    day of them would grow the config (and the publisher) without bound."""

    def __post_init__(self) -> None:
        if self.rate_unit not in RATE_FACTORS:
            raise ValueError(f"rate unit {self.rate_unit!r} is not one of {sorted(RATE_FACTORS)}")
        if not self.ha_prefix or any(c in self.ha_prefix for c in "+#"):
            raise ValueError(f"invalid Home Assistant prefix {self.ha_prefix!r}")
        if self.gone_after_s <= 0 or self.birth_jitter_s < 0 or self.interval_s <= 0:
            raise ValueError("gone_after_s and interval_s must be > 0, birth_jitter_s >= 0")
        if self.max_missing < 0:
            raise ValueError("max_missing must be >= 0")


def thread_call_later(delay_s: float, fn: Callable[[], None]) -> threading.Timer:
    """Run `fn` once after `delay_s` on a daemon timer thread (the production call_later)."""
    timer = threading.Timer(delay_s, fn)
    timer.daemon = True
    timer.start()
    return timer


class HomeAssistantDiscovery:
    """Publishes the device config on connect, on interface changes and on HA's birth.

    Thread-safe: paho calls `on_connect`/`on_ha_status` from its network thread while
    the collection loop calls `on_samples`.
    """

    def __init__(
        self,
        publish: Publish,
        scheme: TopicScheme,
        host_id: str,
        version: str,
        settings: HaSettings | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        call_later: CallLater = thread_call_later,
        jitter: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self._publish = publish
        self._scheme = scheme
        self._host = host_id
        self._version = version
        self._settings = settings or HaSettings()
        self._clock = clock
        self._call_later = call_later
        self._jitter = jitter
        self._lock = threading.Lock()
        self._status_topic = f"{self._settings.ha_prefix}/status"
        self._config_topic = device_topic(host_id, self._settings.ha_prefix)
        self._known: dict[str, IfaceInfo] = {}  # key -> latest info
        self._carried: dict[str, Components] = {}  # key -> a previous run's components
        self._last_seen: dict[str, float] = {}  # key (known or carried) -> clock time
        self._pending_removal: set[str] = set()
        self._learned = False  # the previous run's retained config was read
        self._last: tuple[str, bytes] | None = None  # (topic, payload) last published
        # A digest of the config without removal stubs: the config itself grows to hundreds of
        # KiB with many interfaces, and only equality matters here.
        self._last_shape: bytes | None = None
        self._republish_pending = False
        # Per-cycle shortcuts: an unchanged interface list keeps its keys, and an unchanged
        # set of (known, carried) interfaces its config, so neither is rebuilt each cycle.
        self._last_infos: tuple[IfaceInfo, ...] = ()
        self._last_current: dict[str, IfaceInfo] = {}
        self._built_from: tuple[dict[str, IfaceInfo], frozenset[str]] | None = None

    def topics_to_subscribe(self) -> list[str]:
        """Topics to subscribe to (QoS 1) on every connect; route them to `on_message`."""
        return [self._status_topic, self._config_topic]

    def on_message(self, topic: str, payload: bytes) -> None:
        """Handle a message on one of `topics_to_subscribe()`."""
        if topic == self._status_topic:
            self.on_ha_status(payload)
        elif topic == self._config_topic:
            self.on_previous_config(payload)

    def on_connect(self) -> None:
        """Re-publish the last config (the broker may have lost its retained copy)."""
        self._republish()

    def on_ha_status(self, payload: bytes) -> None:
        """On HA's `online` birth message, re-publish after a random jitter."""
        # The jitter keeps a fleet of hosts from answering the birth all at once.
        if payload.strip() != HA_ONLINE:
            return
        with self._lock:
            if self._republish_pending:
                return
            self._republish_pending = True
        delay = self._jitter(0.0, self._settings.birth_jitter_s)
        self._call_later(delay, self._jittered_republish)

    def on_previous_config(self, payload: bytes, now: float | None = None) -> None:
        """Adopt the interfaces a previous run announced (the retained config).

        They are kept as they were until seen again, or removed once missing for
        `gone_after_s` from now, so a restart does not leave orphaned entities.
        Only the first message counts: later ones are this run's own echoes.
        """
        now = self._clock() if now is None else now
        with self._lock:
            if self._learned:
                return
            self._learned = True
            for key, comps in live_components(payload).items():
                if key not in self._known:
                    self._carried[key] = comps
                    self._last_seen[key] = now
            self._publish_if_changed()

    def on_samples(self, infos: Sequence[IfaceInfo], now: float | None = None) -> None:
        """Record one collection cycle (all interfaces); publish if the config changed.

        Call it once per cycle, before publishing that cycle's samples, so HA knows an
        entity before its first value arrives.
        """
        now = self._clock() if now is None else now
        with self._lock:
            current = self._keyed(tuple(infos))
            if self._same_as_known(current):  # the usual cycle: the same interfaces again
                self._last_seen.update(dict.fromkeys(current, now))
                self._publish_if_changed()
                return
            for key, info in current.items():
                self._known[key] = info
                self._last_seen[key] = now
                self._carried.pop(key, None)
                self._pending_removal.discard(key)
            retired = self._superseded(current) | self._overflow(current)
            for key, seen in list(self._last_seen.items()):
                if key in retired or now - seen > self._settings.gone_after_s:
                    del self._last_seen[key]
                    self._known.pop(key, None)
                    self._carried.pop(key, None)
                    self._pending_removal.add(key)
            self._publish_if_changed()

    def _same_as_known(self, current: dict[str, IfaceInfo]) -> bool:
        """True if this cycle changes nothing but the times seen (lock held).

        That is: the interfaces known are these, all were seen (none missing, carried or
        due for removal), so none can be retired now.
        """
        return (
            not self._carried
            and not self._pending_removal
            and self._settings.gone_after_s >= 0
            and self._last_seen.keys() == current.keys()
            and self._known == current
        )

    def _keyed(self, infos: tuple[IfaceInfo, ...]) -> dict[str, IfaceInfo]:
        """Key -> info of one cycle's interfaces (lock held); reused while they do not change."""
        if infos != self._last_infos:
            self._last_infos = infos
            self._last_current = dict(zip(iface_keys(infos), infos, strict=True))
        return self._last_current

    def _overflow(self, current: dict[str, IfaceInfo]) -> set[str]:
        """Missing keys beyond max_missing, longest missing first (lock held)."""
        extra = len(self._last_seen) - len(current) - self._settings.max_missing
        if extra <= 0:
            return set()
        missing = sorted(
            (k for k in self._last_seen if k not in current), key=self._last_seen.__getitem__
        )
        return set(missing[:extra])

    def _superseded(self, current: dict[str, IfaceInfo]) -> set[str]:
        """Old keys of interfaces now reported under another key (lock held)."""
        # Without this, an interface whose key changed (its MAC became shared, or a
        # previous run keyed it differently) would show twice until gone_after_s.
        if len(self._known) == len(current) and not self._carried:
            return set()  # _known holds every current key: it holds nothing else
        names = {info.name for info in current.values()}
        topics = {self._scheme.sample(self._host, name) for name in names}
        old = {k for k, info in self._known.items() if k not in current and info.name in names}
        for key, comps in self._carried.items():
            if any(c.get("stat_t") in topics for c in comps.values()):
                old.add(key)
        return old

    def known_keys(self) -> list[str]:
        """Interface keys currently in the device config (for logs and tests)."""
        with self._lock:
            return sorted(self._known)

    def _build(self, removed: set[str]) -> tuple[str, bytes]:
        carried = {cid: c for comps in self._carried.values() for cid, c in comps.items()}
        topic, payload = build_keyed_config(
            self._host,
            self._version,
            self._known,
            carried=carried,
            scheme=self._scheme,
            ha_prefix=self._settings.ha_prefix,
            rate_unit=self._settings.rate_unit,
            interval_s=self._settings.interval_s,
            removed_keys=removed,
        )
        return topic, encode_config(payload)

    def _publish_if_changed(self) -> None:
        """Publish when the interface set changed or removals are due (lock held)."""
        if not self._known and not self._pending_removal:
            return
        inputs = (self._known, frozenset(self._carried))
        if inputs == self._built_from and not self._pending_removal:
            return  # the config is a function of these: unchanged
        self._built_from = (dict(self._known), inputs[1])
        topic, config = self._build(set())
        shape = hashlib.sha256(config).digest()
        if shape == self._last_shape and not self._pending_removal:
            return
        # Removal stubs go out once, with the remaining config; they stay in the
        # retained copy until the next change, so an HA starting meanwhile sees them.
        if self._pending_removal:
            self._last = self._build(self._pending_removal)
        else:
            self._last = (topic, config)  # the same build: no second one
        self._last_shape = shape
        self._pending_removal.clear()
        self._publish(self._last[0], self._last[1], True)

    def _jittered_republish(self) -> None:
        with self._lock:
            self._republish_pending = False
        self._republish()

    def _republish(self) -> None:
        # Under the lock, so an older config can never overtake a newer one.
        with self._lock:
            if self._last is not None:
                self._publish(self._last[0], self._last[1], True)
