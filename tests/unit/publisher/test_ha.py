"""The discovery coordinator with a fake publish, clock and timer."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest

from publisher.discovery import device_topic
from publisher.ha import HaSettings, HomeAssistantDiscovery, thread_call_later
from publisher.ha_keys import IfaceInfo, sanitize_id
from schemas import InterfaceKind, TopicScheme

ETH0 = IfaceInfo("eth0", "52:54:00:12:34:56", InterfaceKind.ETHERNET)
WG = IfaceInfo("wg0", None, InterfaceKind.TUNNEL)
TOPIC = device_topic("h1", "ha")


class Harness:
    """A coordinator wired to lists instead of a broker and a timer."""

    def __init__(self, **settings: Any) -> None:
        self.sent: list[tuple[str, bytes, bool]] = []
        self.timers: list[tuple[float, Callable[[], None]]] = []
        self.now = 1000.0
        opts: dict[str, Any] = {"ha_prefix": "ha", "gone_after_s": 60.0, "birth_jitter_s": 4.0}
        opts.update(settings)
        self.ha = HomeAssistantDiscovery(
            lambda t, p, r: self.sent.append((t, p, r)),
            TopicScheme("pfx"),
            "h1",
            "1.2.3",
            HaSettings(**opts),
            clock=lambda: self.now,
            call_later=lambda d, fn: self.timers.append((d, fn)),
            jitter=lambda lo, hi: hi / 2,
        )

    def configs(self) -> list[dict[str, Any]]:
        assert all(t == TOPIC and r for t, _, r in self.sent)
        return [json.loads(p) for _, p, _ in self.sent]

    def fire_timers(self) -> None:
        timers, self.timers = self.timers, []
        for _, fn in timers:
            fn()


def test_subscribes_to_ha_status_and_its_own_config() -> None:
    assert Harness().ha.topics_to_subscribe() == ["ha/status", TOPIC]


def test_nothing_published_before_any_interface() -> None:
    h = Harness()
    h.ha.on_connect()
    h.ha.on_samples([])
    h.ha.on_ha_status(b"online")
    h.fire_timers()
    assert h.sent == []


def test_publishes_once_then_only_on_change() -> None:
    h = Harness()
    h.ha.on_samples([ETH0])
    h.ha.on_samples([ETH0])
    assert len(h.sent) == 1
    h.ha.on_samples([ETH0, WG])
    assert len(h.sent) == 2
    assert {c.split("_")[-1] for c in h.configs()[1]["cmps"]} >= {"link", "problem"}
    assert any(c.startswith("wg0_") for c in h.configs()[1]["cmps"])
    # wg0 missing for a while (< gone_after) keeps its entities: no re-publish.
    h.now += 30
    h.ha.on_samples([ETH0])
    assert len(h.sent) == 2
    assert h.ha.known_keys() == ["mac_525400123456", "wg0"]


def test_rename_with_same_mac_keeps_component_ids() -> None:
    h = Harness()
    h.ha.on_samples([ETH0])
    h.ha.on_samples([IfaceInfo("enp3s0", ETH0.mac, InterfaceKind.ETHERNET)])
    first, second = h.configs()
    assert set(first["cmps"]) == set(second["cmps"])
    assert second["cmps"]["mac_525400123456_rx_rate"]["stat_t"] == "pfx/v1/h1/iface/enp3s0"


def test_gone_interface_is_removed_with_platform_only_stubs() -> None:
    h = Harness()
    h.ha.on_samples([ETH0, WG])
    h.now += 61
    h.ha.on_samples([ETH0])
    removal = h.configs()[-1]["cmps"]
    stubs = {cid: c for cid, c in removal.items() if cid.startswith("wg0_")}
    assert stubs == {
        "wg0_rx_rate": {"p": "sensor"},
        "wg0_tx_rate": {"p": "sensor"},
        "wg0_rx_total": {"p": "sensor"},
        "wg0_tx_total": {"p": "sensor"},
        "wg0_link": {"p": "binary_sensor"},
        "wg0_problem": {"p": "binary_sensor"},
    }
    assert "uniq_id" in removal["mac_525400123456_link"]  # the rest stays
    assert h.ha.known_keys() == ["mac_525400123456"]
    # Stubs go out once: nothing more until something changes, then without them.
    h.ha.on_samples([ETH0])
    assert len(h.sent) == 2
    h.ha.on_samples([ETH0, IfaceInfo("br0", ETH0.mac, InterfaceKind.BRIDGE)])
    assert not any(c.startswith("wg0_") for c in h.configs()[-1]["cmps"])


def test_interface_back_before_removal_is_published_cancels_it() -> None:
    h = Harness()
    h.ha.on_samples([ETH0, WG])
    h.now += 61
    h.ha.on_samples([ETH0, WG])
    assert len(h.sent) == 1


def test_key_change_retires_the_old_key_at_once() -> None:
    h = Harness()
    h.ha.on_samples([ETH0])
    # A second NIC with the same MAC (bond slave): both are keyed by name now.
    twin = IfaceInfo("eth1", ETH0.mac, InterfaceKind.ETHERNET)
    h.ha.on_samples([ETH0, twin])
    cmps = h.configs()[-1]["cmps"]
    assert cmps["mac_525400123456_link"] == {"p": "binary_sensor"}
    assert "uniq_id" in cmps["eth0_link"]
    assert h.ha.known_keys() == ["eth0", "eth1"]


def test_ha_birth_republishes_after_jitter_and_coalesces() -> None:
    h = Harness()
    h.ha.on_samples([ETH0])
    h.ha.on_ha_status(b"offline")
    h.ha.on_ha_status(b"online")
    h.ha.on_ha_status(b"online\n")
    assert [d for d, _ in h.timers] == [2.0]  # one timer, jitter within 0..4 s
    assert len(h.sent) == 1
    h.fire_timers()
    assert len(h.sent) == 2
    assert h.sent[0] == h.sent[1]
    h.ha.on_ha_status(b"online")  # a later birth schedules again
    assert len(h.timers) == 1


def test_on_connect_republishes_the_last_config() -> None:
    h = Harness()
    h.ha.on_samples([ETH0])
    h.ha.on_connect()
    assert len(h.sent) == 2
    assert h.sent[0] == h.sent[1]


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="rate unit"):
        HaSettings(rate_unit="Mbps")
    with pytest.raises(ValueError, match="prefix"):
        HaSettings(ha_prefix="ha/#")
    with pytest.raises(ValueError, match="gone_after_s"):
        HaSettings(gone_after_s=0)


def test_rate_unit_and_interval_reach_the_payload() -> None:
    h = Harness(rate_unit="kbit/s", interval_s=60.0)
    h.ha.on_samples([WG])
    comp = h.configs()[0]["cmps"][f"{sanitize_id('wg0')}_rx_rate"]
    assert comp["unit_of_meas"] == "kbit/s"
    assert comp["exp_aft"] == 180


def test_thread_call_later_runs_once() -> None:
    done = threading.Event()
    timer = thread_call_later(0.01, done.set)
    assert done.wait(5), "timer never fired"
    timer.join(5)


def previous_run(*infos: IfaceInfo) -> bytes:
    """The retained config a previous run left for `infos`."""
    h = Harness()
    h.ha.on_samples(list(infos))
    return h.sent[-1][1]


def test_previous_run_interfaces_are_carried_then_removed() -> None:
    h = Harness()
    h.ha.on_message(TOPIC, previous_run(ETH0, WG))
    assert h.sent == []  # nothing of this run known yet
    h.ha.on_samples([ETH0])
    (config,) = h.configs()
    assert config == json.loads(previous_run(ETH0, WG))  # wg0 kept as it was
    h.now += 30
    h.ha.on_samples([ETH0])
    assert len(h.sent) == 1
    h.now += 31  # 61 s after the previous config was read
    h.ha.on_samples([ETH0])
    cmps = h.configs()[-1]["cmps"]
    assert cmps["wg0_link"] == {"p": "binary_sensor"}
    assert "uniq_id" in cmps["mac_525400123456_link"]


def test_previous_run_interface_seen_again_is_rebuilt() -> None:
    h = Harness(rate_unit="kB/s")
    h.ha.on_message(TOPIC, previous_run(ETH0, WG))  # built with Mbit/s
    h.ha.on_samples([ETH0, WG])
    cmps = h.configs()[-1]["cmps"]
    assert cmps["wg0_rx_rate"]["unit_of_meas"] == "kB/s"
    h.now += 61
    h.ha.on_samples([ETH0, WG])
    assert len(h.sent) == 1


def test_previous_run_key_superseded_by_the_same_interface_is_retired() -> None:
    h = Harness()
    # The previous run keyed eth0 by name (it shared its MAC with eth1 then).
    twin = IfaceInfo("eth1", ETH0.mac, InterfaceKind.ETHERNET)
    h.ha.on_message(TOPIC, previous_run(ETH0, twin))
    h.ha.on_samples([ETH0])
    cmps = h.configs()[-1]["cmps"]
    assert cmps["eth0_link"] == {"p": "binary_sensor"}  # eth0 is now keyed by MAC
    assert "uniq_id" in cmps["mac_525400123456_link"]
    assert "uniq_id" in cmps["eth1_link"]  # eth1 is simply missing: kept for now


def test_only_the_first_config_message_counts_and_garbage_is_ignored() -> None:
    h = Harness()
    h.ha.on_message(TOPIC, b"not json")
    h.ha.on_message(TOPIC, previous_run(ETH0, WG))  # an echo: ignored
    h.ha.on_samples([ETH0])
    assert not any(c.startswith("wg0_") for c in h.configs()[-1]["cmps"])
    h2 = Harness()
    h2.ha.on_message(TOPIC, b'{"cmps": {"x_link": {"p": "binary_sensor"}, "junk": {"a": 1}}}')
    h2.ha.on_samples([ETH0])
    assert h2.ha.known_keys() == ["mac_525400123456"]
    assert set(h2.configs()[-1]["cmps"]) == set(previous_run_ids(ETH0))


def previous_run_ids(*infos: IfaceInfo) -> list[str]:
    return list(json.loads(previous_run(*infos))["cmps"])


def test_on_message_routes_ha_status() -> None:
    h = Harness()
    h.ha.on_samples([ETH0])
    h.ha.on_message("ha/status", b"online")
    h.ha.on_message("other/topic", b"online")
    assert len(h.timers) == 1


def test_missing_interfaces_beyond_the_cap_go_longest_missing_first() -> None:
    h = Harness(max_missing=2)
    vanished = [IfaceInfo(f"veth{i}", None, InterfaceKind.VETH) for i in range(4)]
    for info in vanished:  # containers come and go, one per cycle
        h.ha.on_samples([ETH0, info])
        h.now += 1
    h.ha.on_samples([ETH0])
    # veth3 was seen last, then veth2; veth0 and veth1 are removed long before gone_after_s.
    assert h.ha.known_keys() == ["mac_525400123456", "veth2", "veth3"]
    removed = {c for c, v in h.configs()[-1]["cmps"].items() if set(v) == {"p"}}
    assert {c.split("_")[0] for c in removed} == {"veth1"}
    assert not any(c.startswith("veth0_") for c in h.configs()[-1]["cmps"])


def test_max_missing_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="max_missing"):
        HaSettings(max_missing=-1)
