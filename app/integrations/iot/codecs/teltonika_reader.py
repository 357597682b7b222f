"""Bounds-checked reads over one Teltonika packet, shared by its record and IO parsers."""

from __future__ import annotations

from app.integrations.iot.records import FrameError


class Reader:
    """Bounds-checked big-endian reads, so a truncated record is a FrameError."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def take(self, size: int) -> bytes:
        end = self.pos + size
        if size < 0 or end > len(self.data):
            raise FrameError(f"AVL data truncated at byte {self.pos} (wanted {size} more)")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def uint(self, size: int) -> int:
        return int.from_bytes(self.take(size), "big")

    def sint(self, size: int) -> int:
        return int.from_bytes(self.take(size), "big", signed=True)
