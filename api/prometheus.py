"""A prometheus-client Collector that reads the store at every scrape."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from schemas import InterfaceSample
from stores import HostRecord, Store

_LABELS = ["host", "interface"]

# (metric name, help, sample field): the kernel's cumulative counters.
COUNTERS: tuple[tuple[str, str, str], ...] = (
    ("ifpulse_interface_receive_bytes_total", "Bytes received.", "rx_bytes"),
    ("ifpulse_interface_transmit_bytes_total", "Bytes transmitted.", "tx_bytes"),
    ("ifpulse_interface_receive_packets_total", "Packets received.", "rx_packets"),
    ("ifpulse_interface_transmit_packets_total", "Packets transmitted.", "tx_packets"),
    ("ifpulse_interface_receive_errors_total", "Receive errors.", "rx_errors"),
    ("ifpulse_interface_transmit_errors_total", "Transmit errors.", "tx_errors"),
    ("ifpulse_interface_receive_drop_total", "Received packets dropped.", "rx_dropped"),
    ("ifpulse_interface_transmit_drop_total", "Transmitted packets dropped.", "tx_dropped"),
    ("ifpulse_interface_multicast_total", "Multicast packets received.", "multicast"),
    ("ifpulse_interface_collisions_total", "Collisions detected.", "collisions"),
)
BYTES_PER_MBIT = 125_000


def _epoch(value: datetime) -> float:
    return value.timestamp()


class StoreCollector(Collector):
    """Per host+interface counters and gauges from the newest stored sample of each."""

    def __init__(self, store: Store, is_online: Callable[[HostRecord], bool]) -> None:
        self._store = store
        self._is_online = is_online

    def describe(self) -> Iterable[Metric]:
        """Nothing up front, so registering the collector never touches the store."""
        return []

    def collect(self) -> Iterator[Metric]:
        """Read hosts and their newest samples and build every metric family."""
        counters = {n: CounterMetricFamily(n, text, labels=_LABELS) for n, text, _ in COUNTERS}
        up = GaugeMetricFamily("ifpulse_interface_up", "1 if the link is usable.", labels=_LABELS)
        speed = GaugeMetricFamily(
            "ifpulse_interface_speed_bytes", "Link speed in bytes per second.", labels=_LABELS
        )
        mtu = GaugeMetricFamily("ifpulse_interface_mtu_bytes", "MTU in bytes.", labels=_LABELS)
        seen = GaugeMetricFamily(
            "ifpulse_interface_last_seen_timestamp_seconds",
            "Time of the newest sample of the interface.",
            labels=_LABELS,
        )
        host_up = GaugeMetricFamily(
            "ifpulse_host_up", "1 if the host is online (not offline or stale).", labels=["host"]
        )
        host_seen = GaugeMetricFamily(
            "ifpulse_host_last_seen_timestamp_seconds",
            "Time the host was last heard from.",
            labels=["host"],
        )
        spool_dropped = CounterMetricFamily(
            "ifpulse_host_spool_dropped_total",
            "Samples the publisher dropped because its spool was full (since it started).",
            labels=["host"],
        )
        for host in self._store.hosts():
            host_up.add_metric([host.id], 1.0 if self._is_online(host) else 0.0)
            spool_dropped.add_metric([host.id], float(host.spool_dropped))
            if host.last_seen is not None:
                host_seen.add_metric([host.id], _epoch(host.last_seen))
            for sample in self._store.latest(host.id):
                labels = [host.id, sample.iface]
                for name, _, field in COUNTERS:
                    counters[name].add_metric(labels, float(getattr(sample, field)))
                self._gauges(sample, labels, up, speed, mtu, seen)
        yield from counters.values()
        yield from (up, speed, mtu, seen, host_up, host_seen, spool_dropped)

    @staticmethod
    def _gauges(
        sample: InterfaceSample,
        labels: list[str],
        up: GaugeMetricFamily,
        speed: GaugeMetricFamily,
        mtu: GaugeMetricFamily,
        seen: GaugeMetricFamily,
    ) -> None:
        up.add_metric(labels, 1.0 if sample.is_up else 0.0)
        if sample.speed_mbps is not None:
            speed.add_metric(labels, float(sample.speed_mbps * BYTES_PER_MBIT))
        if sample.mtu is not None:
            mtu.add_metric(labels, float(sample.mtu))
        seen.add_metric(labels, _epoch(sample.ts))
