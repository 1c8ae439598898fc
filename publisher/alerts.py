"""Error/drop alert thresholds and their evaluation on each sample (feat-003)."""

from __future__ import annotations

import math
import operator
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from schemas import AlertState, InterfaceSample, TopicScheme, encode

DEFAULT_ERRORS_PER_SEC = 1.0
DEFAULT_DROPS_PER_SEC = 10.0
OFF = math.inf
"""A threshold that never triggers."""
_LIMITS_CACHE_MAX = 4096

_ERROR_FIELDS = ("rx_errors", "tx_errors")
_DROP_FIELDS = ("rx_dropped", "tx_dropped")
_GET_ERRORS = operator.attrgetter(*_ERROR_FIELDS)
_GET_DROPS = operator.attrgetter(*_DROP_FIELDS)


@dataclass(frozen=True, slots=True)
class Override:
    """Thresholds for interfaces whose name matches `pattern`; None inherits the global."""

    pattern: str
    errors_per_sec: float | None = None
    drops_per_sec: float | None = None

    @classmethod
    def parse(cls, text: str) -> Override:
        """Parse `GLOB=ERRORS,DROPS` (`wg*=5,off`, `eth0=-,100`; `-` inherits, `off` never)."""
        pattern, sep, values = text.rpartition("=")
        parts = values.split(",")
        if not sep or not pattern or len(parts) != 2:
            raise ValueError(f"alert override {text!r} is not GLOB=ERRORS,DROPS")
        return cls(pattern, _parse_limit(parts[0], text), _parse_limit(parts[1], text))


def _parse_limit(value: str, text: str) -> float | None:
    value = value.strip()
    if value == "-":
        return None
    if value.lower() == "off":
        return OFF
    try:
        limit = float(value)
    except ValueError:
        raise ValueError(f"alert override {text!r}: {value!r} is not a number") from None
    if not limit >= 0:
        raise ValueError(f"alert override {text!r}: limits must be >= 0")
    return limit


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Errors and drops per second above which an interface is in alert."""

    errors_per_sec: float = DEFAULT_ERRORS_PER_SEC
    drops_per_sec: float = DEFAULT_DROPS_PER_SEC
    overrides: Sequence[Override] = ()

    def for_iface(self, iface: str) -> tuple[float, float]:
        """(errors, drops) limits for `iface`: the first matching override wins."""
        for override in self.overrides:
            if fnmatchcase(iface, override.pattern):
                errors = override.errors_per_sec
                drops = override.drops_per_sec
                return (
                    self.errors_per_sec if errors is None else errors,
                    self.drops_per_sec if drops is None else drops,
                )
        return self.errors_per_sec, self.drops_per_sec


def _rate(
    sample: InterfaceSample, get: Callable[[object], tuple[int | None, int | None]]
) -> tuple[float, float] | None:
    """Per-second rates of the two deltas `get` picks, or None when one is unknown."""
    interval = sample.interval_s
    if interval is None:
        return None
    rx, tx = get(sample.delta)
    if rx is None or tx is None:
        return None
    return rx / interval, tx / interval


def _fmt(limit: float) -> str:
    return f"{limit:g}"


def _reason(kind: str, fields: tuple[str, ...], rates: tuple[float, ...], limit: float) -> str:
    parts = ", ".join(f"{f} {r:.1f}/s" for f, r in zip(fields, rates, strict=True))
    return f"{kind} {sum(rates):.1f}/s > {_fmt(limit)}/s ({parts})"


class AlertEvaluator:
    """Tracks each interface's alert state; reports a state only when it changes."""

    def __init__(self, host: str, thresholds: Thresholds) -> None:
        self._host = host
        self._thresholds = thresholds
        self._active: dict[str, bool] = {}
        self._limits: dict[str, tuple[float, float]] = {}  # for_iface's answers, per name

    def evaluate(self, sample: InterfaceSample) -> AlertState | None:
        """The interface's new AlertState if this sample changes it, else None.

        The first sample with known deltas always reports (so a stale retained alert
        from a previous run is replaced); samples with null deltas never do.
        """
        if self._stays_quiet(sample):
            return None
        errors = _rate(sample, _GET_ERRORS)
        drops = _rate(sample, _GET_DROPS)
        if errors is None or drops is None:
            return None
        limits = self._limits.get(sample.iface)
        if limits is None:
            if len(self._limits) > _LIMITS_CACHE_MAX:  # veth names churn with containers
                self._limits.clear()
            limits = self._limits[sample.iface] = self._thresholds.for_iface(sample.iface)
        max_errors, max_drops = limits
        reasons = []
        if sum(errors) > max_errors:
            reasons.append(_reason("errors", _ERROR_FIELDS, errors, max_errors))
        if sum(drops) > max_drops:
            reasons.append(_reason("drops", _DROP_FIELDS, drops, max_drops))
        active = bool(reasons)
        if self._active.get(sample.iface) == active:
            return None
        self._active[sample.iface] = active
        return AlertState(
            host=self._host,
            iface=sample.iface,
            active=active,
            reason="; ".join(reasons)[:256] if reasons else None,
            since=sample.ts,
            errors_per_sec=sum(errors),
            drops_per_sec=sum(drops),
        )

    def _stays_quiet(self, sample: InterfaceSample) -> bool:
        """The common case, decided cheaply: a quiet link without errors or drops stays so.

        Quiet means no limit was exceeded, so none is negative: zero per second stays below.
        """
        delta = sample.delta
        return (
            self._active.get(sample.iface) is False
            and delta.rx_errors == 0
            and delta.tx_errors == 0
            and delta.rx_dropped == 0
            and delta.tx_dropped == 0
        )

    def forget(self, iface: str) -> None:
        """Drop what is known of a vanished interface (a new one starts fresh)."""
        self._active.pop(iface, None)


Publish = Callable[[str, bytes, bool], None]


class AlertPublisher:
    """Evaluates each sample and publishes alert changes, retained, on the alert topic.

    An interface missing for `gone_after_s`, or beyond the `max_missing` longest missing, is
    gone: its retained alert is cleared (an empty retained message, which ingestors take as
    a clear) and forgotten, so a container host's vanished veths leave no alerts behind.
    """

    def __init__(
        self,
        publish: Publish,
        scheme: TopicScheme,
        evaluator: AlertEvaluator,
        *,
        gone_after_s: float = 86400.0,
        max_missing: int = 32,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._publish = publish
        self._scheme = scheme
        self._evaluator = evaluator
        self._gone_after_s = gone_after_s
        self._max_missing = max_missing
        self._clock = clock
        self._current: dict[str, AlertState] = {}
        self._last_seen: dict[str, float] = {}

    def on_cycle(self, samples: Sequence[InterfaceSample]) -> None:
        """One collection cycle (every interface): evaluate each sample, retire the gone."""
        now = self._clock()
        last_seen = self._last_seen
        for sample in samples:
            self.on_sample(sample)
            last_seen[sample.iface] = now
        if len(last_seen) > len(samples):
            self._retire({s.iface for s in samples}, now)

    def _retire(self, present: set[str], now: float) -> None:
        missing = sorted(
            (i for i in self._last_seen if i not in present), key=self._last_seen.__getitem__
        )
        overflow = len(missing) - self._max_missing
        for rank, iface in enumerate(missing):
            if rank < overflow or now - self._last_seen[iface] > self._gone_after_s:
                del self._last_seen[iface]
                self._evaluator.forget(iface)
                state = self._current.pop(iface, None)
                if state is not None:
                    self._publish(self._scheme.alert(state.host, iface), b"", True)

    def on_sample(self, sample: InterfaceSample) -> AlertState | None:
        """Evaluate one sample; publish and return the new state if it changed."""
        state = self._evaluator.evaluate(sample)
        if state is not None:
            self._current[state.iface] = state
            self._send(state)
        return state

    def on_connect(self) -> None:
        """Re-publish every current state: a change made while offline must not be lost."""
        for state in list(self._current.values()):
            self._send(state)

    def _send(self, state: AlertState) -> None:
        self._publish(self._scheme.alert(state.host, state.iface), encode(state), True)
