"""Framing for Queclink @Track (Traccar ``gl200``): ASCII and binary frames on one port.

ASCII reports look like ``+RESP:GTFRI,...,<count>$`` and end at ``$`` (or NUL). The same
device family can be switched to "HEX mode", whose frames start with a 4-byte header
(``+RSP``, ``+EVT``, ...; or ``+`` followed by a zero byte in the newer compact form)
and carry their length at a header-dependent offset (Traccar ``Gl200FrameDecoder``).

"Protocol Pro" firmware adds two shapes Traccar's framer does not cut: buffered reports,
which are live ones with the first byte ``-`` instead of ``+`` (``2D 00 <u16 length>``), and
the heartbeat ``2B 10 <length>``, a fixed 24 bytes with a one-byte length. Both layouts
are the vendor's (GL601 Protocol Pro frame pages, as quoted in public notes), and the
vendor's heartbeat example closes on its own length and CRC-8. Without them a heartbeat
was read as text up to the first ``$`` and a buffered report was skipped as noise byte by
byte, so every report the device had kept while offline was lost.
"""

from __future__ import annotations

from app.integrations.iot.codecs.framing import StreamFramer
from app.integrations.iot.records import FrameError

TEXT_HEADERS = (b"+RESP:", b"+BUFF:", b"+ACK:")
BINARY_HEADERS = frozenset(
    {b"+RSP", b"+BSP", b"+EVT", b"+BVT", b"+INF", b"+BNF", b"+HBD", b"+CRD", b"+BRD", b"+LGN"}
)
MIN_BINARY = 11  # no binary frame is shorter; also the bytes needed to read any length field
PRO_HEARTBEAT = b"+\x10"
PRO_HEARTBEAT_SIZE = 24  # fixed by the vendor; any other declared length is noise
# (offset, size) of the length field per binary header; the compact form is keyed by None
_LENGTH_FIELD: dict[bytes | None, tuple[int, int]] = {
    None: (2, 2),
    PRO_HEARTBEAT: (2, 1),
    b"+ACK": (6, 1),
    b"+INF": (7, 2),
    b"+BNF": (7, 2),
    b"+HBD": (5, 1),
    b"+CRD": (6, 2),
    b"+BRD": (6, 2),
    b"+LGN": (6, 2),
}
_DEFAULT_LENGTH_FIELD = (9, 2)
# A head this long is a strict prefix of no header, so it can never be "partial"
_LONGEST_HEADER = max(len(h) for h in (*TEXT_HEADERS, *BINARY_HEADERS))
_PLUS, _MINUS = ord("+"), ord("-")


def is_binary(frame: bytes) -> bool:
    """True for a HEX-mode frame (needs at least 5 bytes to tell ``+ACK:`` from ``+ACK``)."""
    if (len(frame) > 1 and frame[1] == 0) or frame[:2] == PRO_HEARTBEAT:
        return True
    if frame[:4] == b"+ACK":
        return len(frame) > 4 and frame[4] != ord(":")
    return frame[:4] in BINARY_HEADERS


def _classify(buf: bytearray) -> str:
    """``binary``, ``text``, ``partial`` (too few bytes to tell) or ``garbage``."""
    head = bytes(buf[:6])
    if head[:1] == b"-":  # only Protocol Pro buffered reports start with '-'
        return "partial" if len(head) < 2 else "binary" if head[1] == 0 else "garbage"
    if (len(head) >= 2 and head[1] == 0) or head[:2] == PRO_HEARTBEAT:
        return "binary"
    if len(head) < _LONGEST_HEADER and any(
        h.startswith(head) and len(head) < len(h) for h in (*TEXT_HEADERS, *BINARY_HEADERS)
    ):
        return "partial"
    if head[:4] == b"+ACK":
        return "binary" if head[4] != ord(":") else "text"
    if head[:4] in BINARY_HEADERS:
        return "binary"
    if head.startswith(TEXT_HEADERS):
        return "text"
    return "garbage"


def binary_length(buf: bytes | bytearray) -> int:
    """The total length a binary frame declares (``buf`` holds at least MIN_BINARY bytes)."""
    key = None if buf[1] == 0 else PRO_HEARTBEAT if buf[:2] == PRO_HEARTBEAT else bytes(buf[:4])
    offset, size = _LENGTH_FIELD.get(key, _DEFAULT_LENGTH_FIELD)
    return int.from_bytes(buf[offset : offset + size], "big")


class Gl200Framer(StreamFramer):
    """Splits a Queclink stream into whole ASCII or binary frames.

    Bytes before a ``+`` (or the ``-`` of a Protocol Pro buffered report) are skipped; an
    ASCII frame interrupted by the start of another report is dropped in favour of the
    newer one; a binary header declaring an impossible length is treated as noise. Text
    frames are returned with their ``$``.
    """

    def _cut(self) -> bytes | None:
        if not self._buf or self._buf[0] not in (_PLUS, _MINUS):  # else a frame starts here
            found = (self._buf.find(b"+"), self._buf.find(b"-"))
            start = min((i for i in found if i >= 0), default=-1)
            if start < 0:
                self._buf.clear()
                return None
            del self._buf[:start]
        kind = _classify(self._buf)
        if kind == "garbage":
            del self._buf[:1]
            return b""
        if kind == "partial":
            return None
        return self._binary() if kind == "binary" else self._text()

    def _binary(self) -> bytes | None:
        """The next binary frame, ``b""`` if the header was noise, None if more is needed."""
        if len(self._buf) < MIN_BINARY:
            return None
        length = binary_length(self._buf)
        if length < MIN_BINARY or (self._buf[:2] == PRO_HEARTBEAT and length != PRO_HEARTBEAT_SIZE):
            del self._buf[:1]
            return b""
        if length > self._max:
            del self._buf[:1]
            raise FrameError(f"gl200 binary frame declares {length} bytes, over {self._max}")
        if len(self._buf) < length:
            return None
        return self._take(length)

    def _text(self) -> bytes | None:
        """The next ASCII frame, ``b""`` after a resync, None if more is needed."""
        buf = self._buf
        end = buf.find(b"$", 1)
        nul = buf.find(b"\x00", 1, end if end >= 0 else len(buf))  # NUL-ended old firmware
        if nul >= 0:
            end = nul
        limit = end if end >= 0 else len(buf)
        restart = -1
        if buf.find(b"+", 1, limit) >= 0:  # every header starts with '+'; most reports have none
            restart = min(
                (i for i in (buf.find(h, 1, limit) for h in TEXT_HEADERS) if i >= 0),
                default=-1,
            )
        if restart > 0:
            del self._buf[:restart]
            return b""
        if end < 0:
            self._drop_unfinished("gl200 report", "'$'")
            return None
        if end + 1 > self._max:
            del self._buf[: end + 1]
            raise FrameError(f"gl200 report of {end + 1} bytes exceeds {self._max}")
        keep = end + 1 if self._buf[end] == ord("$") else end
        frame = bytes(self._buf[:keep])
        del self._buf[: end + 1]
        return frame
