"""Which key stands for each interface in Home Assistant discovery: its MAC, or its name.

Keys are part of component ids and unique_ids, so they must stay the same across restarts
and, for a NIC, across a rename.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from schemas import InterfaceKind, InterfaceSample

ID_BAD = re.compile(r"[^a-zA-Z0-9_-]")
"""What Home Assistant does not allow in an id."""
MAC_KINDS = frozenset({InterfaceKind.ETHERNET, InterfaceKind.WIRELESS})
"""Kinds whose MAC is their own (bridges, vlans, bonds and veths inherit or invent theirs)."""


@dataclass(frozen=True, slots=True)
class IfaceInfo:
    """What discovery needs to know of one interface (built from its latest sample)."""

    name: str
    mac: str | None
    kind: InterfaceKind


INFO_CACHE_MAX = 4096


class IfaceInfos:
    """Each sample's IfaceInfo, the same object while its name, MAC and kind stay.

    Building one per sample each cycle cost more than discovery itself; the same objects
    also compare (against the last cycle's) by identity.
    """

    def __init__(self) -> None:
        self._infos: dict[tuple[str, str | None, InterfaceKind], IfaceInfo] = {}

    def __call__(self, samples: Iterable[InterfaceSample]) -> list[IfaceInfo]:
        """The infos of `samples`, in their order."""
        infos = self._infos
        out = []
        for sample in samples:
            key = (sample.iface, sample.mac, sample.kind)
            info = infos.get(key)
            if info is None:
                if len(infos) > INFO_CACHE_MAX:  # veth names churn with containers
                    infos.clear()
                info = infos[key] = IfaceInfo(*key)
            out.append(info)
        return out


def sanitize_id(name: str) -> str:
    """Make `name` a Home Assistant id (`[a-zA-Z0-9_-]+`), collision-free when altered."""
    clean = ID_BAD.sub("_", name)
    if clean == name and clean:
        return clean
    # A short hash of the original keeps `eth0.10` and a real `eth0_10` apart.
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:6]
    return f"{clean}_{digest}" if clean else digest


def iface_key(info: IfaceInfo, all_infos: Sequence[IfaceInfo]) -> str:
    """Stable component key: the MAC for a NIC whose MAC is its own, else the name.

    Bridges, vlans, bonds and veths inherit or invent MACs, so only ethernet and
    wireless interfaces are keyed by MAC, and only when no other NIC on the host
    shares it (bond slaves do). A MAC key survives a rename (`eth0` -> `enp3s0`); it
    is `mac_` + 12 hex digits, 16 characters, so it can never equal a name key
    (interface names are at most 15 bytes, and altered ones carry `_` + hash).
    """
    return _key(info, _nic_macs(all_infos))


def iface_keys(infos: Sequence[IfaceInfo]) -> list[str]:
    """`iface_key` of each of `infos` (all of one host), counting the MACs once, not per NIC."""
    macs = _nic_macs(infos)
    return [_key(info, macs) for info in infos]


def _nic_macs(infos: Iterable[IfaceInfo]) -> Counter[str]:
    """How many NICs carry each MAC."""
    return Counter(i.mac for i in infos if i.kind in MAC_KINDS and i.mac)


def _key(info: IfaceInfo, nic_macs: Counter[str]) -> str:
    if info.kind in MAC_KINDS and info.mac and nic_macs[info.mac] == 1:
        return "mac_" + info.mac.replace(":", "")
    return sanitize_id(info.name)
