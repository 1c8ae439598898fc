"""Builders of valid protocol messages for tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from schemas import InterfaceSample


def sample(host: str = "h1", iface: str = "eth0", **overrides: Any) -> InterfaceSample:
    """A valid InterfaceSample; any field can be overridden."""
    fields: dict[str, Any] = {
        "host": host,
        "iface": iface,
        "ts": datetime(2026, 11, 22, 12, 0, 0, 123000, tzinfo=UTC),
        "seq": 1,
        "boot_id": "0f2c7b1e-5b0c-4e8a-9d0e-1c2b3a4d5e6f",
        "rx_bytes": 1000,
        "tx_bytes": 2000,
        "rx_packets": 10,
        "tx_packets": 20,
        "is_up": True,
        "oper_state": "up",
        "speed_mbps": 1000,
        "mtu": 1500,
        "mac": "52:54:00:12:34:56",
        "kind": "ethernet",
    }
    fields.update(overrides)
    return InterfaceSample.model_validate(fields, strict=False)
