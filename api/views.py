"""Turn store records into response schemas: host status, primary interface, interfaces."""

from __future__ import annotations

from datetime import datetime, timedelta

from api.models import HostStatusName, InterfacePublic, ServerDetail, ServerPublic
from api.settings import ApiSettings
from schemas import HostState, InterfaceSample
from stores import HostRecord


def host_status(host: HostRecord, now: datetime, settings: ApiSettings) -> HostStatusName:
    """online if reporting within stale_intervals x its interval; offline if it said so."""
    if host.state is HostState.OFFLINE:
        return HostStatusName.OFFLINE
    if host.last_seen is None:
        return HostStatusName.STALE
    interval = host.interval_s or settings.default_interval_s
    # A host with samples but no status message yet (state None) is judged by its samples alone.
    if now - host.last_seen <= timedelta(seconds=settings.stale_intervals * interval):
        return HostStatusName.ONLINE
    return HostStatusName.STALE


def primary_interface(latest: list[InterfaceSample]) -> str | None:
    """The up interface that moved the most bytes (or any interface if none is up)."""
    if not latest:
        return None
    candidates = [s for s in latest if s.is_up] or latest
    return max(candidates, key=lambda s: (s.rx_bytes + s.tx_bytes, s.iface)).iface


def interface_public(sample: InterfaceSample) -> InterfacePublic:
    """The public view of an interface's newest sample."""
    return InterfacePublic(
        name=sample.iface,
        rx_bytes=sample.rx_bytes,
        tx_bytes=sample.tx_bytes,
        rx_packets=sample.rx_packets,
        tx_packets=sample.tx_packets,
        is_up=sample.is_up,
        rx_errors=sample.rx_errors,
        tx_errors=sample.tx_errors,
        rx_dropped=sample.rx_dropped,
        tx_dropped=sample.tx_dropped,
        multicast=sample.multicast,
        collisions=sample.collisions,
        rx_bytes_per_sec=sample.rx_bytes_per_sec,
        tx_bytes_per_sec=sample.tx_bytes_per_sec,
        rx_packets_per_sec=sample.rx_packets_per_sec,
        tx_packets_per_sec=sample.tx_packets_per_sec,
        oper_state=sample.oper_state,
        speed_mbps=sample.speed_mbps,
        mtu=sample.mtu,
        kind=sample.kind,
        mac=sample.mac,
        last_seen=sample.ts,
    )


def server_public(
    host: HostRecord, latest: list[InterfaceSample], status: HostStatusName
) -> ServerPublic:
    """The list entry of a host."""
    names = {s.iface for s in latest} | set(host.interfaces)
    return ServerPublic(
        id=host.id,
        hostname=host.id,
        status=status,
        last_seen=host.last_seen,
        interface_count=len(names),
        primary_interface=primary_interface(latest),
        version=host.version,
        interval_s=host.interval_s,
        spool_dropped=host.spool_dropped,
    )


def server_detail(
    host: HostRecord, latest: list[InterfaceSample], status: HostStatusName
) -> ServerDetail:
    """A host with its interfaces, ordered by name."""
    base = server_public(host, latest, status)
    interfaces = [interface_public(s) for s in sorted(latest, key=lambda s: s.iface)]
    return ServerDetail(**base.model_dump(), network_interfaces=interfaces)
