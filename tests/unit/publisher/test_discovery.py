"""Discovery payloads: golden files, Home Assistant's validation rules, ids and units."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from publisher.discovery import (
    COMPONENTS,
    RATE_FACTORS,
    build_device_config,
    component_ids,
    convert_rate,
    device_topic,
    encode_config,
    expand_abbreviations,
    expire_after,
    rate_template,
)
from publisher.ha_keys import IfaceInfo, IfaceInfos, iface_key, iface_keys, sanitize_id
from publisher.sampler import Sampler
from schemas import InterfaceKind, TopicKind, TopicScheme
from tests.unit.publisher.readings import eth0

GOLDEN = Path(__file__).parent / "golden"
REGENERATE = os.environ.get("IFPULSE_REGENERATE_GOLDEN") == "1"
ID_RE = re.compile(r"^[a-zA-Z0-9_-]+$")

# Copied from Home Assistant core: homeassistant/const.py (UnitOfDataRate,
# UnitOfInformation) and homeassistant/components/sensor/const.py (DEVICE_CLASS_UNITS,
# DEVICE_CLASS_STATE_CLASSES) for the device classes ifpulse uses, and
# components/binary_sensor/__init__.py (BinarySensorDeviceClass).
HA_DATA_RATE_UNITS = {
    "bit/s", "kbit/s", "Mbit/s", "Gbit/s", "B/s", "kB/s", "MB/s", "GB/s",
    "KiB/s", "MiB/s", "GiB/s",
}  # fmt: skip
HA_DATA_SIZE_UNITS = {
    "bit", "kbit", "Mbit", "Gbit", "B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB",
    "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB",
}  # fmt: skip
HA_SENSOR_RULES: dict[str, tuple[set[str], set[str]]] = {
    # device_class: (allowed units, allowed state classes)
    "data_rate": (HA_DATA_RATE_UNITS, {"measurement"}),
    "data_size": (HA_DATA_SIZE_UNITS, {"measurement", "total", "total_increasing"}),
}
HA_BINARY_SENSOR_CLASSES = {"connectivity", "problem"}  # the subset ifpulse uses
HA_PLATFORMS = {"sensor", "binary_sensor"}

SCHEME = TopicScheme("ifpulse")


def golden_host() -> list[IfaceInfo]:
    """eth0, wlan0, a bridge sharing eth0's MAC, a vlan, and a MAC-less tunnel."""
    return [
        IfaceInfo("eth0", "52:54:00:12:34:56", InterfaceKind.ETHERNET),
        IfaceInfo("wlan0", "a4:5e:60:aa:bb:cc", InterfaceKind.WIRELESS),
        IfaceInfo("br-1a2b", "52:54:00:12:34:56", InterfaceKind.BRIDGE),
        IfaceInfo("eth0.10", "52:54:00:12:34:56", InterfaceKind.VLAN),
        IfaceInfo("wg+vpn", None, InterfaceKind.TUNNEL),
    ]


def build(**kwargs: Any) -> tuple[str, dict[str, Any]]:
    args: dict[str, Any] = {
        "scheme": SCHEME,
        "ha_prefix": "homeassistant",
        "rate_unit": "Mbit/s",
        "interval_s": 10.0,
    }
    args.update(kwargs)
    return build_device_config("pi-5.lan", "0.1.0", golden_host(), **args)


def check_golden(name: str, topic: str, payload: dict[str, Any]) -> None:
    text = json.dumps({"topic": topic, "payload": payload}, sort_keys=True, indent=2) + "\n"
    path = GOLDEN / name
    if REGENERATE:
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} missing: run with IFPULSE_REGENERATE_GOLDEN=1 once"
    assert text == path.read_text(encoding="utf-8"), (
        f"{name} differs from the golden file; if intended, regenerate with "
        "IFPULSE_REGENERATE_GOLDEN=1 and review the diff"
    )


def test_golden_device_config() -> None:
    topic, payload = build()
    check_golden("device_config.json", topic, payload)


def test_golden_device_config_with_removal() -> None:
    topic, payload = build_device_config(
        "pi-5.lan",
        "0.1.0",
        golden_host()[:2],
        scheme=SCHEME,
        rate_unit="kB/s",
        interval_s=5.0,
        removed_keys=[sanitize_id("wg+vpn")],
    )
    check_golden("device_config_removal.json", topic, payload)


def assert_ha_valid(payload: dict[str, Any], scheme: TopicScheme) -> None:
    """Every rule Home Assistant enforces on what we send, on the expanded payload."""
    full = expand_abbreviations(payload)
    assert set(full) >= {"device", "origin", "components"}
    assert full["origin"]["name"]
    assert full["device"]["identifiers"]
    for ident in full["device"]["identifiers"]:
        assert ID_RE.match(ident)
    scheme.parse(full["availability_topic"])
    unique_ids: list[str] = []
    for comp_id, comp in full["components"].items():
        assert ID_RE.match(comp_id), comp_id
        assert comp["platform"] in HA_PLATFORMS
        if set(comp) == {"platform"}:
            continue  # a removal stub
        unique_ids.append(comp["unique_id"])
        assert ID_RE.match(comp["unique_id"]), comp["unique_id"]
        assert scheme.parse(comp["state_topic"]).kind in (TopicKind.SAMPLE, TopicKind.ALERT)
        if comp["platform"] == "sensor":
            units, state_classes = HA_SENSOR_RULES[comp["device_class"]]
            assert comp["unit_of_measurement"] in units
            assert comp["state_class"] in state_classes
            assert isinstance(comp["suggested_display_precision"], int)
        else:
            assert comp["device_class"] in HA_BINARY_SENSOR_CLASSES
            assert "unit_of_measurement" not in comp
            assert "state_class" not in comp
    assert len(unique_ids) == len(set(unique_ids)), "unique_ids must be distinct"


@pytest.mark.parametrize("unit", sorted(RATE_FACTORS))
def test_every_payload_passes_ha_rules(unit: str) -> None:
    assert set(RATE_FACTORS) == HA_DATA_RATE_UNITS
    topic, payload = build(rate_unit=unit, removed_keys=["gone0"])
    assert (
        topic == device_topic("pi-5.lan") == "homeassistant/device/ifpulse_pi-5_lan_d96df7/config"
    )
    assert_ha_valid(payload, SCHEME)
    comps = payload["cmps"]
    # 5 interfaces x 6 components, plus the 6 stubs of the removed one.
    assert len(comps) == 6 * 6
    assert {c["p"] for c in comps.values()} == set(COMPONENTS.values())


def test_unknown_rate_unit_is_refused() -> None:
    with pytest.raises(ValueError, match="rate unit"):
        build(rate_unit="Mbps")


def test_device_block_and_availability() -> None:
    _, payload = build()
    full = expand_abbreviations(payload)
    dev = full["device"]
    assert dev["name"] == "pi-5.lan"
    assert dev["sw_version"] == "0.1.0"
    # Only NIC MACs identify the host; the bridge/vlan copies add nothing.
    assert dev["connections"] == [["mac", "52:54:00:12:34:56"], ["mac", "a4:5e:60:aa:bb:cc"]]
    assert full["availability_topic"] == SCHEME.status("pi-5.lan")
    assert full["availability_template"] == "{{ value_json.state }}"
    assert (full["payload_available"], full["payload_not_available"]) == ("online", "offline")


def test_entities_read_sample_and_alert_topics() -> None:
    _, payload = build()
    comps = expand_abbreviations(payload)["components"]
    vlan = sanitize_id("eth0.10")
    assert comps[f"{vlan}_rx_rate"]["state_topic"] == SCHEME.sample("pi-5.lan", "eth0.10")
    assert comps[f"{vlan}_problem"]["state_topic"] == SCHEME.alert("pi-5.lan", "eth0.10")
    wg = sanitize_id("wg+vpn")
    assert comps[f"{wg}_link"]["state_topic"] == "ifpulse/v1/pi-5.lan/iface/wg%2Bvpn"
    assert comps[f"{wg}_tx_total"]["expire_after"] == 30
    assert "expire_after" not in comps[f"{wg}_problem"]


def test_expire_after_is_three_intervals_at_least_30s() -> None:
    assert expire_after(1.0) == 30
    assert expire_after(10.0) == 30
    assert expire_after(60.0) == 180
    assert expire_after(12.5) == 38


def test_sanitize_id() -> None:
    assert sanitize_id("eth0") == "eth0"
    assert sanitize_id("br-1a2b") == "br-1a2b"
    assert sanitize_id("eth0.10") != sanitize_id("eth0_10") == "eth0_10"
    assert sanitize_id("eth0.10").startswith("eth0_10_")
    for name in ("wg+vpn", "a#b", "tun é", "x/y"):
        assert ID_RE.match(sanitize_id(name))
    assert sanitize_id("eth0.10") == sanitize_id("eth0.10")  # stable across runs


@given(st.text(min_size=1, max_size=15), st.text(min_size=1, max_size=15))
def test_sanitize_id_charset_and_no_collisions(a: str, b: str) -> None:
    assert ID_RE.match(sanitize_id(a))
    # Only a name crafted to look like another's sanitized form could collide.
    assume(a != b and b != sanitize_id(a) and a != sanitize_id(b))
    assert sanitize_id(a) != sanitize_id(b)


def test_iface_key_prefers_a_nic_mac_and_falls_back_to_the_name() -> None:
    infos = golden_host()
    keys = {i.name: iface_key(i, infos) for i in infos}
    assert keys["eth0"] == "mac_525400123456"  # the bridge's copy does not count
    assert keys["wlan0"] == "mac_a45e60aabbcc"
    assert keys["br-1a2b"] == "br-1a2b"
    assert keys["eth0.10"] == sanitize_id("eth0.10")
    assert keys["wg+vpn"] == sanitize_id("wg+vpn")


def test_iface_key_survives_a_rename_but_not_a_shared_nic_mac() -> None:
    renamed = IfaceInfo("enp3s0", "52:54:00:12:34:56", InterfaceKind.ETHERNET)
    assert iface_key(renamed, [renamed]) == "mac_525400123456"
    # Bond slaves share one MAC: keyed by name so they do not collide.
    a = IfaceInfo("eth1", "02:00:00:00:00:01", InterfaceKind.ETHERNET)
    b = IfaceInfo("eth2", "02:00:00:00:00:01", InterfaceKind.ETHERNET)
    assert (iface_key(a, [a, b]), iface_key(b, [a, b])) == ("eth1", "eth2")


_INFOS = st.lists(
    st.builds(
        IfaceInfo,
        st.sampled_from(["eth0", "eth1", "wlan0", "br0", "eth0.10", "wg+vpn", "veth1"]),
        st.sampled_from([None, "52:54:00:12:34:56", "02:00:00:00:00:01", "a4:5e:60:aa:bb:cc"]),
        st.sampled_from(list(InterfaceKind)),
    ),
    max_size=8,
)


@given(_INFOS)
def test_iface_keys_gives_each_iface_key(infos: list[IfaceInfo]) -> None:
    assert iface_keys(infos) == [iface_key(i, infos) for i in infos]


# jinja2 is not a test dependency, so templates are checked by their text: the
# arithmetic part is also valid Python, evaluated here against convert_rate.
_RATE_TPL = re.compile(
    r"^\{% set v = value_json\.(?P<field>\w+) %\}\{\{ none if v is none else (?P<expr>[^}]+) \}\}$"
)


@pytest.mark.parametrize("unit", sorted(RATE_FACTORS))
def test_rate_template_converts_like_convert_rate(unit: str) -> None:
    match = _RATE_TPL.match(rate_template("rx_bytes_per_sec", unit))
    assert match, rate_template("rx_bytes_per_sec", unit)
    assert match["field"] == "rx_bytes_per_sec"
    assert re.fullmatch(r"v( [*/] \d+)*", match["expr"])
    got = eval(match["expr"], {}, {"v": 1_250_000.0})
    assert got == pytest.approx(convert_rate(1_250_000.0, unit))


def test_known_conversions() -> None:
    assert convert_rate(125_000, "Mbit/s") == 1.0
    assert convert_rate(1024, "KiB/s") == 1.0
    assert convert_rate(1, "bit/s") == 8.0
    assert convert_rate(2500, "kB/s") == 2.5


def test_binary_templates() -> None:
    _, payload = build()
    comps = expand_abbreviations(payload)["components"]
    link = comps["mac_525400123456_link"]
    assert link["value_template"] == "{{ 'ON' if value_json.is_up else 'OFF' }}"
    problem = comps["mac_525400123456_problem"]
    assert problem["value_template"] == "{{ 'ON' if value_json.active else 'OFF' }}"
    assert problem["json_attributes_topic"] == problem["state_topic"]
    # HA's binary_sensor defaults: payload_on ON, payload_off OFF.
    assert "payload_on" not in problem


def test_device_topic_and_encoding_are_deterministic() -> None:
    assert device_topic("h.1", "ha-x").startswith("ha-x/device/ifpulse_h_1_")
    a = encode_config(build()[1])
    b = encode_config(build()[1])
    assert a == b
    assert json.loads(a) == build()[1]


def test_component_ids_match_what_is_built() -> None:
    # Removal stubs are derived from component_ids(); they must name real components.
    _, payload = build()
    built = {cid: c["p"] for cid, c in payload["cmps"].items() if cid.startswith("br-1a2b_")}
    assert built == component_ids("br-1a2b")


def test_iface_infos_are_the_same_objects_while_name_mac_and_kind_stay() -> None:
    sampler = Sampler("h1", wallclock=lambda: datetime(2026, 11, 22, tzinfo=UTC))
    first = sampler.sample([eth0([1] * 16), eth0([1] * 16)._replace(name="eth1")], "b1")
    infos = IfaceInfos()
    got = infos(first)
    assert got == [IfaceInfo(s.iface, s.mac, s.kind) for s in first]
    again = infos(list(reversed(first)))
    assert again[0] is got[1] and again[1] is got[0]
    moved = sampler.sample([eth0([1] * 16)._replace(mac="02:00:00:00:00:09")], "b1")
    assert infos(moved) == [IfaceInfo("eth0", "02:00:00:00:00:09", first[0].kind)]
