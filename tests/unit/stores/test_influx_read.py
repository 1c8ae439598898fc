"""Reading raw InfluxDB rows back into samples."""

from __future__ import annotations

from typing import Any

from schemas import COUNTER_NAMES
from stores.influx_read import is_complete, sample_from_row


def _row(**overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "time": 1_700_000_000_123,
        "host": "h1",
        "interface": "eth0",
        "kind": "ethernet",
        "seq": 7,
        "boot_id": "b-1",
        "is_up": True,
        **{name: 5 for name in COUNTER_NAMES},
    }
    row.update(overrides)
    return row


def test_complete_row_round_trips() -> None:
    row = _row()
    assert is_complete(row)
    sample = sample_from_row(row)
    assert (sample.host, sample.iface, sample.seq, sample.rx_bytes) == ("h1", "eth0", 7, 5)


def test_half_written_point_is_not_complete() -> None:
    """influxd 1.x may show a point to a concurrent query before all its fields land."""
    assert not is_complete(_row(rx_bytes=None))
    assert not is_complete(_row(seq=None))
    assert not is_complete({"time": 1, "host": "h1", "interface": "eth0"})
