"""Sample payloads: `schemas.encode`'s bytes, spliced for a sample that repeats an earlier one.

An idle link's sample holds the very values of its previous one but for `ts`, `seq` and
`interval_s` (see Sampler._idle_sample). Its payload is then the previous payload with those
three values replaced, each taken from a payload `schemas.encode` made of the same value
(the same time object, an equal interval), so the bytes are the ones `encode` gives.
Any other sample is encoded by `schemas.encode`.
"""

from __future__ import annotations

import operator
from datetime import datetime
from typing import NamedTuple

from schemas import InterfaceSample, encode

_KEYS = tuple(InterfaceSample.model_fields)  # the serializer's order (it writes __dict__'s)
_NEW = ("ts", "seq", "interval_s")
_OTHERS = operator.itemgetter(*(k for k in _KEYS if k not in _NEW))
_TS, _SEQ, _BOOT_ID, _INTERVAL = b',"ts":', b',"seq":', b',"boot_id":', b',"interval_s":'
_AFTER = b',"rx_bytes":'  # the first field after interval_s
CACHE_MAX = 4096


class _Parts(NamedTuple):
    """A payload cut around its new values: head ts ,"seq": seq middle interval tail."""

    head: bytes
    ts: bytes
    middle: bytes
    interval: bytes
    tail: bytes


class _Template(NamedTuple):
    """A link's last payload made by `encode`, cut, and its other values (see _OTHERS)."""

    head: bytes
    middle: bytes
    tail: bytes
    others: tuple[object, ...]


def _cut(payload: bytes) -> _Parts:
    """Cut a sample's payload (compact JSON in field order) around ts, seq and interval_s.

    The keys searched for start with `,"`: inside a JSON string every `"` is escaped, so
    the first match of each is the field itself, whatever the host or interface name.
    """
    head_end = payload.index(_TS) + len(_TS)
    seq_at = payload.index(_SEQ, head_end)
    boot_at = payload.index(_BOOT_ID, seq_at)
    interval_at = payload.index(_INTERVAL, boot_at) + len(_INTERVAL)
    tail_at = payload.index(_AFTER, interval_at)
    return _Parts(
        payload[:head_end],
        payload[head_end:seq_at],
        payload[boot_at:interval_at],
        payload[interval_at:tail_at],
        payload[tail_at:],
    )


class SampleEncoder:
    """`encode(sample)` for one publisher's samples, cheaper for an idle link's repeats."""

    def __init__(self) -> None:
        self._templates: dict[str, _Template] = {}
        self._ts: tuple[datetime | None, bytes] = (None, b"")  # a time encoded, its JSON
        self._intervals: dict[float, bytes] = {}  # intervals encoded with that time: JSON

    def __call__(self, sample: InterfaceSample) -> bytes:
        """The sample's payload: exactly `schemas.encode(sample)`."""
        values = sample.__dict__
        others = _OTHERS(values)
        template = self._templates.get(values["iface"])
        if template is not None and values["ts"] is self._ts[0]:
            seq, interval = values["seq"], values["interval_s"]
            interval_json = self._intervals.get(interval) if type(interval) is float else None
            if (
                interval_json is not None
                and type(seq) is int
                and all(map(operator.is_, others, template.others))
                and tuple(values) == _KEYS
            ):
                return b'%b%b,"seq":%d%b%b%b' % (
                    template.head, self._ts[1], seq, template.middle, interval_json, template.tail
                )  # fmt: skip
        payload = encode(sample)
        self._learn(values, others, _cut(payload))
        return payload

    def _learn(self, values: dict[str, object], others: tuple[object, ...], parts: _Parts) -> None:
        """Keep what `encode` made of this sample's time, interval and other values."""
        ts, interval = values["ts"], values["interval_s"]
        if ts is not self._ts[0]:
            self._ts = (ts, parts.ts)  # type: ignore[assignment]
            self._intervals = {}
        if type(interval) is float and interval != 0:  # 0.0 and -0.0 are equal, print apart
            self._intervals[interval] = parts.interval
        if len(self._templates) > CACHE_MAX:  # veth names churn with containers
            self._templates.clear()
        iface = values["iface"]
        self._templates[iface] = _Template(parts.head, parts.middle, parts.tail, others)  # type: ignore[index]
