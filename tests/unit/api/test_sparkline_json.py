"""The sparkline body built from plain dicts is byte for byte what the Sparkline model gives."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import TypeAdapter

from api.models import InterfaceSeries, PeriodName, Sparkline, SparkPoint
from api.routes.sparkline import sparkline_json
from schemas import InterfaceSample
from stores import Bucket, SeriesResult

NOW = datetime(2026, 11, 22, 12, 7, 31, 250000, tzinfo=UTC)
RATES: list[Any] = [None, 0.0, 1.0, 3, 1e16, 0.1 + 0.2, 2.5e-7, float("inf"), float("nan")]


def _buckets(offset: int) -> list[Bucket]:
    start = datetime(2026, 11, 21, 12, 15, tzinfo=UTC)
    n = len(RATES)
    return [
        Bucket(start + k * timedelta(minutes=15), k * 10**15 + offset, k, RATES[k % n],
               RATES[(k + offset) % n], None, None, 0, 0, 0, 0)
        for k in range(30)
    ]  # fmt: skip


class _Store:
    """Just enough of a Store for sparkline_json."""

    def series(
        self, host_id: str, iface: str | None, start: datetime, end: datetime, step: timedelta
    ) -> SeriesResult:
        per_iface = {"wlan0": _buckets(1), "eth0": _buckets(2)}
        if iface is not None:
            return SeriesResult(total=per_iface.get(iface, []))
        return SeriesResult(total=_buckets(3), interfaces=per_iface)

    def samples(self, *_: Any) -> Iterator[InterfaceSample]:
        raise NotImplementedError


def _points(buckets: Sequence[Bucket]) -> list[SparkPoint]:
    return [
        SparkPoint(timestamp=b.start, rx_bytes=b.rx_bytes, tx_bytes=b.tx_bytes,
                   rx_bytes_per_sec=b.rx_bytes_per_sec, tx_bytes_per_sec=b.tx_bytes_per_sec)
        for b in buckets
    ]  # fmt: skip


def _model_bytes(interface: str | None, period: PeriodName, step: timedelta) -> bytes:
    """What the api answered when it built a Sparkline model (before it built dicts)."""
    store = _Store()
    data: list[SparkPoint] = []
    series = None
    if interface in (None, "eth0", "nope"):
        result = store.series("h", interface, NOW, NOW, step)
        data = _points(result.total)
        if interface is None:
            series = [
                InterfaceSeries(interface=name, data=_points(buckets))
                for name, buckets in sorted(result.interfaces.items())
            ]
    model = Sparkline(server_id="h", interface=interface, period=period,
                      step_seconds=step.total_seconds(), data=data, series=series)  # fmt: skip
    return TypeAdapter(Sparkline).dump_json(model)


@pytest.mark.parametrize("interface", [None, "eth0", "nope", "bad/name"])
@pytest.mark.parametrize("step", [timedelta(minutes=15), timedelta(seconds=10.5)])
def test_bytes_match_the_model(interface: str | None, step: timedelta) -> None:
    got = sparkline_json(_Store(), "h", interface, "24h", step, NOW)  # type: ignore[arg-type]
    assert got == _model_bytes(interface, "24h", step)
