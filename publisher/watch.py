"""Change signals for directories of ordinary files (inotify): which ones changed since last asked.

sysfs sends no inotify events for its attributes, but ordinary files (a fake tree, a copy) do.
A directory watched here reports any file in it written, created, replaced, deleted, or itself
moved or deleted; nothing is reported for reading. Without inotify, `add` refuses every
directory and callers read as if everything changed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import struct
import weakref

log = logging.getLogger(__name__)

IN_MODIFY = 0x2
IN_ATTRIB = 0x4
IN_CLOSE_WRITE = 0x8
IN_MOVED_FROM = 0x40
IN_MOVED_TO = 0x80
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_DELETE_SELF = 0x400
IN_MOVE_SELF = 0x800
IN_Q_OVERFLOW = 0x4000
IN_IGNORED = 0x8000
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC
CHANGES = (
    IN_MODIFY
    | IN_ATTRIB
    | IN_CLOSE_WRITE
    | IN_MOVED_FROM
    | IN_MOVED_TO
    | IN_CREATE
    | IN_DELETE
    | IN_DELETE_SELF
    | IN_MOVE_SELF
)
_GONE = IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED
_EVENT = struct.Struct("iIII")  # wd, mask, cookie, len; then len bytes of name
_READ_SIZE = 65536


def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.inotify_init1, libc.inotify_add_watch, libc.inotify_rm_watch  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


class DirWatch:
    """Watches directories, each under a key; `changed()` gives the keys of those that changed."""

    def __init__(self) -> None:
        self._libc = _libc()
        self._fd = -1
        if self._libc is not None:
            self._fd = self._libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
            if self._fd < 0:
                err = ctypes.get_errno()
                log.info("no inotify (%s): ordinary files are read every cycle", os.strerror(err))
        self._keys: dict[int, str] = {}  # watch descriptor -> key
        self._wds: dict[str, int] = {}
        self._closer = weakref.finalize(self, _close, self._fd)

    def add(self, key: str, path: str) -> bool:
        """Start watching `path` for `key`; False if it cannot be watched (then always changed)."""
        if self._fd < 0 or self._libc is None:
            return False
        if key in self._wds:
            return True
        wd = self._libc.inotify_add_watch(self._fd, os.fsencode(path), CHANGES)
        if wd < 0:
            return False
        old = self._keys.get(wd)  # the same directory under another key: one watch, one key
        if old is not None:
            self._wds.pop(old, None)
        self._keys[wd] = key
        self._wds[key] = wd
        return True

    def changed(self) -> set[str] | None:
        """Keys whose directory changed since the last call; None: any may have (overflow)."""
        if self._fd < 0:
            return set()
        keys: set[str] = set()
        while True:
            try:
                buf = os.read(self._fd, _READ_SIZE)
            except BlockingIOError:
                return keys
            offset = 0
            while offset < len(buf):
                wd, mask, _, length = _EVENT.unpack_from(buf, offset)
                offset += _EVENT.size + length
                if mask & IN_Q_OVERFLOW:
                    self.clear()
                    return None
                key = self._keys.get(wd)
                if key is not None:
                    keys.add(key)
                    if mask & _GONE:  # the watch is no longer on the directory at that path
                        self.remove(key)

    def remove(self, key: str) -> None:
        """Stop watching `key`'s directory."""
        wd = self._wds.pop(key, None)
        if wd is not None and self._libc is not None:
            del self._keys[wd]
            self._libc.inotify_rm_watch(self._fd, wd)  # fails harmlessly if already gone

    def clear(self) -> None:
        """Stop watching everything."""
        for key in list(self._wds):
            self.remove(key)

    def close(self) -> None:
        """Release the inotify descriptor."""
        self._keys.clear()
        self._wds.clear()
        self._closer()
        self._fd = -1


def _close(fd: int) -> None:
    if fd >= 0:
        os.close(fd)
