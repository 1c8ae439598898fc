"""The kernel's own link notices, in a network namespace of the test's: made, up, renamed, gone.

The collector runs under `ip netns exec`, so its rtnetlink socket, /proc/net/dev and /sys are
the namespace's; links are changed with `ip` from inside it. Each change must show, and only a
notice can make it show: the links' turns to be read anyway are put out of reach.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]

SCRIPT = textwrap.dedent(
    """
    import json, subprocess, time
    from publisher.collect import Collector, InterfaceFilter, link_notices

    events = link_notices("/proc", "/sys")
    assert events is not None, "no link notices for our own /proc and /sys"
    collector = Collector("/proc", "/sys", InterfaceFilter(exclude=()), events)
    # No link's turn comes, no refresh of all: only notices make links read again.
    collector.STATE_REFRESH_CYCLES = collector.DETAILS_REFRESH_CYCLES = 10**6
    seen = []

    def step(what, name, want, *ip):
        # Operstate follows carrier asynchronously (the kernel's linkwatch, up to a second),
        # with a notice of its own: collect until the link reads as wanted.
        subprocess.run(["ip", *ip], check=True)
        deadline = time.monotonic() + 5
        while True:
            links = {r.name: [r.is_up, r.mtu] for r in collector.collect()}
            if links.get(name) == want or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        seen.append([what, links])

    collector.collect()
    step("made", "d0", [False, 1400], "link", "add", "d0", "mtu", "1400", "type", "veth",
         "peer", "name", "p0")
    step("peer up", "p0", [False, 1500], "link", "set", "p0", "up")
    step("up", "d0", [True, 1400], "link", "set", "d0", "up")
    step("mtu", "d0", [True, 9000], "link", "set", "d0", "mtu", "9000")
    step("down", "d0", [False, 9000], "link", "set", "d0", "down")
    step("renamed", "d1", [False, 9000], "link", "set", "d0", "name", "d1")
    step("up again", "d1", [True, 9000], "link", "set", "d1", "up")
    step("gone", "lo", [True, 65536], "link", "del", "d1")
    collector.close()
    print(json.dumps(seen))
    """
)


@pytest.fixture
def namespace() -> Iterator[str]:
    if os.geteuid() != 0:
        pytest.fail("link notices are tested in a network namespace of our own: needs root")
    name = f"ifpulse-notices-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def run_in(namespace: str, script: str) -> Any:
    """Run a Python script inside the namespace; what it printed last, as JSON."""
    out = subprocess.run(
        ["ip", "netns", "exec", namespace, sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_each_link_change_shows_in_the_next_collection(namespace: str) -> None:
    steps = {what: links for what, links in run_in(namespace, SCRIPT)}
    assert steps["made"]["d0"] == [False, 1400]
    assert steps["peer up"]["p0"] == [False, 1500]  # its peer d0 is down: no carrier
    assert steps["up"]["d0"] == [True, 1400]
    assert steps["mtu"]["d0"] == [True, 9000]
    assert steps["down"]["d0"] == [False, 9000]
    assert steps["renamed"].keys() == {"lo", "d1", "p0"}
    assert steps["renamed"]["d1"] == [False, 9000]
    assert steps["up again"]["d1"] == [True, 9000]
    assert steps["gone"] == {"lo": [True, 65536]}  # a veth pair goes as one


TREES = textwrap.dedent(
    """
    import json, os, pathlib, subprocess, tempfile
    from publisher.collect import link_notices
    from tests.fixtures.proc_trees import FakeHost

    subprocess.run(["ip", "link", "add", "d0", "type", "veth", "peer", "name", "p0"], check=True)
    host = tempfile.mkdtemp()  # this namespace's trees mounted elsewhere, as in a container
    for tree in ("proc", "sys"):
        os.mkdir(f"{host}/{tree}")
        subprocess.run(["mount", "--bind", f"/{tree}", f"{host}/{tree}"], check=True)
    fake = FakeHost(pathlib.Path(tempfile.mkdtemp()))
    for ifindex, name in enumerate(("lo", "d0", "p0"), start=100):
        fake.add(name, ifindex=ifindex)  # the same names, other ifindexes
    verdicts = {}
    for label, proc, sys_ in (("own", "/proc", "/sys"), ("mounted", f"{host}/proc",
                              f"{host}/sys"), ("fake", fake.proc, fake.sys),
                              ("fake sys", "/proc", fake.sys)):
        events = link_notices(proc, sys_)
        verdicts[label] = events is not None
        if events is not None:
            events.close()
    for tree in ("proc", "sys"):
        subprocess.run(["umount", f"{host}/{tree}"], check=True)
    print(json.dumps(verdicts))
    """
)


def test_notices_are_used_only_where_the_trees_show_this_namespace(namespace: str) -> None:
    verdicts = run_in(namespace, TREES)
    assert verdicts == {"own": True, "mounted": True, "fake": False, "fake sys": False}
