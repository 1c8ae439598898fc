"""Ordinary files (fake trees) are read again only when inotify reports a change: never stale."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

import publisher.watch as watch_module
from publisher.collect import Collector, InterfaceReading
from publisher.sysfs import LinkFiles
from publisher.watch import DirWatch
from schemas import InterfaceKind, OperState
from tests.fixtures.proc_trees import FakeHost

needs_inotify = pytest.mark.skipif(DirWatch()._fd < 0, reason="no inotify here")


@pytest.fixture
def host(tmp_path: Path) -> FakeHost:
    fake = FakeHost(tmp_path / "host")
    fake.add("eth0")
    fake.add("eth1", operstate="unknown")
    return fake


@pytest.fixture
def collector(host: FakeHost) -> Collector:
    c = Collector(host.proc, host.sys)
    yield c  # type: ignore[misc]
    c.close()


def by_name(readings: list[InterfaceReading]) -> dict[str, InterfaceReading]:
    return {r.name: r for r in readings}


def count_opens(monkeypatch: pytest.MonkeyPatch, under: Path) -> list[str]:
    """Paths under `under` opened with os.open from now on."""
    opened: list[str] = []
    real_open: Callable[..., int] = os.open

    def counting(path: str, *args: object, **kwargs: object) -> int:
        if str(path).startswith(str(under)):
            opened.append(str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", counting)
    return opened


@needs_inotify
def test_unchanged_files_are_not_read_again(
    host: FakeHost, collector: Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = collector.collect()
    opened = count_opens(monkeypatch, host.sys)
    for _ in range(3):
        assert collector.collect() == first
    assert opened == []
    host.set_link("eth1", carrier=0)
    assert not by_name(collector.collect())["eth1"].is_up
    assert opened and all("/eth1/" in path for path in opened)


@needs_inotify
def test_a_file_rewritten_in_place_is_read_again(host: FakeHost, collector: Collector) -> None:
    collector.collect()
    with open(host.sys / "class" / "net" / "eth0" / "operstate", "r+b") as f:
        f.write(b"down\n")
    assert by_name(collector.collect())["eth0"].oper_state is OperState.DOWN


@needs_inotify
def test_a_link_directory_replaced_is_read_again(host: FakeHost, collector: Collector) -> None:
    assert by_name(collector.collect())["eth0"].ifindex == 1
    shutil.rmtree(host.sys / "class" / "net" / "eth0")
    host.links["eth0"].ifindex = 7
    host.write_sysfs(host.links["eth0"])
    assert by_name(collector.collect())["eth0"].ifindex == 7
    host.set_link("eth0", operstate="down")  # the new directory is watched too
    assert by_name(collector.collect())["eth0"].oper_state is OperState.DOWN


@needs_inotify
def test_a_link_symlink_pointed_elsewhere_is_read_again(tmp_path: Path) -> None:
    fake = FakeHost(tmp_path / "host")
    fake.add("eth0")
    fake.add("eth9", ifindex=9)
    net = fake.sys / "class" / "net"
    devices = fake.sys / "devices"
    devices.mkdir()
    (net / "eth0").rename(devices / "a")
    (net / "eth0").symlink_to(devices / "a")  # as sysfs links its class entries
    (net / "eth9").rename(devices / "b")
    collector = Collector(fake.proc, fake.sys)
    try:
        assert by_name(collector.collect())["eth0"].ifindex == 1
        (net / "eth0").unlink()
        (net / "eth0").symlink_to(devices / "b")
        assert by_name(collector.collect())["eth0"].ifindex == 9
    finally:
        collector.close()


def test_without_inotify_files_are_read_every_time(
    host: FakeHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watch_module, "_libc", lambda: None)
    collector = Collector(host.proc, host.sys)
    try:
        collector.collect()
        opened = count_opens(monkeypatch, host.sys)
        collector.collect()
        assert opened
        host.set_link("eth0", operstate="down")
        assert by_name(collector.collect())["eth0"].oper_state is OperState.DOWN
    finally:
        collector.close()


@needs_inotify
def test_an_overflow_reads_everything_again(
    host: FakeHost, collector: Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    collector.collect()
    files = collector._files
    assert files._watch is not None
    monkeypatch.setattr(files._watch, "changed", lambda: None)
    opened = count_opens(monkeypatch, host.sys)
    collector.collect()
    assert {p.split("/")[-2] for p in opened} == {"eth0", "eth1"}


@needs_inotify
def test_links_gone_are_unwatched_and_forgotten(host: FakeHost, collector: Collector) -> None:
    collector.collect()
    del host.links["eth1"]
    host.write_net_dev()
    collector.collect()
    files = collector._files
    assert set(files._values) == {"eth0"}
    assert files._watch is not None and set(files._watch._wds) == {"", "eth0"}


def test_sysfs_like_trees_keep_no_values(tmp_path: Path) -> None:
    net = tmp_path / "class" / "net" / "eth0"
    net.mkdir(parents=True)
    (net / "uevent").write_bytes(b"INTERFACE=eth0\nIFINDEX=2\n")
    (net / "operstate").write_bytes(b"up\n")
    files = LinkFiles(str(tmp_path))
    files.pseudo = True  # what reading real sysfs finds out: files kept open, no values
    assert files.read("eth0", "operstate") == b"up\n"
    assert files._values == {} and files._watch is None
    files.close()


@needs_inotify
def test_details_of_unchanged_links_are_not_read_again_at_refresh(
    host: FakeHost, collector: Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = collector.collect()
    opened = count_opens(monkeypatch, host.sys)
    for _ in range(Collector.DETAILS_REFRESH_CYCLES + 1):  # one refresh at least
        assert collector.collect() == first
    assert opened == []


@needs_inotify
def test_changed_details_and_markers_show_at_the_refresh(
    host: FakeHost, collector: Collector
) -> None:
    assert by_name(collector.collect())["eth0"].kind is InterfaceKind.ETHERNET
    host.set_link("eth0", mtu=9000, bridge=True, device=False)
    for _ in range(Collector.DETAILS_REFRESH_CYCLES):
        reading = by_name(collector.collect())["eth0"]
    assert (reading.mtu, reading.kind) == (9000, InterfaceKind.BRIDGE)
