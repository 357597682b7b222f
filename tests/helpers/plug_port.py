"""A serial device that can be unplugged: a pty behind a stable symlink (like udev's names)."""

from __future__ import annotations

import os
import select
from pathlib import Path


class PlugPort:
    """A pty behind a stable symlink: ``unplug`` closes the master, ``plug`` makes a new one."""

    def __init__(self, link: Path):
        self.link = link
        self.master: int | None = None

    def plug(self) -> None:
        master, slave = os.openpty()
        target = os.ttyname(slave)
        os.close(slave)  # the reader opens the slave by path, like a real device node
        tmp = self.link.with_suffix(".new")
        os.symlink(target, tmp)
        os.replace(tmp, self.link)
        self.master = master

    def unplug(self) -> None:
        assert self.master is not None
        os.close(self.master)
        self.master = None

    def write(self, data: bytes) -> None:
        assert self.master is not None
        os.write(self.master, data)

    def read_lines(self, count: int, timeout: float = 5.0) -> bytes:
        assert self.master is not None
        data = b""
        while data.count(b"\n") < count:
            ready, _, _ = select.select([self.master], [], [], timeout)
            assert ready, f"nothing written to the port; got {data!r}"
            data += os.read(self.master, 256)
        return data
