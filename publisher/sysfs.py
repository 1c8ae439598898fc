"""A link's sysfs attributes kept open and re-read with pread: one system call, not three.

sysfs makes an attribute's value anew on every read from offset 0, so a file kept open always
reads the current value, and fails (ENODEV) once its device is gone. Ordinary files, such as
the fake trees of tests, are replaced rather than rewritten, so they are opened by path every
time: a tree whose first attribute read shows the file's true size is taken for one.
A renamed device keeps its files, so while files are kept each cycle first checks in `uevent`
that they still belong to the link of that name (it also gives the ifindex).
"""

from __future__ import annotations

import os
from collections.abc import Collection

MAX_KEPT = 256  # open files at most (2 per link): far below the usual limit of 1024
_READ_MAX = 4096


class LinkFiles:
    """Reads `{sys_root}/class/net/{name}/{attr}`, keeping sysfs files open between reads."""

    def __init__(self, sys_root: str, *, keep: bool = True) -> None:
        self._net = f"{sys_root}/class/net/"
        self._kept: dict[str, dict[str, int]] = {}
        self._count = 0
        # Whether files are sysfs ones, kept open; known after the first read. keep=False:
        # never (a one-off read of every link opens each file once anyway).
        self.pseudo: bool | None = None if keep else False

    def read(self, name: str, attr: str) -> bytes | None:
        """The attribute's bytes; None if absent or unreadable (EINVAL while a link is down)."""
        fds = self._kept.get(name)
        if fds is not None:
            fd = fds.get(attr)
            if fd is not None:
                try:
                    return os.pread(fd, _READ_MAX, 0)
                except OSError:  # the device is gone (ENODEV), or EINVAL: ask the path
                    del fds[attr]
                    self._count -= 1
                    os.close(fd)
        return self._read_path(name, attr)

    def read_once(self, name: str, attr: str) -> bytes | None:
        """An attribute read now and then (MTU, speed ...), by path (not kept open)."""
        return read_file(self._net + name + "/" + attr)

    def exists(self, name: str, entry: str) -> bool:
        """Whether the link's directory holds `entry` (a marker such as `wireless`)."""
        return os.path.exists(self._net + name + "/" + entry)

    def _read_path(self, name: str, attr: str) -> bytes | None:
        try:
            fd = os.open(self._net + name + "/" + attr, os.O_RDONLY)
        except OSError:
            return None
        try:
            data = os.read(fd, _READ_MAX)
            if self.pseudo is None:
                self.pseudo = os.fstat(fd).st_size != len(data)
        except OSError:
            os.close(fd)
            return None
        if self.pseudo and self._count < MAX_KEPT:
            self._kept.setdefault(name, {})[attr] = fd
            self._count += 1
        else:
            os.close(fd)
        return data

    def ifindex(self, name: str) -> int | None:
        """The link's ifindex; with kept files, first make sure they are still this link's."""
        if self.pseudo is None:
            self.read(name, "operstate")  # finds out whether to keep files (read next anyway)
        if not self.pseudo:
            return parse_int(self.read(name, "ifindex"))
        raw = self.read(name, "uevent")
        mine, ifindex = _identity(raw, name)
        if not mine and name in self._kept:
            self.forget(name)  # renamed: the files kept show another link now
            mine, ifindex = _identity(self.read(name, "uevent"), name)
        if not mine:  # no uevent of the known shape: no check, so keep nothing open
            self.pseudo = False
            self.close()
            return parse_int(self.read(name, "ifindex"))
        return ifindex

    def forget(self, name: str) -> None:
        """Close the files of one link."""
        for fd in self._kept.pop(name, {}).values():
            self._count -= 1
            os.close(fd)

    def retain(self, names: Collection[str]) -> None:
        """Close the files of every link not in `names` (links gone from /proc/net/dev)."""
        for name in [n for n in self._kept if n not in names]:
            self.forget(name)

    def close(self) -> None:
        """Close every file kept."""
        self.retain(())


def read_file(path: str) -> bytes | None:
    """A sysfs/procfs attribute's raw bytes; None if absent or unreadable (EINVAL: link down)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        return os.read(fd, _READ_MAX)
    except OSError:
        return None
    finally:
        os.close(fd)


def parse_int(raw: bytes | None, base: int = 10) -> int | None:
    """A numeric attribute (int() takes the bytes and their newline as they are); None if not."""
    if raw is None:
        return None
    try:
        return int(raw, base)
    except ValueError:
        return None


def _identity(raw: bytes | None, name: str) -> tuple[bool, int | None]:
    """Whether a net device's uevent names `name`, and the ifindex it gives.

    The kernel writes `[DEVTYPE=...\n]INTERFACE={name}\nIFINDEX={ifindex}\n`.
    """
    if raw is None:
        return False, None
    head, found, tail = raw.partition(b"INTERFACE=" + name.encode() + b"\nIFINDEX=")
    if not found or (head and not head.endswith(b"\n")):
        return False, None
    return True, parse_int(tail.partition(b"\n")[0])
