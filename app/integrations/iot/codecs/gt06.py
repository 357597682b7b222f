"""GT06 (Concox / Jimi IoT and clones): binary frames ``7878``/``7979`` … ``0D0A``.

Frame: start (2), length (1 for ``7878``, 2 for ``7979``), protocol number, content,
serial number (2), CRC-ITU (2) over length … serial, stop ``0D0A`` (reference section 1.6).
The login (0x01) carries the IMEI; later frames do not, so ``decode`` takes it back as
``device_id``. We answer data messages by echoing protocol number and serial number
(``78 78 05 <type> <serial> <crc> 0D 0A``): devices resend until they see their own serial.
Commands go out as 0x80 packets carrying text such as ``Relay,1#``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from app.integrations.iot.codecs.crc16 import crc_itu
from app.integrations.iot.codecs.framing import StreamFramer
from app.integrations.iot.codecs.gt06_extended import EXTENDED_DATA_TYPES, parse_extended
from app.integrations.iot.codecs.gt06_messages import (
    COMMAND_TYPES,
    DATA_TYPES,
    MSG_COMMAND,
    MSG_LOGIN,
    MSG_TIME_REQUEST,
    WIFI_TYPES,
    parse_content,
)
from app.integrations.iot.device_ids import check_imei
from app.integrations.iot.records import DecodeResult, DeviceRecord, FrameError, RecordKind

logger = logging.getLogger(__name__)

NAME = "gt06"
SHORT_START = b"\x78\x78"
LONG_START = b"\x79\x79"
STOP = b"\r\n"
_MIN_LENGTH_FIELD = 5  # protocol number + serial + CRC
_MIN_FRAME = 10
_ACKED_EXTENDED_TYPES = DATA_TYPES | EXTENDED_DATA_TYPES  # the long frames we answer

# Action -> 0x80 command text. Relay,1# cuts oil/electricity (Traccar engineStop), which is
# how a GT06 in a car "locks" it; WHERE# asks for a position reply.
RELAY_COMMANDS: Mapping[str, str] = {
    "lock": "Relay,1#",
    "unlock": "Relay,0#",
    "locate": "WHERE#",
}


def frame_crc_ok(frame: bytes | bytearray) -> bool:
    """Whether the CRC-ITU in a whole frame matches length … serial."""
    return crc_itu(bytes(frame[2:-4])) == int.from_bytes(frame[-4:-2], "big")


def build_packet(msg_type: int, content: bytes, serial: int, *, extended: bool = False) -> bytes:
    """One GT06 frame around ``content``, with length, serial and CRC filled in."""
    length = len(content) + _MIN_LENGTH_FIELD
    if extended:
        head = LONG_START + length.to_bytes(2, "big")
    elif length <= 0xFF:
        head = SHORT_START + bytes([length])
    else:
        raise ValueError(f"content of {len(content)} bytes needs an extended (7979) packet")
    body = head[2:] + bytes([msg_type]) + content + (serial & 0xFFFF).to_bytes(2, "big")
    return head[:2] + body + crc_itu(body).to_bytes(2, "big") + STOP


class Gt06Framer(StreamFramer):
    """Cuts frames by their length field, falling back to the ``0D0A`` stop like Traccar.

    Some firmware writes a wrong length (the corpus has a 0x69 Wi-Fi packet declaring 3
    bytes), so a length under the minimum, or one that does not land on ``0D0A``, makes us
    take the first ``0D0A`` instead. Garbage before a start marker is dropped; a
    candidate that fails its CRC, or waits for bytes, gives way to a complete CRC-valid
    frame that starts inside it, which is how a false start in noise is escaped. After a
    FrameError the offending start byte is gone, so feeding on continues with what follows.
    """

    def _cut(self) -> bytes | None:
        start = _find_start(self._buf, 0)
        if start < 0:
            keep = 1 if self._buf[-1:] in (b"\x78", b"\x79") else 0
            del self._buf[: len(self._buf) - keep]
            return None
        del self._buf[:start]
        end = self._frame_end()
        if end is None:
            return None
        if end > 0:
            return self._take(end)
        del self._buf[:-end]
        return b""

    def _frame_end(self) -> int | None:
        """End of the frame at the buffer start; negative: skip that many bytes; None: wait."""
        buf = self._buf
        if len(buf) < 5:
            return None
        field, declared = _header(buf, 0) or (0, 0)
        plausible = field >= _MIN_LENGTH_FIELD
        if plausible and declared > self._max:
            del buf[:1]
            raise FrameError(f"GT06 frame declares {declared} bytes, over the {self._max} limit")
        if plausible and len(buf) < declared:
            following = self._next_valid(len(buf))
            return self._cut_before(following) if following else self._short_frame_end()
        if plausible and buf[declared - 2 : declared] == STOP:
            end = declared
        else:
            stop = buf.find(STOP, 4)
            if stop < 0:
                if len(buf) > self._max:
                    del buf[:1]
                    raise FrameError(f"no GT06 stop bytes within {self._max} bytes")
                return None
            end = stop + 2
            if end > self._max:
                del buf[:1]
                raise FrameError(f"GT06 frame of {end} bytes is over the {self._max} limit")
        if frame_crc_ok(buf[:end]):
            return end
        following = self._next_valid(end)
        return self._cut_before(following) if following else end

    def _cut_before(self, following: int) -> int:
        """A valid frame starts at ``following``: what precedes it is a frame if it ends in
        ``0D0A`` (its length field lied), else garbage to skip."""
        return following if self._buf[following - 2 : following] == STOP else -following

    def _short_frame_end(self) -> int | None:
        """End of a frame shorter than its length field says, or None to wait for more.

        Traccar cuts at the first ``0D0A`` here (its framing test has a login whose length
        field overstates it). Binary content can hold ``0D0A`` too, so we cut only where
        the bytes up to it pass their CRC, or, for a login (the device waits for its ACK,
        so nothing else would ever arrive), where that ``0D0A`` ends all bytes received.
        """
        buf = self._buf
        is_login = buf[3 if buf[0] == SHORT_START[0] else 4] == MSG_LOGIN
        stop = buf.find(STOP, 4)
        while stop >= 0:
            end = stop + 2
            if frame_crc_ok(buf[:end]) or (is_login and end == len(buf)):
                return end
            stop = buf.find(STOP, stop + 1)
        return None

    def _next_valid(self, limit: int) -> int:
        """Start of the first complete CRC-valid frame beginning in ``(0, limit)``; 0 if none."""
        buf = self._buf
        at = _find_start(buf, 1)
        while 0 < at < limit:
            field, size = _header(buf, at) or (0, 0)
            end = at + size
            if (
                field >= _MIN_LENGTH_FIELD
                and end <= len(buf)
                and end - at <= self._max
                and buf[end - 2 : end] == STOP
                and frame_crc_ok(buf[at:end])
            ):
                return at
            at = _find_start(buf, at + 1)
        return 0


def _header(buf: bytearray, at: int) -> tuple[int, int] | None:
    """(length field, declared frame size) of the frame starting at ``at``; None if cut short."""
    extended = buf[at] == LONG_START[0]
    end = at + (4 if extended else 3)
    if len(buf) < end:
        return None
    field = int.from_bytes(buf[at + 2 : end], "big")
    return field, field + (6 if extended else 5)


def _find_start(buf: bytearray, begin: int) -> int:
    short, long = buf.find(SHORT_START, begin), buf.find(LONG_START, begin)
    if short < 0 or long < 0:
        return max(short, long)
    return min(short, long)


class Gt06Codec:
    """GT06 decoding and 0x80 commands; ``clock`` answers time requests (0x8A)."""

    name = NAME

    def __init__(
        self,
        commands: Mapping[str, str] = RELAY_COMMANDS,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._commands = dict(commands)
        self._clock = clock

    def framer(self, max_frame: int = 4096) -> Gt06Framer:
        return Gt06Framer(max_frame)

    def decode(
        self, frame: bytes, *, device_id: str | None = None, strict: bool = True
    ) -> DecodeResult:
        frame = bytes(frame)
        if len(frame) < _MIN_FRAME or frame[-2:] != STOP:
            raise FrameError("not a GT06 frame (too short or no 0D0A stop)")
        if frame[:2] == SHORT_START:
            extended, header = False, 3
            declared = frame[2] + 5
        elif frame[:2] == LONG_START:
            extended, header = True, 4
            declared = int.from_bytes(frame[2:4], "big") + 6
        else:
            raise FrameError(f"GT06 frame starts with {frame[:2].hex()}, not 7878 or 7979")
        if len(frame) < header + 7:
            raise FrameError("GT06 frame too short for protocol number, serial and CRC")
        msg_type = frame[header]
        if not extended and msg_type in WIFI_TYPES and frame[2] != 0x28 and not frame_crc_ok(frame):
            return self._wifi(frame, device_id)
        checksum_ok = frame_crc_ok(frame)
        if not checksum_ok:
            crc = crc_itu(frame[2:-4])
            message = f"CRC-ITU mismatch: frame has {frame[-4:-2].hex()}, data gives {crc:04x}"
            if strict:
                raise FrameError(message)
            logger.debug("lenient decode: %s", message)
        content = frame[header + 1 : -6]
        serial = int.from_bytes(frame[-6:-4], "big")
        if msg_type == MSG_LOGIN:
            return self._login(frame, content, serial, checksum_ok)
        if extended:
            parsed = parse_extended(msg_type, content)
        else:
            parsed = parse_content(msg_type, content, frame[2])
        parsed.attributes["index"] = serial  # not "serial": Traccar's key for an RFID line
        if declared != len(frame):  # firmware quirk the framer tolerates; the CRC still held
            parsed.attributes["lengthMismatch"] = True
        record = DeviceRecord(
            protocol=NAME,
            device_id=device_id,
            raw=frame,
            checksum_ok=checksum_ok,
            **parsed.record_fields(),
        )
        return DecodeResult((record,), ack=self._ack(msg_type, serial, extended))

    def _wifi(self, frame: bytes, device_id: str | None) -> DecodeResult:
        """0x69 / 0x17 Wi-Fi scans: this layout has no serial and no CRC (its length byte
        counts access points), so there is nothing to verify; Traccar accepts them too."""
        parsed = parse_content(frame[3], frame[4:-2], frame[2])
        parsed.attributes["noChecksum"] = True
        record = DeviceRecord(NAME, device_id=device_id, raw=frame, **parsed.record_fields())
        return DecodeResult((record,))

    def _login(self, frame: bytes, content: bytes, serial: int, checksum_ok: bool) -> DecodeResult:
        if len(content) < 8:
            raise FrameError("GT06 login shorter than its 8-byte IMEI")
        imei = check_imei(content[:8].hex()[1:], NAME)  # a nibble over 9 is not a digit
        attributes: dict[str, object] = {"index": serial}
        if len(content) >= 10:
            attributes["modelCode"] = content[8:10].hex()
        record = DeviceRecord(
            NAME, RecordKind.LOGIN, imei, frame, checksum_ok=checksum_ok, attributes=attributes
        )
        return DecodeResult((record,), ack=build_packet(MSG_LOGIN, b"", serial))

    def _ack(self, msg_type: int, serial: int, extended: bool) -> bytes:
        if msg_type == MSG_TIME_REQUEST:
            now = self._clock().astimezone(UTC)
            clock = bytes([now.year - 2000, now.month, now.day, now.hour, now.minute, now.second])
            return build_packet(MSG_TIME_REQUEST, clock, 0)
        if msg_type in COMMAND_TYPES or (extended and msg_type not in _ACKED_EXTENDED_TYPES):
            return b""
        return build_packet(msg_type, b"", serial)

    def encode_command(self, device_id: str, action: str, *, sequence: int = 0) -> bytes:
        """0x80 packet for ``action``; ``sequence`` becomes the packet's serial number."""
        try:
            text = self._commands[action]
        except KeyError:
            known = ", ".join(sorted(self._commands))
            raise ValueError(f"GT06 does not support {action!r}; supported: {known}") from None
        return encode_text_command(text, serial=sequence)


def encode_text_command(text: str, *, serial: int = 0, server_flag: int = 0) -> bytes:
    """A 0x80 command packet: command length, 4-byte server flag, ASCII text."""
    try:
        payload = server_flag.to_bytes(4, "big") + text.encode("ascii")
    except UnicodeEncodeError:
        raise ValueError("GT06 command text must be ASCII") from None
    if not text or len(payload) > 0xFF - _MIN_LENGTH_FIELD - 1:
        raise ValueError("GT06 command text must be 1..245 bytes")
    return build_packet(MSG_COMMAND, bytes([len(payload)]) + payload, serial)


CODEC = Gt06Codec()
