"""sysfs files kept open: the same values as opening by path, renames and vanished links handled."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import publisher.sysfs as sysfs_module
from publisher.collect import Collector, InterfaceFilter, get_network_interfaces
from publisher.sysfs import LinkFiles
from tests.fixtures.proc_trees import NET_DEV_HEADER, FakeHost

REAL_NET = Path("/sys/class/net")
needs_sysfs = pytest.mark.skipif(
    not (REAL_NET / "lo" / "uevent").exists(), reason="no sysfs with net devices here"
)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@needs_sysfs
def test_real_sysfs_files_are_kept_and_read_what_a_fresh_open_reads() -> None:
    files = LinkFiles("/sys")
    names = sorted(os.listdir(REAL_NET))
    before = open_fds()
    for _ in range(3):
        for name in names:
            by_path = (REAL_NET / name / "ifindex").read_bytes()
            assert files.ifindex(name) == int(by_path)
            assert files.read(name, "operstate") == (REAL_NET / name / "operstate").read_bytes()
    assert files.pseudo is True
    assert open_fds() == before + 2 * len(names)  # uevent and operstate of each link
    files.retain(names[1:])
    assert open_fds() == before + 2 * (len(names) - 1)
    files.close()
    assert open_fds() == before


@needs_sysfs
def test_a_collector_on_real_sysfs_reads_what_reading_by_path_reads(tmp_path: Path) -> None:
    names = sorted(os.listdir(REAL_NET))
    host = FakeHost(tmp_path)  # /proc/net/dev from the fake, /sys the real one
    zeros = " ".join(["0"] * 16)
    host.write_net_dev(NET_DEV_HEADER + "".join(f"{n}: {zeros}\n" for n in names))
    collector = Collector(host.proc, "/sys", InterfaceFilter(exclude=()))
    try:
        for _ in range(3):
            assert collector.collect() == get_network_interfaces(host.proc, "/sys", exclude=())
        assert collector._files.pseudo is True
    finally:
        collector.close()


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A sysfs-like tree: files rewritten in place, as sysfs shows new values in open files."""
    net = tmp_path / "class" / "net"
    for name, ifindex in (("eth0", 2), ("eth1", 3)):
        (net / name).mkdir(parents=True)
        (net / name / "uevent").write_bytes(f"INTERFACE={name}\nIFINDEX={ifindex}\n".encode())
        (net / name / "operstate").write_bytes(b"up\n")
    return tmp_path


def kept(tree: Path) -> LinkFiles:
    files = LinkFiles(str(tree))
    files.pseudo = True  # what reading real sysfs finds out
    return files


def test_a_renamed_link_s_files_are_dropped_for_the_new_link_of_that_name(tree: Path) -> None:
    files = kept(tree)
    assert (files.ifindex("eth0"), files.read("eth0", "operstate")) == (2, b"up\n")
    net = tree / "class" / "net"
    # eth0 becomes foo (the files kept follow it, as kernfs files do), a new eth0 appears.
    (net / "eth0").rename(net / "foo")
    with open(net / "foo" / "uevent", "r+b") as f:
        f.write(b"INTERFACE=foo\nIFINDEX=2\n")
    (net / "eth0").mkdir()
    (net / "eth0" / "uevent").write_bytes(b"DEVTYPE=vlan\nINTERFACE=eth0\nIFINDEX=9\n")
    (net / "eth0" / "operstate").write_bytes(b"down\n")
    assert (files.ifindex("eth0"), files.read("eth0", "operstate")) == (9, b"down\n")
    assert (files.ifindex("eth1"), files.read("eth1", "operstate")) == (3, b"up\n")
    files.close()


def test_a_uevent_of_another_shape_stops_keeping_files(tree: Path) -> None:
    files = kept(tree)
    before = open_fds()
    files.read("eth1", "operstate")
    (tree / "class" / "net" / "eth0" / "uevent").write_bytes(b"IFINDEX=2\n")
    (tree / "class" / "net" / "eth0" / "ifindex").write_bytes(b"2\n")
    assert files.ifindex("eth0") == 2
    assert files.pseudo is False
    assert open_fds() == before
    assert files.ifindex("eth1") is None  # ordinary reads now: eth1 has no ifindex file


def test_no_more_files_are_kept_than_the_cap(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sysfs_module, "MAX_KEPT", 3)
    files = kept(tree)
    before = open_fds()
    for _ in range(2):
        for name in ("eth0", "eth1"):
            assert files.read(name, "operstate") == b"up\n"
            assert files.ifindex(name) in (2, 3)
    assert open_fds() == before + 3
    files.close()
    assert open_fds() == before


def test_fake_trees_are_read_by_path_every_time(tmp_path: Path) -> None:
    host = FakeHost(tmp_path)
    host.add("eth0")
    collector = Collector(host.proc, host.sys)
    before = open_fds()
    assert collector.collect()[0].is_up
    host.set_link("eth0", operstate="down")  # the file is replaced: a kept one would be stale
    assert not collector.collect()[0].is_up
    assert collector._files.pseudo is False
    assert open_fds() == before
