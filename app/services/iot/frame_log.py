"""The live frame log of each IoT device: the last frames as received, with what became of them.

Troubleshooting a device starts with "what exactly did it send, and did we take it?", so
the detail panel shows the raw frames (text as text, binary as hex) newest first with a
decode status, and the commands sent to it. One bounded ring buffer per device keeps the
memory per device fixed however long the console runs. Every device of the fleet has one
(the log must already hold the frames when an operator opens a device), so its size is
the memory of the whole fleet's logs: an entry is about 250 bytes, so 50 entries are
~12 KB per device and ~125 MB for 10,000 devices (200 would be half a gigabyte). Fifty
frames are minutes to hours of a device's traffic; older ones are in the telemetry
history (``raw``).
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from datetime import datetime

from app.listeners import Listeners

logger = logging.getLogger(__name__)

DEFAULT_SIZE = 50
MAX_TEXT = 600  # characters of one frame shown; longer frames are cut with an ellipsis
_PRINTABLE = bytes([9, 10, 13, *range(32, 127)])


@dataclass(frozen=True, slots=True)
class FrameEntry:
    """One line of the log: ``direction`` is "in" (a frame), "out" (a command) or "note"."""

    at: datetime
    direction: str
    text: str
    status: str


def frame_text(raw: bytes) -> str:
    """Printable ASCII frames as text (Omni, Queclink, NMEA), anything else as hex."""
    # translate() deleting every printable byte is the "all printable?" test in C: this
    # runs for every frame the gateway stores.
    if raw and not raw.translate(None, _PRINTABLE):
        text = raw.decode("ascii").strip()
    else:
        text = raw.hex(" ")
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


class FrameLog:
    """Ring buffers of :class:`FrameEntry` per device id, plus listeners for live views."""

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self.size = size
        self._buffers: dict[str, deque[FrameEntry]] = {}
        #: Hear ``(device_id, entry)`` for every new entry (the live frame view).
        self.added: Listeners[[str, FrameEntry]] = Listeners("the frame log")

    def add(self, device_id: str, entry: FrameEntry) -> None:
        buffer = self._buffers.get(device_id)
        if buffer is None:
            buffer = self._buffers[device_id] = deque(maxlen=self.size)
        buffer.append(entry)
        self.added.notify(device_id, entry)

    @property
    def device_count(self) -> int:
        """Devices with a buffer: the memory of the logs is this times ``size`` entries."""
        return len(self._buffers)

    def entries(self, device_id: str) -> list[FrameEntry]:
        """This device's entries, newest first."""
        return list(reversed(self._buffers.get(device_id, ())))
