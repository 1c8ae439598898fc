"""Home Assistant MQTT device discovery payloads for one host (pure, no I/O)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction
from typing import Any

from publisher.ha_keys import MAC_KINDS, IfaceInfo, iface_keys, sanitize_id
from schemas import TopicScheme

DEFAULT_HA_PREFIX = "homeassistant"
DEFAULT_RATE_UNIT = "Mbit/s"
MIN_EXPIRE_AFTER_S = 30
EXPIRE_INTERVALS = 3

# Multiply bytes/s by this to get the unit. These are exactly the members of Home
# Assistant's UnitOfDataRate (homeassistant/const.py); Fractions keep templates exact.
RATE_FACTORS: Mapping[str, Fraction] = {
    "bit/s": Fraction(8),
    "kbit/s": Fraction(8, 10**3),
    "Mbit/s": Fraction(8, 10**6),
    "Gbit/s": Fraction(8, 10**9),
    "B/s": Fraction(1),
    "kB/s": Fraction(1, 10**3),
    "MB/s": Fraction(1, 10**6),
    "GB/s": Fraction(1, 10**9),
    "KiB/s": Fraction(1, 2**10),
    "MiB/s": Fraction(1, 2**20),
    "GiB/s": Fraction(1, 2**30),
}
# Digits worth showing per unit: about one significant step below the unit's prefix.
_RATE_PRECISION: Mapping[str, int] = {
    "bit/s": 0,
    "kbit/s": 1,
    "Mbit/s": 2,
    "Gbit/s": 3,
    "B/s": 0,
    "kB/s": 1,
    "MB/s": 2,
    "GB/s": 3,
    "KiB/s": 1,
    "MiB/s": 2,
    "GiB/s": 3,
}

# Per-interface components: suffix -> platform. The suffix is part of the component
# id and unique_id, so it must never change once released.
COMPONENTS: Mapping[str, str] = {
    "rx_rate": "sensor",
    "tx_rate": "sensor",
    "rx_total": "sensor",
    "tx_total": "sensor",
    "link": "binary_sensor",
    "problem": "binary_sensor",
}

# Abbreviated keys Home Assistant expands (components/mqtt/abbreviations.py); they
# keep a many-interface config small. Keys not listed here go out in full.
ABBREVIATIONS: Mapping[str, str] = {
    "availability_template": "avty_tpl",
    "availability_topic": "avty_t",
    "components": "cmps",
    "device": "dev",
    "device_class": "dev_cla",
    "expire_after": "exp_aft",
    "json_attributes_template": "json_attr_tpl",
    "json_attributes_topic": "json_attr_t",
    "origin": "o",
    "payload_available": "pl_avail",
    "payload_not_available": "pl_not_avail",
    "platform": "p",
    "state_class": "stat_cla",
    "state_topic": "stat_t",
    "unique_id": "uniq_id",
    "unit_of_measurement": "unit_of_meas",
    "value_template": "val_tpl",
}
DEVICE_ABBREVIATIONS: Mapping[str, str] = {
    "connections": "cns",
    "identifiers": "ids",
    "manufacturer": "mf",
    "model": "mdl",
    "sw_version": "sw",
}


def convert_rate(bytes_per_sec: float, unit: str) -> float:
    """Convert bytes/s to `unit` (one of RATE_FACTORS), as the value template does."""
    return float(bytes_per_sec * RATE_FACTORS[unit])


def rate_template(field: str, unit: str) -> str:
    """Jinja template reading `field` (bytes/s) and rendering it in `unit`, None if null."""
    factor = RATE_FACTORS[unit]
    if factor.denominator == 1:
        expr = f"v * {factor.numerator}" if factor.numerator != 1 else "v"
    elif factor.numerator == 1:
        expr = f"v / {factor.denominator}"
    else:
        expr = f"v * {factor.numerator} / {factor.denominator}"
    # HA's MQTT sensor treats the rendered string "None" as "no value".
    return f"{{% set v = value_json.{field} %}}{{{{ none if v is none else {expr} }}}}"


def expire_after(interval_s: float) -> int:
    """Seconds after which HA marks a sample-fed entity unavailable (3 intervals, >= 30)."""
    return max(MIN_EXPIRE_AFTER_S, math.ceil(EXPIRE_INTERVALS * interval_s))


def device_object_id(host_id: str) -> str:
    """The `<object_id>` level of the host's device discovery topic."""
    return "ifpulse_" + sanitize_id(host_id)


def device_topic(host_id: str, ha_prefix: str = DEFAULT_HA_PREFIX) -> str:
    """The retained device discovery topic of one host."""
    return f"{ha_prefix}/device/{device_object_id(host_id)}/config"


def component_ids(key: str) -> dict[str, str]:
    """Component id -> platform for every component of the interface keyed `key`."""
    return {f"{key}_{suffix}": platform for suffix, platform in COMPONENTS.items()}


def _traffic(name: str, direction: str, rate_unit: str) -> dict[str, dict[str, Any]]:
    """Rate and total sensors of one direction (`rx`/`tx`), keyed by suffix."""
    label = direction.upper()
    return {
        f"{direction}_rate": {
            "platform": "sensor",
            "name": f"{name} {label} rate",
            "device_class": "data_rate",
            "state_class": "measurement",
            "unit_of_measurement": rate_unit,
            "suggested_display_precision": _RATE_PRECISION[rate_unit],
            "value_template": rate_template(f"{direction}_bytes_per_sec", rate_unit),
        },
        f"{direction}_total": {
            "platform": "sensor",
            "name": f"{name} {label} total",
            "device_class": "data_size",
            "state_class": "total_increasing",
            "unit_of_measurement": "B",
            "suggested_display_precision": 0,
            # The kernel counter itself: it only goes down when the interface or the
            # host is reset, which is exactly what total_increasing reads as a reset.
            "value_template": f"{{{{ value_json.{direction}_bytes }}}}",
        },
    }


def _problem(name: str, alert_topic: str) -> dict[str, Any]:
    """The errors/drops problem sensor, fed by the retained alert topic."""
    # The alert topic changes rarely, so no expire_after here; the host's
    # availability topic still covers a dead host.
    return {
        "platform": "binary_sensor",
        "name": f"{name} errors/drops",
        "device_class": "problem",
        "state_topic": alert_topic,
        "value_template": "{{ 'ON' if value_json.active else 'OFF' }}",
        "json_attributes_topic": alert_topic,
        "json_attributes_template": (
            "{{ {'reason': value_json.reason, 'since': value_json.since,"
            " 'errors_per_sec': value_json.errors_per_sec,"
            " 'drops_per_sec': value_json.drops_per_sec} | tojson }}"
        ),
    }


def _iface_components(
    info: IfaceInfo, key: str, *, host_id: str, scheme: TopicScheme, rate_unit: str, expire_s: int
) -> dict[str, dict[str, Any]]:
    """The six components of one interface, with full (unabbreviated) keys."""
    fed = {"state_topic": scheme.sample(host_id, info.name), "expire_after": expire_s}
    by_suffix: dict[str, dict[str, Any]] = {
        **{k: {**fed, **c} for k, c in _traffic(info.name, "rx", rate_unit).items()},
        **{k: {**fed, **c} for k, c in _traffic(info.name, "tx", rate_unit).items()},
        "link": {
            **fed,
            "platform": "binary_sensor",
            "name": f"{info.name} link",
            "device_class": "connectivity",
            "value_template": "{{ 'ON' if value_json.is_up else 'OFF' }}",
        },
        "problem": _problem(info.name, scheme.alert(host_id, info.name)),
    }
    uid = f"{device_object_id(host_id)}_{key}"
    return {
        f"{key}_{suffix}": {**comp, "unique_id": f"{uid}_{suffix}"}
        for suffix, comp in by_suffix.items()
    }


def _abbreviate(payload: Mapping[str, Any], table: Mapping[str, str]) -> dict[str, Any]:
    return {table.get(k, k): v for k, v in payload.items()}


def build_device_config(
    host_id: str,
    version: str,
    interfaces: Sequence[IfaceInfo],
    *,
    scheme: TopicScheme,
    ha_prefix: str = DEFAULT_HA_PREFIX,
    rate_unit: str = DEFAULT_RATE_UNIT,
    interval_s: float,
    removed_keys: Iterable[str] = (),
) -> tuple[str, dict[str, Any]]:
    """(topic, payload) of the host's device discovery config.

    `removed_keys` are interface keys whose components are sent as `{"p": platform}`
    only, which is how device-based discovery removes a component.
    """
    return build_keyed_config(
        host_id,
        version,
        dict(zip(iface_keys(interfaces), interfaces, strict=True)),
        scheme=scheme,
        ha_prefix=ha_prefix,
        rate_unit=rate_unit,
        interval_s=interval_s,
        removed_keys=removed_keys,
    )


def build_keyed_config(
    host_id: str,
    version: str,
    interfaces: Mapping[str, IfaceInfo],
    *,
    scheme: TopicScheme,
    ha_prefix: str = DEFAULT_HA_PREFIX,
    rate_unit: str = DEFAULT_RATE_UNIT,
    interval_s: float,
    removed_keys: Iterable[str] = (),
    carried: Mapping[str, Mapping[str, Any]] | None = None,
) -> tuple[str, dict[str, Any]]:
    """Like build_device_config, with keys chosen by the caller (key -> interface).

    `carried` are (abbreviated) components of a previous run's config, kept verbatim
    until their interface is seen again or removed.
    """
    if rate_unit not in RATE_FACTORS:
        raise ValueError(f"rate unit {rate_unit!r} is not one of {sorted(RATE_FACTORS)}")
    expire_s = expire_after(interval_s)
    components: dict[str, dict[str, Any]] = {}
    for key in sorted(set(removed_keys)):
        for comp_id, platform in component_ids(key).items():
            components[comp_id] = {"platform": platform}
    for comp_id, comp in (carried or {}).items():
        components[comp_id] = expand_component(comp)
    for key, info in interfaces.items():
        found = _iface_components(
            info, key, host_id=host_id, scheme=scheme, rate_unit=rate_unit, expire_s=expire_s
        )
        components.update(found)
    macs = sorted({i.mac for i in interfaces.values() if i.kind in MAC_KINDS and i.mac})
    device = {
        "identifiers": [device_object_id(host_id)],
        "name": host_id,
        "manufacturer": "ifpulse",
        "model": "ifpulse publisher",
        "sw_version": version,
        "connections": [["mac", mac] for mac in macs],
    }
    payload: dict[str, Any] = {
        "device": _abbreviate(device, DEVICE_ABBREVIATIONS),
        "origin": {"name": "ifpulse", "sw_version": version},
        "availability_topic": scheme.status(host_id),
        "availability_template": "{{ value_json.state }}",
        "payload_available": "online",
        "payload_not_available": "offline",
        "components": {
            cid: _abbreviate(comp, ABBREVIATIONS) for cid, comp in sorted(components.items())
        },
    }
    return device_topic(host_id, ha_prefix), _abbreviate(payload, ABBREVIATIONS)


def live_components(payload: bytes) -> dict[str, dict[str, dict[str, Any]]]:
    """Interface key -> {component id: component} of a config we published, stubs left out.

    Used to learn, after a restart, which interfaces a previous run had announced.
    Anything unreadable yields nothing: it only means less cleanup.
    """
    try:
        config = json.loads(payload)
        comps = config[ABBREVIATIONS["components"]]
    except (ValueError, TypeError, KeyError):
        return {}
    found: dict[str, dict[str, dict[str, Any]]] = {}
    if not isinstance(comps, dict):
        return found
    for comp_id, comp in comps.items():
        key = component_key(comp_id)
        if key is not None and isinstance(comp, dict) and len(comp) > 1:
            found.setdefault(key, {})[comp_id] = comp
    return found


def component_key(comp_id: str) -> str | None:
    """The interface key of one of our component ids, or None if it is not one."""
    for suffix in COMPONENTS:
        if comp_id.endswith("_" + suffix) and len(comp_id) > len(suffix) + 1:
            return comp_id[: -len(suffix) - 1]
    return None


def encode_config(payload: Mapping[str, Any]) -> bytes:
    """Compact, deterministic JSON bytes of a discovery payload."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode("utf-8")


_FULL = {v: k for k, v in ABBREVIATIONS.items()}
_DEVICE_FULL = {v: k for k, v in DEVICE_ABBREVIATIONS.items()}


def expand_component(component: Mapping[str, Any]) -> dict[str, Any]:
    """Undo ABBREVIATIONS in one component."""
    return {_FULL.get(k, k): v for k, v in component.items()}


def expand_abbreviations(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Undo ABBREVIATIONS the way Home Assistant does (used by tests and tools)."""
    out = {_FULL.get(k, k): v for k, v in payload.items()}
    if isinstance(out.get("device"), Mapping):
        out["device"] = {_DEVICE_FULL.get(k, k): v for k, v in out["device"].items()}
    if isinstance(out.get("components"), Mapping):
        out["components"] = {cid: expand_component(comp) for cid, comp in out["components"].items()}
    return out
