"""Teltonika over TCP (and UDP datagrams): IMEI handshake, Codec 7/8/8E/16 data, Codec 12/13.

Session (reference section 1.4): the device first sends ``00 0F`` + its IMEI in ASCII and we
answer ``01``; then AVL packets ``00000000 <len:4> <codec> <n> records <n> <crc:4>`` which we
acknowledge with the record count as a 4-byte integer. The data packets do not repeat the
IMEI, so ``decode`` takes the identity learnt from the handshake as ``device_id``.
Commands travel as Codec 12 text (type 5); the device answers with Codec 12 type 6, or
Codec 13 (with a timestamp), which become COMMAND_RESULT records. A Codec 13 ``GTSL|...``
driver card report is a STATUS record with Traccar's ``driverUniqueId`` instead. Codec 12
types in IGNORED_MESSAGES (the camera's photo transfer) are recognised, framed and
recorded as OTHER, and not acted on. GH3000 trackers send Codec 7 (teltonika_gh3000).

The 16-byte IO group some Codec 8 firmware sends after the 8-byte group is Traccar's
per-port ``extended`` setting. The console needs no such setting, which an operator would
have to know about: a CRC-valid packet whose records do not add up in the standard layout
is read again with the group, and kept only if that reading ends exactly where the data
ends (see ``_avl_records``). A standard packet is never read the other way.

The CRC is CRC-16/IBM over codec id … second count. Traccar never checks it; we do by
default, and ``strict=False`` decodes anyway and marks the records ``checksum_ok=False``.
The same holds for a length field that disagrees with the frame: refused strictly, read
leniently as Traccar reads it (``_decode_lying_length``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime

from app.integrations.iot.codecs.crc16 import crc16_ibm
from app.integrations.iot.codecs.framing import StreamFramer
from app.integrations.iot.codecs.teltonika_avl import AVL_CODECS, read_avl_records
from app.integrations.iot.codecs.teltonika_gh3000 import CODEC_GH3000, read_gh3000_records
from app.integrations.iot.codecs.teltonika_reader import Reader
from app.integrations.iot.device_ids import check_imei
from app.integrations.iot.records import DecodeResult, DeviceRecord, FrameError, RecordKind

logger = logging.getLogger(__name__)

NAME = "teltonika"
KEEPALIVE = b"\xff"
IMEI_ACCEPT = b"\x01"
IMEI_REJECT = b"\x00"
CODEC_12 = 0x0C
CODEC_13 = 0x0D
COMMAND_TYPE = 0x05
RESPONSE_TYPE = 0x06
CAMERA_TYPE = 0x0D
# Codec 12 message types the console recognises and deliberately does not act on.
IGNORED_MESSAGES: Mapping[int, str] = {
    CAMERA_TYPE: "camera photo transfer: Traccar requests the picture in chunks and stores "
    "it; the console stores no media and requests no chunks (no ACK is due)",
}
_CODEC12_TYPES = frozenset({COMMAND_TYPE, RESPONSE_TYPE, *IGNORED_MESSAGES})
# Codec 13 'GTSL|...' text reports a driver card; its fifth field is the driver's id.
_DRIVER_ID_PREFIX = "GTSL"
_DRIVER_ID_FIELD = 4
_PREAMBLE = b"\x00\x00\x00\x00"
_KNOWN_CODECS = frozenset(AVL_CODECS | {CODEC_12, CODEC_13, CODEC_GH3000})
# The framer cuts handshakes of 10..17 digits so the stream stays in step; decode then
# accepts only a 15-digit IMEI and refuses the rest with a FrameError that says why.
_IMEI_LENGTHS = range(10, 18)
_MIN_DATA_LENGTH = 3  # codec id + two record counts
_MAX_COMMAND_LENGTH = 512
_YEAR_2000 = 946_684_800
_YEAR_2100 = 4_102_444_800

# Action -> Codec 12 text. TST100 scooter IoT (reference 1.3): ``sclockctrl 1`` locks,
# ``sclockctrl 0`` unlocks. Car trackers drive a relay on DOUT1 instead (Traccar's
# engineStop/engineResume), hence the second profile.
SCOOTER_COMMANDS: Mapping[str, str] = {
    "lock": "sclockctrl 1",
    "unlock": "sclockctrl 0",
    "locate": "getgps",
}
RELAY_COMMANDS: Mapping[str, str] = {
    "lock": "setdigout 1",
    "unlock": "setdigout 0",
    "locate": "getgps",
}


def _is_imei_handshake(buf: bytes | bytearray, at: int = 0) -> bool:
    length = int.from_bytes(buf[at : at + 2], "big")
    body = bytes(buf[at + 2 : at + 2 + length])
    return length in _IMEI_LENGTHS and len(body) == length and body.isdigit()


def _plausible_header(buf: bytearray, at: int) -> bool:
    """Checks on the bytes after a packet's length that are cheap and already received.

    They keep noise that happens to hold four zero bytes from being taken for a packet:
    a known codec, at least one record, a Codec 12/13 message type of 5 or 6 (or a
    Codec 12 type in IGNORED_MESSAGES), and an AVL timestamp before 2100 (Codec 7 time
    cannot pass it).
    """
    codec = buf[at + 8]
    if codec not in _KNOWN_CODECS or (len(buf) > at + 9 and buf[at + 9] == 0):
        return False
    if codec in (CODEC_12, CODEC_13):
        types = _CODEC12_TYPES if codec == CODEC_12 else (COMMAND_TYPE, RESPONSE_TYPE)
        return len(buf) <= at + 10 or buf[at + 10] in types
    if codec == CODEC_GH3000:  # 30 bits of seconds from 2007 end in 2041
        return True
    stamp = buf[at + 10 : at + 18]
    return len(stamp) < 8 or int.from_bytes(stamp, "big") < _YEAR_2100 * 1000


def _avl_crc_ok(frame: bytes | bytearray) -> bool:
    return crc16_ibm(bytes(frame[8:-4])) == int.from_bytes(frame[-4:], "big")


class TeltonikaFramer(StreamFramer):
    """Cuts IMEI handshakes, keep-alive bytes and AVL packets out of a TCP stream.

    Anything that is not the start of one of those is skipped a byte at a time. A header
    whose frame is not complete yet is waited for, unless a complete CRC-valid packet
    already sits further on: then the header was garbage and we jump to it. (Handshakes are
    not looked for that way: ``00 0F`` + 15 digits can sit inside a Codec 12 reply.) After a
    FrameError the offending byte is gone, so feeding on continues with what follows.
    """

    def _cut(self) -> bytes | None:
        if not self._buf:
            return None
        size = self._frame_size()
        if size is None:
            return None
        if size > 0:
            return self._take(size)
        del self._buf[: -size or 1]
        return b""

    def _frame_size(self) -> int | None:
        """Size of the frame at the buffer start; <= 0 means skip that many (0: one) bytes."""
        buf = self._buf
        if buf[0] == KEEPALIVE[0]:
            return 1
        if len(buf) < 2:
            return None
        head = int.from_bytes(buf[:2], "big")
        if head:
            body = bytes(buf[2 : 2 + head])
            if head not in _IMEI_LENGTHS or (body and not body.isdigit()):
                return 0
            return head + 2 if len(body) == head else None
        if len(buf) >= 3 and any(buf[2:4]):
            return 0
        if len(buf) < 9:
            return None
        total = int.from_bytes(buf[4:8], "big") + 12
        if total - 12 < _MIN_DATA_LENGTH or not _plausible_header(buf, 0):
            return 0
        if total > self._max:
            del buf[:1]
            raise FrameError(f"Teltonika packet declares {total} bytes, over the {self._max} limit")
        if len(buf) < total:
            return -self._next_valid(1, len(buf)) or None
        if _avl_crc_ok(buf[:total]):
            return total
        return -self._next_valid(1, total) or total

    def _next_valid(self, start: int, end: int) -> int:
        """Offset of the first complete, valid frame starting in ``[start, end)``; 0 if none."""
        buf = self._buf
        at = buf.find(_PREAMBLE, start, end + 3)
        while 0 <= at < end and len(buf) >= at + 9:
            total = int.from_bytes(buf[at + 4 : at + 8], "big") + 12
            if (
                _MIN_DATA_LENGTH + 12 <= total <= min(self._max, len(buf) - at)
                and _plausible_header(buf, at)
                and _avl_crc_ok(buf[at : at + total])
            ):
                return at
            at = buf.find(_PREAMBLE, at + 1, end + 3)
        return 0


class TeltonikaCodec:
    """Codec 7/8/8E/16 data, Codec 12/13 text; ``commands`` maps our actions to Codec 12 text."""

    name = NAME

    def __init__(self, commands: Mapping[str, str] = SCOOTER_COMMANDS) -> None:
        self._commands = dict(commands)

    def framer(self, max_frame: int = 4096) -> TeltonikaFramer:
        return TeltonikaFramer(max_frame)

    def decode(
        self, frame: bytes, *, device_id: str | None = None, strict: bool = True
    ) -> DecodeResult:
        frame = bytes(frame)
        if frame == KEEPALIVE:
            keepalive = DeviceRecord(
                NAME, RecordKind.OTHER, device_id, frame, attributes={"keepalive": True}
            )
            return DecodeResult((keepalive,))
        if len(frame) < 2:
            raise FrameError(f"Teltonika frame of {len(frame)} byte(s) is too short")
        if frame[:2] != b"\x00\x00":
            if _is_imei_handshake(frame) and len(frame) == int.from_bytes(frame[:2], "big") + 2:
                imei = check_imei(frame[2:].decode("ascii"), NAME)
                login = DeviceRecord(NAME, RecordKind.LOGIN, imei, frame)
                return DecodeResult((login,), ack=IMEI_ACCEPT)
            return _decode_udp(frame, strict=strict)
        return _decode_tcp(frame, device_id=device_id, strict=strict)

    def encode_command(self, device_id: str, action: str, *, sequence: int = 0) -> bytes:
        """Codec 12 packet for ``action``; the TCP session already identifies the device."""
        try:
            text = self._commands[action]
        except KeyError:
            known = ", ".join(sorted(self._commands))
            raise ValueError(f"Teltonika does not support {action!r}; supported: {known}") from None
        return encode_codec12(text)


def encode_codec12(text: str, *, message_type: int = COMMAND_TYPE) -> bytes:
    """A Codec 12 packet carrying ``text``: type 5 is a server command, 6 a device reply."""
    try:
        payload = text.encode("ascii")
    except UnicodeEncodeError:
        raise ValueError("Codec 12 command text must be ASCII") from None
    if not payload or len(payload) > _MAX_COMMAND_LENGTH:
        raise ValueError(f"Codec 12 text must be 1..{_MAX_COMMAND_LENGTH} bytes")
    body = bytes([CODEC_12, 1, message_type]) + len(payload).to_bytes(4, "big") + payload + b"\x01"
    return wrap_tcp(body)


def wrap_tcp(body: bytes) -> bytes:
    """Preamble, length and CRC around a codec body (codec id … second count)."""
    return _PREAMBLE + len(body).to_bytes(4, "big") + body + crc16_ibm(body).to_bytes(4, "big")


def _decode_tcp(frame: bytes, *, device_id: str | None, strict: bool) -> DecodeResult:
    if len(frame) < 12 + _MIN_DATA_LENGTH or frame[:4] != _PREAMBLE:
        raise FrameError("not a Teltonika AVL packet (no 00000000 preamble)")
    declared = int.from_bytes(frame[4:8], "big")
    length_ok = declared == len(frame) - 12
    length_message = f"AVL length field says {declared} bytes, frame carries {len(frame) - 12}"
    if not length_ok:
        if strict:
            raise FrameError(length_message)
        logger.debug("lenient decode: %s", length_message)  # Traccar reads the records anyway
    checksum_ok = length_ok and _avl_crc_ok(frame)
    if not checksum_ok:
        message = (
            f"CRC-16/IBM mismatch: frame has {int.from_bytes(frame[-4:], 'big'):#06x}, "
            f"data gives {crc16_ibm(frame[8:-4]):#06x}"
        )
        if strict:
            raise FrameError(message)
        logger.debug("lenient decode: %s", message)
    if length_ok:
        records, is_data = _decode_body(
            frame[8:-4], device_id=device_id, raw=frame, checksum_ok=checksum_ok, strict=strict
        )
    else:
        records, is_data = _decode_lying_length(frame, declared, device_id, length_message)
    ack = len(records).to_bytes(4, "big") if is_data else b""
    return DecodeResult(tuple(records), ack=ack)


def _decode_lying_length(
    frame: bytes, declared: int, device_id: str | None, length_message: str
) -> tuple[list[DeviceRecord], bool]:
    """Lenient decode of a packet whose length field disagrees with the frame.

    Traccar parses such a packet from its start and never looks at the length or the CRC.
    The body the length field marks is tried first (a frame cut short inside its CRC still
    holds all of it), then everything up to the last four bytes (a length field that is
    zero or too big). A reading counts only if its records end where that body does; the
    records are marked ``checksum_ok=False``, as nothing could be verified.
    """
    bodies = [frame[8:-4]]
    if _MIN_DATA_LENGTH <= declared <= len(frame) - 8:
        bodies.insert(0, frame[8 : 8 + declared])
    problems = []
    for body in bodies:
        try:
            records, is_data = _decode_body(
                body, device_id=device_id, raw=frame, checksum_ok=False, strict=False
            )
        except FrameError as error:
            problems.append(str(error))
            continue
        if records:
            return records, is_data
    raise FrameError("; ".join([length_message, *problems]))


def _decode_udp(frame: bytes, *, strict: bool) -> DecodeResult:
    """UDP datagram: length, packet id, type 01, AVL packet id, IMEI, then a codec body, no CRC."""
    r = Reader(frame)
    if r.uint(2) != len(frame) - 2 or len(frame) < 12:
        raise FrameError("neither an IMEI handshake nor a Teltonika UDP datagram")
    packet_id = r.take(2)
    r.uint(1)  # packet type, 01 = data without ack request; we answer either way
    avl_packet_id = r.uint(1)
    imei = check_imei(r.take(r.uint(2)).decode("latin-1"), NAME)
    records, is_data = _decode_body(
        frame[r.pos :], device_id=imei, raw=frame, checksum_ok=True, strict=strict
    )
    ack = b""
    if is_data:
        ack = b"\x00\x05" + packet_id + b"\x01" + bytes([avl_packet_id, len(records) & 0xFF])
    return DecodeResult(tuple(records), ack=ack)


def _decode_body(
    body: bytes, *, device_id: str | None, raw: bytes, checksum_ok: bool, strict: bool
) -> tuple[list[DeviceRecord], bool]:
    """Records of one codec body, and whether it was AVL data (which wants an ACK)."""
    if len(body) < _MIN_DATA_LENGTH:
        raise FrameError("AVL body too short")
    codec, count = body[0], body[1]
    if body[-1] != count:
        raise FrameError(f"record counts disagree: {count} at the start, {body[-1]} at the end")
    reader = Reader(body[:-1], 2)
    if codec in AVL_CODECS:
        return _avl_records(reader, codec, count, device_id, raw, checksum_ok), True
    if codec == CODEC_GH3000:
        records = read_gh3000_records(
            reader, count, device_id=device_id, raw=raw, checksum_ok=checksum_ok
        )
        _check_consumed(reader, "Codec 7 records")
        return records, True
    if codec in (CODEC_12, CODEC_13):
        return _text_records(reader, codec, count, device_id, raw, checksum_ok, strict), False
    raise FrameError(f"unsupported Teltonika codec {codec:#04x}")


def _avl_records(
    reader: Reader, codec: int, count: int, device_id: str | None, raw: bytes, checksum_ok: bool
) -> list[DeviceRecord]:
    """AVL records in the standard layout, else (verified frames only) with a 16-byte IO group.

    Traccar reads the 16-byte group only when an operator sets ``extended`` for the port.
    We rather recognise it: a packet whose checksum holds (or a UDP datagram, which has
    none but whose length is checked) but whose records do not add up in the standard
    layout is read again with the group, and that reading counts only if its records end
    exactly where the data does (the record count is already checked at both ends). A
    standard packet never reaches the second reading, and one that fits neither layout is
    refused with the first reading's error.
    """
    try:
        records = read_avl_records(
            reader, codec, count, device_id=device_id, raw=raw, checksum_ok=checksum_ok
        )
        _check_consumed(reader, "AVL records")
        return records
    except FrameError as standard_error:
        if not checksum_ok:
            raise
        retry = Reader(reader.data, 2)
        try:
            records = read_avl_records(
                retry,
                codec,
                count,
                device_id=device_id,
                raw=raw,
                checksum_ok=checksum_ok,
                sixteen_byte_group=True,
            )
            _check_consumed(retry, "AVL records with a 16-byte IO group")
        except FrameError:
            raise standard_error from None
    logger.debug("Codec %#04x packet read with a 16-byte IO group", codec)
    return records


def _check_consumed(reader: Reader, what: str) -> None:
    if reader.pos != len(reader.data):
        raise FrameError(f"{len(reader.data) - reader.pos} stray byte(s) after {what}")


def _text_records(
    r: Reader,
    codec: int,
    count: int,
    device_id: str | None,
    raw: bytes,
    checksum_ok: bool,
    strict: bool,
) -> list[DeviceRecord]:
    """Codec 12/13 messages: type, size, [timestamp: 4 in Codec 13], text."""
    records = []
    for _ in range(count):
        message_type = r.uint(1)
        size = r.uint(4)
        if count == 1 and not strict:
            size = len(r.data) - r.pos  # hand-edited frames whose size field lies
        data = r.take(size)
        fix_time = None
        if codec == CODEC_13:
            if len(data) < 4:
                raise FrameError("Codec 13 message shorter than its timestamp")
            fix_time, data = _codec13_time(data)
        records.append(
            _text_record(codec, message_type, data, fix_time, device_id, raw, checksum_ok)
        )
    _check_consumed(r, f"Codec {codec} text")
    return records


def _text_record(
    codec: int,
    message_type: int,
    data: bytes,
    fix_time: datetime | None,
    device_id: str | None,
    raw: bytes,
    checksum_ok: bool,
) -> DeviceRecord:
    """One Codec 12/13 message: a command answer, unless it is a message named otherwise."""
    attributes: dict[str, object] = {"codec": codec, "type": message_type}
    if codec == CODEC_12 and message_type in IGNORED_MESSAGES:
        attributes["ignored"] = IGNORED_MESSAGES[message_type]
        attributes["content"] = data.hex()
        return DeviceRecord(
            NAME, RecordKind.OTHER, device_id, raw, checksum_ok=checksum_ok, attributes=attributes
        )
    text = data.decode("utf-8", errors="replace").rstrip("\r\n\x00")
    fields = text.split("|")
    if codec == CODEC_13 and fields[0] == _DRIVER_ID_PREFIX and len(fields) > _DRIVER_ID_FIELD:
        # A tachograph / driver card report the device sends on its own, not an answer.
        attributes["driverUniqueId"] = fields[_DRIVER_ID_FIELD]
        return DeviceRecord(
            NAME,
            RecordKind.STATUS,
            device_id,
            raw,
            fix_time=fix_time,
            checksum_ok=checksum_ok,
            attributes=attributes,
        )
    return DeviceRecord(
        NAME,
        RecordKind.COMMAND_RESULT,
        device_id,
        raw,
        fix_time=fix_time,
        command_result=text,
        checksum_ok=checksum_ok,
        attributes=attributes,
    )


def _codec13_time(data: bytes) -> tuple[datetime, bytes]:
    """Codec 13 stamps replies with 4-byte epoch seconds; some firmware writes 8-byte
    milliseconds instead, which read as seconds lands in 1970, so we try that reading."""
    seconds = int.from_bytes(data[:4], "big")
    if seconds < _YEAR_2000 and len(data) >= 8:
        millis = int.from_bytes(data[:8], "big")
        if _YEAR_2000 <= millis // 1000 < _YEAR_2100:
            return datetime.fromtimestamp(millis / 1000, UTC), data[8:]
    return datetime.fromtimestamp(seconds, UTC), data[4:]


CODEC = TeltonikaCodec()
