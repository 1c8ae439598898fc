"""Turn readings into InterfaceSamples: per-interface previous state, per-host `seq`."""

from __future__ import annotations

import functools
import logging
import operator
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import NamedTuple, TypeVar, cast

from pydantic import TypeAdapter, ValidationError

from publisher.collect import InterfaceReading
from publisher.counters import compute_deltas
from publisher.netdev import NetDevCounters
from schemas import COUNTER_NAMES, RATE_NAMES, Deltas, InterfaceSample, OperState
from schemas.messages import Timestamp

log = logging.getLogger(__name__)


# The schema's ten counters, picked from the sixteen of /proc/net/dev, in COUNTER_NAMES order.
_PICK = operator.itemgetter(*(NetDevCounters._fields.index(name) for name in COUNTER_NAMES))
# Rates follow the first counters: rx_bytes -> rx_bytes_per_sec ...
assert all(r == f"{c}_per_sec" for r, c in zip(RATE_NAMES, COUNTER_NAMES, strict=False))


class _Previous(NamedTuple):
    counters: tuple[int, ...]
    at: float
    ifindex: int | None
    boot_id: str
    speed_mbps: int | None


class _Idle(NamedTuple):
    reading: InterfaceReading
    boot_id: str
    counters: tuple[int, ...]  # the very tuple kept in _Previous
    values: dict[str, object]


_STATIC_FIELDS = ("iface", "boot_id", "is_up", "oper_state", "speed_mbps", "mtu", "mac", "kind")
_INT_ONLY = frozenset({int})
_MAX_SEQ = 2**63 - 1
_MAX_COUNTER = 2**64 - 1
_STATIC_CACHE_MAX = 4096
# Every field in declaration order (the serializer writes __dict__ in its order), defaulted.
_TEMPLATES: dict[type[InterfaceSample] | type[Deltas], dict[str, object]] = {
    cls: {
        name: field.get_default(call_default_factory=True)
        for name, field in cls.model_fields.items()
    }
    for cls in (InterfaceSample, Deltas)
}
_DELTA_FIELDS = set(Deltas.model_fields)  # copied into each model: set.copy() is cheap
_SAMPLE_FIELDS = set(InterfaceSample.model_fields) - {"v"}
_new_previous = tuple.__new__
_M = TypeVar("_M", InterfaceSample, Deltas)
_new = object.__new__
_set = object.__setattr__


def _trusted(cls: type[_M], given: dict[str, object]) -> _M:
    """The model `cls.model_validate(given)` gives, built without validating again.

    Only for values known to validate (see Sampler._may_trust): what validation would add
    are the defaults, in field order; `model_construct` does the same, slower than validation.
    """
    return _made(cls, {**_TEMPLATES[cls], **given}, set(given))


def _made(cls: type[_M], values: dict[str, object], fields_set: set[str]) -> _M:
    """A model of `cls` holding `values` (every field, in declaration order), unvalidated."""
    model = _new(cls)
    _set(model, "__dict__", values)
    _set(model, "__pydantic_fields_set__", fields_set)
    _set(model, "__pydantic_extra__", None)
    _set(model, "__pydantic_private__", None)
    return model


def _static_of(reading: InterfaceReading, boot_id: str) -> tuple[object, ...]:
    """The link facts a sample repeats while the link does not change (_STATIC_FIELDS)."""
    return (
        reading.name,
        boot_id,
        reading.is_up,
        reading.oper_state or OperState.UNKNOWN,
        reading.speed_mbps,
        reading.mtu,
        reading.mac,
        reading.kind,
    )


def _steady_sample(
    host: str,
    ts: datetime,
    seq: int,
    elapsed: float,
    counters: tuple[int, ...],
    deltas: tuple[int, ...],
    static: tuple[object, ...],
) -> InterfaceSample:
    """What `_trusted(InterfaceSample, fields)` gives for `_build`'s fields, with deltas.

    Every field but `v` is given, so `__dict__` is written out in declaration order (the
    serializer's order) and the fields set is all of them but `v`.
    """
    c0, c1, c2, c3, c4, c5, c6, c7, c8, c9 = counters
    d0, d1, d2, d3, d4, d5, d6, d7, d8, d9 = deltas
    iface, boot_id, is_up, oper_state, speed_mbps, mtu, mac, kind = static
    delta = _made(Deltas, {
        "rx_bytes": d0, "tx_bytes": d1, "rx_packets": d2, "tx_packets": d3, "rx_errors": d4,
        "tx_errors": d5, "rx_dropped": d6, "tx_dropped": d7, "multicast": d8, "collisions": d9,
    }, _DELTA_FIELDS.copy())  # fmt: skip
    return _made(InterfaceSample, {
        "v": 1, "host": host, "iface": iface, "ts": ts, "seq": seq, "boot_id": boot_id,
        "interval_s": elapsed,
        "rx_bytes": c0, "tx_bytes": c1, "rx_packets": c2, "tx_packets": c3, "rx_errors": c4,
        "tx_errors": c5, "rx_dropped": c6, "tx_dropped": c7, "multicast": c8, "collisions": c9,
        "delta": delta,
        "rx_bytes_per_sec": d0 / elapsed, "tx_bytes_per_sec": d1 / elapsed,
        "rx_packets_per_sec": d2 / elapsed, "tx_packets_per_sec": d3 / elapsed,
        "is_up": is_up, "oper_state": oper_state, "speed_mbps": speed_mbps, "mtu": mtu,
        "mac": mac, "kind": kind,
    }, _SAMPLE_FIELDS.copy())  # fmt: skip


@functools.cache
def _ts_adapter() -> TypeAdapter[datetime]:
    return TypeAdapter(Timestamp)


def _validated_ts(ts: datetime) -> datetime | None:
    """The time as validating a sample makes it (UTC, milliseconds); None if refused."""
    # Validating the time alone costs a fraction of a whole sample's validation, which
    # used to be done once per cycle to learn it (most of it cold code after an interval).
    try:
        return _ts_adapter().validate_python(ts, strict=True)
    except ValidationError:
        return None


def _max_speed(a: int | None, b: int | None) -> int | None:
    known = [s for s in (a, b) if s]
    return max(known) if known else None


def _now_utc() -> datetime:
    return datetime.now(UTC)


class Sampler:
    """Keeps each interface's previous reading and numbers samples per host.

    Samples are validated against the schema, except that once a sample of an interface has
    validated, the next ones with the same name, boot id and link facts (state, speed, MTU,
    MAC, kind) are built without validation: the rest (counters, deltas, rates, interval,
    seq, this cycle's validated time) this class computes within the schema's bounds itself.
    `trust=False` validates every sample (tests compare both ways).
    """

    def __init__(
        self,
        host: str,
        next_seq: int = 0,
        *,
        wallclock: Callable[[], datetime] = _now_utc,
        monotonic: Callable[[], float] = time.monotonic,
        trust: bool = True,
    ) -> None:
        self.host = host
        self.next_seq = next_seq
        self.wallclock = wallclock
        self.monotonic = monotonic
        self.trust = trust
        self._prev: dict[str, _Previous] = {}
        self._invalid: set[str] = set()
        self._valid_static: set[tuple[object, ...]] = set()
        self._static: dict[str, tuple[object, ...]] = {}  # name -> its last validated facts
        self._cycle_ts: datetime | None = None  # this cycle's time as validation makes it
        # name -> an idle link's last steady sample with no change (see _idle_sample)
        self._idle: dict[str, _Idle] = {}

    @property
    def tracked(self) -> frozenset[str]:
        """Interfaces with a previous reading (those seen in the last cycle)."""
        return frozenset(self._prev)

    def sample(self, readings: Iterable[InterfaceReading], boot_id: str) -> list[InterfaceSample]:
        """One sample per reading, all stamped now; interfaces not read any more are retired."""
        at, ts = self.monotonic(), self.wallclock()
        self._cycle_ts = _validated_ts(ts)
        previous, self._prev = self._prev, {}
        idle, self._idle = self._idle, {}
        samples: list[InterfaceSample] = []
        since = elapsed = None  # one previous time for most links: its interval, once
        for reading in readings:
            prev = previous.get(reading.name)
            was_idle = idle.get(reading.name)
            if was_idle is not None and prev is not None:
                if prev.at != since:
                    since, elapsed = prev.at, round(at - prev.at, 6)
                sample = self._idle_sample(reading, boot_id, at, prev, was_idle, elapsed)
                if sample is not None:
                    samples.append(sample)
                    continue
            state = _new_previous(  # tuple.__new__: a NamedTuple's own __new__ is Python code
                _Previous,
                (_PICK(reading.counters), at, reading.ifindex, boot_id, reading.speed_mbps),
            )
            sample = self._steady(reading, state, prev)
            if sample is None:
                sample = self._build(reading, state, prev, ts)
            if sample is not None:
                self._prev[reading.name] = state
                samples.append(sample)
        return samples

    def _idle_sample(
        self,
        reading: InterfaceReading,
        boot_id: str,
        at: float,
        prev: _Previous,
        idle: _Idle,
        elapsed: float | None,
    ) -> InterfaceSample | None:
        """The steady sample of a link read exactly as when its last one showed no change.

        `idle` holds that sample's values; counters, link facts and boot equal, and the
        previous counters being the very ones it was made from (no other sample since), the
        deltas and rates are zero again: only time, seq and interval (`elapsed`) are new.
        """
        seq = self.next_seq
        if (
            prev.counters is not idle.counters
            or idle.boot_id != boot_id
            or (idle.reading is not reading and idle.reading != reading)
            or elapsed is None
            or elapsed <= 0
            or self._cycle_ts is None
            or seq > _MAX_SEQ
        ):
            return None
        self.next_seq = seq + 1
        values = idle.values.copy()
        values["ts"] = self._cycle_ts
        values["seq"] = seq
        values["interval_s"] = elapsed
        self._prev[reading.name] = _new_previous(
            _Previous, (idle.counters, at, prev.ifindex, boot_id, prev.speed_mbps)
        )
        self._idle[reading.name] = idle
        return _made(InterfaceSample, values, _SAMPLE_FIELDS.copy())

    def _steady(
        self, reading: InterfaceReading, cur: _Previous, prev: _Previous | None
    ) -> InterfaceSample | None:
        """The common sample, built straight; None unless `_build` would trust it.

        That is: an interface whose link facts validated before (this cycle's time too),
        same boot and ifindex, time passed, every counter an int in bounds that did not go
        down. The sample is then the one `_build` makes, field for field (property-tested).
        """
        if (
            prev is None
            or not self.trust
            or self._cycle_ts is None
            or prev.ifindex != cur.ifindex
            or prev.boot_id != cur.boot_id
            or self.next_seq > _MAX_SEQ
        ):
            return None
        counters = cur.counters
        elapsed = round(cur.at - prev.at, 6)
        static = _static_of(reading, cur.boot_id)
        if (
            elapsed <= 0
            or self._static.get(reading.name) != static
            or not _INT_ONLY.issuperset(map(type, counters))
            or max(counters) > _MAX_COUNTER
        ):
            return None
        deltas = tuple(map(operator.sub, counters, prev.counters))
        # The previous counters were a sample's, so >= 0: deltas >= 0 make these so too.
        if min(deltas) < 0:  # a wrap or a reset: _build decides
            return None
        seq = self.next_seq
        self.next_seq = seq + 1
        sample = _steady_sample(self.host, self._cycle_ts, seq, elapsed, counters, deltas, static)
        if not any(deltas):  # idle: the next cycles may well repeat it (_idle_sample)
            self._idle[reading.name] = _Idle(reading, cur.boot_id, counters, sample.__dict__)
        return sample

    @staticmethod
    def _deltas(cur: _Previous, prev: _Previous | None) -> tuple[float, tuple[int, ...] | None]:
        """Seconds since the previous sample, and the deltas (None: first sample or a reset)."""
        if prev is None:
            return 0.0, None
        elapsed = round(cur.at - prev.at, 6)
        if prev.boot_id != cur.boot_id or prev.ifindex != cur.ifindex:
            return elapsed, None
        speed = _max_speed(prev.speed_mbps, cur.speed_mbps)
        return elapsed, compute_deltas(COUNTER_NAMES, prev.counters, cur.counters, elapsed, speed)

    def _build(
        self, reading: InterfaceReading, cur: _Previous, prev: _Previous | None, ts: datetime
    ) -> InterfaceSample | None:
        elapsed, deltas = self._deltas(cur, prev)
        fields: dict[str, object] = dict(zip(COUNTER_NAMES, cur.counters, strict=True))
        if deltas is not None:
            fields["delta"] = dict(zip(COUNTER_NAMES, deltas, strict=True))
            for name, delta in zip(RATE_NAMES, deltas, strict=False):
                fields[name] = delta / elapsed  # elapsed > 0 whenever deltas are known
        static = _static_of(reading, cur.boot_id)
        fields.update(zip(_STATIC_FIELDS, static, strict=True))
        fields.update(host=self.host, ts=ts, seq=self.next_seq, interval_s=elapsed or None)
        sample: InterfaceSample | None
        if self._may_trust(static, cur.counters, elapsed):
            sample = self._trusted_sample(fields)
        else:
            sample = self._validated(fields, static, reading.name)
        if sample is not None:
            self.next_seq += 1
        return sample

    def _may_trust(
        self, static: tuple[object, ...], counters: tuple[int, ...], elapsed: float
    ) -> bool:
        """True when validation could not fail: see the class docstring."""
        return (
            self.trust
            and self._cycle_ts is not None
            and static in self._valid_static
            and elapsed >= 0
            and self.next_seq <= _MAX_SEQ
            and _INT_ONLY.issuperset(map(type, counters))  # strict: no bool, no float
            and min(counters) >= 0
            and max(counters) <= _MAX_COUNTER
        )

    def _trusted_sample(self, fields: dict[str, object]) -> InterfaceSample:
        fields["ts"] = self._cycle_ts
        delta = fields.get("delta")
        if delta is not None:
            fields["delta"] = _trusted(Deltas, cast(dict[str, object], delta))
        return _trusted(InterfaceSample, fields)

    def _validated(
        self, fields: dict[str, object], static: tuple[object, ...], name: str
    ) -> InterfaceSample | None:
        try:
            sample = InterfaceSample.model_validate(fields)
        except ValidationError as exc:
            if name not in self._invalid:
                self._invalid.add(name)
                log.warning("interface %r skipped, not a valid sample: %s", name, exc)
            return None
        if len(self._valid_static) > _STATIC_CACHE_MAX:  # veth names churn with containers
            self._valid_static.clear()
            self._static.clear()
            self._idle.clear()
        self._valid_static.add(static)
        self._static[name] = static
        return sample
