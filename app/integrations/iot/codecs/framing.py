"""The framer loop every codec shares: buffer the stream, cut whole frames off its front.

A codec's framer says only how the next frame is found (``_cut``); buffering, the loop,
keeping the remainder and ``buffered`` are here, and so are the two ways a framer gives
up on bytes that grew over ``max_frame`` (``_take`` and ``_drop_unfinished``).
"""

from __future__ import annotations

from app.integrations.iot.records import FrameError


class StreamFramer:
    """Base of the codecs' framers (the ``records.Framer`` protocol).

    ``feed`` appends the bytes and calls ``_cut`` until it returns None; the bytes left in
    ``_buf`` are the start of the next frame. A FrameError from ``_cut`` leaves ``feed``
    at once (the frames cut before it in that call are not returned); ``_cut`` removes
    the offending bytes first, so feeding on continues with what follows.
    """

    def __init__(self, max_frame: int = 4096) -> None:
        self._max = max_frame
        self._buf = bytearray()

    @property
    def buffered(self) -> int:
        """Bytes of an unfinished frame held back (the gateway's slow-sender timer)."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        frames: list[bytes] = []
        while (frame := self._cut()) is not None:
            if frame:
                frames.append(frame)
        return frames

    def _cut(self) -> bytes | None:
        """Remove the next frame from the front of ``_buf`` and return it; ``b""`` when
        only noise was removed (call again); None when no whole frame is there yet."""
        raise NotImplementedError

    def _take(self, size: int) -> bytes:
        """The first ``size`` bytes of the buffer, removed from it."""
        frame = bytes(self._buf[:size])
        del self._buf[:size]
        return frame

    def _drop_unfinished(self, what: str, end: str) -> None:
        """An unfinished frame over ``max_frame``: drop the buffer and raise FrameError."""
        if len(self._buf) > self._max:
            size = len(self._buf)
            self._buf.clear()
            raise FrameError(f"{what} over {self._max} bytes without {end} ({size} so far)")
