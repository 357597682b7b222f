"""JT/T 808 (Traccar's ``huabao``): the Chinese national terminal protocol, frames ``7E … 7E``.

Wire frame: ``7E``, then the escaped message, then ``7E``. Inside, ``7D 02`` stands for
``7E`` and ``7D 01`` for ``7D``. The unescaped message is a header, the body and a
one-byte XOR of header and body. The header is:

- message id (2) and attributes (2): body length in bits 0-9, encryption in bits 10-12,
  subpackage in bit 13, and the 2019 version flag in bit 14;
- with the 2019 flag, a protocol-version byte and a 10-byte BCD terminal phone number;
  otherwise a 6-byte BCD phone number;
- serial number (2), or 1 byte for the 0x5501/0x5502 messages of JT600 clones;
- with the subpackage bit set, the package count (2) and this package's index (2).

The device id is the phone number, as Traccar takes it: the 12 BCD digits of a 2013
header verbatim. A terminal that puts a binary IMEI (14 digits, no check digit) where
the BCD phone belongs is named by that IMEI with its Luhn digit, as Traccar does. A
2019 header's 20 digits lose their leading zeros down to 12, so a terminal keeps its id
when its firmware moves to the 2019 header.

The platform answers with 0x8001 (general response) and 0x8100 (registration, with the
auth code the terminal then sends in 0x0102). Commands: 0x8105 terminal control (Traccar's
engineStop 0xF0 / engineResume 0xF1 = lock / unlock) and 0x8201 position query (locate);
the terminal confirms with 0x0001 and a later report shows the blocked bit (status bit
10, oil/circuit cut) that makes the lock state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from stdnum import luhn

from app.integrations.iot.codecs.framing import StreamFramer
from app.integrations.iot.codecs.jt808_items import (
    IGNORED_MESSAGES,
    parse_location,
    parse_location_batch,
)
from app.integrations.iot.device_ids import check_device_id
from app.integrations.iot.records import DecodeResult, DeviceRecord, FrameError, RecordKind

logger = logging.getLogger(__name__)

NAME = "jt808"
FLAG = 0x7E
ESCAPE = 0x7D

MSG_TERMINAL_RESPONSE = 0x0001
MSG_HEARTBEAT = 0x0002
MSG_REGISTER = 0x0100
MSG_AUTH = 0x0102
MSG_TIME_SYNC = 0x0109
MSG_LOCATION = 0x0200
MSG_QUERY_ANSWER = 0x0201
MSG_BATCH = 0x0704
MSG_GENERAL_RESPONSE = 0x8001
MSG_REGISTER_RESPONSE = 0x8100
MSG_TIME_SYNC_RESPONSE = 0x8109
MSG_TERMINAL_CONTROL = 0x8105
MSG_POSITION_QUERY = 0x8201
_SHORT_SERIAL = frozenset({0x5501, 0x5502})  # JT600 clones: 1-byte serial
_LENGTH_MASK = 0x03FF
_ENCRYPTED = 0x1C00
_SUBPACKAGE = 0x2000
_VERSION_2019 = 0x4000
_MIN_MESSAGE = 13  # 2013 header (12) + checksum

# Action -> (platform message, body): Traccar's HuabaoProtocolEncoder control words.
COMMANDS: Mapping[str, tuple[int, bytes]] = {
    "lock": (MSG_TERMINAL_CONTROL, b"\xf0"),
    "unlock": (MSG_TERMINAL_CONTROL, b"\xf1"),
    "locate": (MSG_POSITION_QUERY, b""),
}
_RESULTS = {0: "ok", 1: "failed", 2: "wrong message", 3: "not supported", 4: "alarm confirmed"}


def unescape(data: bytes) -> bytes:
    """The message between the flags with ``7D 02``/``7D 01`` turned back into 7E/7D."""
    if ESCAPE not in data:
        return data
    return data.replace(b"\x7d\x02", b"\x7e").replace(b"\x7d\x01", b"\x7d")


def escape(data: bytes) -> bytes:
    return data.replace(b"\x7d", b"\x7d\x01").replace(b"\x7e", b"\x7d\x02")


def xor(data: bytes) -> int:
    """XOR of all bytes, folded in big-integer halves (a byte loop is the decoder's cost)."""
    if not data:
        return 0
    value = int.from_bytes(data, "big")
    size = 1 << (len(data) - 1).bit_length()
    while size > 1:
        size //= 2
        shift = size * 8
        value = (value >> shift) ^ (value & ((1 << shift) - 1))
    return value


def terminal_address(device_id: str) -> tuple[bool, bytes]:
    """(2019 header?, phone bytes) that ``decode`` reads back as ``device_id``."""
    if not device_id.isdigit() or len(device_id) > 20:
        raise ValueError(f"JT/T 808 terminal id must be up to 20 digits, got {device_id!r}")
    if len(device_id) <= 12:
        return False, bytes.fromhex(device_id.zfill(12))
    if len(device_id) == 15 and luhn.calc_check_digit(device_id[:14]) == device_id[14]:
        binary = int(device_id[:14]).to_bytes(6, "big")
        if not binary.hex().isdigit():  # else it would read back as a BCD phone
            return False, binary
    return True, bytes.fromhex(device_id.zfill(20))


def build_message(
    msg_id: int, body: bytes, device_id: str, serial: int, *, package: tuple[int, int] | None = None
) -> bytes:
    """One escaped ``7E … 7E`` frame for ``device_id``, header form chosen by its id."""
    if len(body) > _LENGTH_MASK:
        raise ValueError(f"JT/T 808 body of {len(body)} bytes is over {_LENGTH_MASK}")
    v2019, phone = terminal_address(device_id)
    attributes = len(body) | (_VERSION_2019 if v2019 else 0) | (_SUBPACKAGE if package else 0)
    header = msg_id.to_bytes(2, "big") + attributes.to_bytes(2, "big")
    header += (b"\x01" if v2019 else b"") + phone + (serial & 0xFFFF).to_bytes(2, "big")
    if package:
        header += package[0].to_bytes(2, "big") + package[1].to_bytes(2, "big")
    message = header + body
    return bytes([FLAG]) + escape(message + bytes([xor(message)])) + bytes([FLAG])


class Jt808Framer(StreamFramer):
    """Cuts ``7E … 7E`` frames; a ``(…)`` text sentence of Huabao clones is cut at ``)``.

    Two flags in a row are the end of one frame and the start of the next (some terminals
    share the flag), so an empty ``7E 7E`` is skipped rather than taken as a frame. A
    candidate whose checksum fails is still handed out (lenient decoding marks it), but
    its closing flag is kept as the possible start of the next frame, which is how a stray
    7E in line noise does not swallow the real frame after it.
    """

    def _cut(self) -> bytes | None:
        buf = self._buf
        start = buf.find(FLAG)
        text = buf.find(b"(")
        if 0 <= text < start or (start < 0 and text >= 0):
            del buf[:text]
            end = buf.find(b")")
            flag = buf.find(FLAG)
            if flag >= 0 and (end < 0 or flag < end):  # a stray "(" before a binary frame
                del buf[:flag]
                return b""
            if end < 0:
                self._drop_unfinished("JT/T 808 text sentence", "')'")
                return None
            return self._take(end + 1)
        if start < 0:
            buf.clear()
            return None
        del buf[:start]
        end = buf.find(FLAG, 1)
        if end < 0:
            self._drop_unfinished("JT/T 808 frame", "its closing 7E")
            return None
        if end == 1:
            del buf[:1]
            return b""
        if end + 1 > self._max:
            del buf[:end]
            raise FrameError(f"JT/T 808 frame of {end + 1} bytes is over the {self._max} limit")
        message = unescape(bytes(buf[1:end]))
        if xor(message[:-1]) == message[-1]:
            return self._take(end + 1)
        # No valid message: its closing flag may be the opening of the next frame (a stray
        # 7E in noise before a real frame), so it stays; the decoder refuses or marks this.
        return self._take(end) + bytes([FLAG])


class Header:
    """The fields of one message header, and where the body starts."""

    __slots__ = (
        "attributes",
        "body_at",
        "device_id",
        "msg_id",
        "package",
        "phone",
        "serial",
        "v2019",
    )

    def __init__(self, message: bytes) -> None:
        self.msg_id = int.from_bytes(message[0:2], "big")
        self.attributes = int.from_bytes(message[2:4], "big")
        self.v2019 = bool(self.attributes & _VERSION_2019)
        at = 5 if self.v2019 else 4
        size = 10 if self.v2019 else 6
        self.phone = message[at : at + size]
        at += size
        width = 1 if self.msg_id in _SHORT_SERIAL else 2
        self.serial = int.from_bytes(message[at : at + width], "big")
        at += width
        self.package: tuple[int, int] | None = None
        if self.attributes & _SUBPACKAGE:
            self.package = (
                int.from_bytes(message[at : at + 2], "big"),
                int.from_bytes(message[at + 2 : at + 4], "big"),
            )
            at += 4
        if len(message) < at + 1:
            raise FrameError(f"JT/T 808 message {self.msg_id:04x} too short for its header")
        self.body_at = at
        self.device_id = _device_id(self.phone, self.v2019)


def _device_id(phone: bytes, v2019: bool) -> str:
    digits = phone.hex()
    if v2019:
        if not digits.isdigit():
            raise FrameError(f"JT/T 808 2019 phone number is not BCD: {digits}")
        return digits.lstrip("0").zfill(12)
    if digits.isdigit():
        return digits
    imei = str(int.from_bytes(phone, "big"))
    return check_device_id(imei + luhn.calc_check_digit(imei), NAME)  # as Traccar does


class Jt808Codec:
    """JT/T 808 decoding, platform answers and terminal commands; ``clock`` answers 0x0109."""

    name = NAME

    def __init__(self, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._clock = clock

    def framer(self, max_frame: int = 4096) -> Jt808Framer:
        return Jt808Framer(max_frame)

    def decode(
        self, frame: bytes, *, device_id: str | None = None, strict: bool = True
    ) -> DecodeResult:
        frame = bytes(frame)
        if frame[:1] == b"(":
            return self._sentence(frame, device_id)
        if len(frame) < 2 + _MIN_MESSAGE or frame[0] != FLAG or frame[-1] != FLAG:
            raise FrameError("not a JT/T 808 frame (too short or no 7E flags)")
        message = unescape(frame[1:-1])
        checksum_ok = xor(message[:-1]) == message[-1]
        if not checksum_ok:
            text = f"XOR checksum mismatch: frame has {message[-1]:02x}, data gives "
            text += f"{xor(message[:-1]):02x}"
            if strict:
                raise FrameError(text)
            logger.debug("lenient decode: %s", text)
        header = Header(message)
        body = message[header.body_at : -1]
        records, ack = self._dispatch(header, body, frame, checksum_ok)
        declared = header.attributes & _LENGTH_MASK
        if declared != len(body):  # the checksum held, so the length field is what lies
            for record in records:
                record.attributes["lengthMismatch"] = declared
        return DecodeResult(records, ack=ack)

    def _dispatch(
        self, header: Header, body: bytes, frame: bytes, checksum_ok: bool
    ) -> tuple[tuple[DeviceRecord, ...], bytes]:
        msg_id, ident = header.msg_id, header.device_id
        attributes: dict[str, object] = {"type": msg_id, "serial": header.serial}

        def record(kind: RecordKind, **fields: object) -> DeviceRecord:
            extra = fields.pop("attributes", None)
            merged = {**attributes, **extra} if isinstance(extra, dict) else dict(attributes)
            return DeviceRecord(
                NAME,
                kind,
                ident,
                frame,
                checksum_ok=checksum_ok,
                attributes=merged,
                **fields,  # type: ignore[arg-type]
            )

        general = self._general_response(header)
        if msg_id in _SHORT_SERIAL:  # their attribute bits are JT600's, not 808's
            attributes["content"] = body.hex()
            attributes["ignored"] = IGNORED_MESSAGES[msg_id]
            return (record(RecordKind.OTHER),), b""
        if header.attributes & _ENCRYPTED or header.package:
            attributes["content"] = body.hex()
            if header.package:
                attributes["package"] = f"{header.package[1]}/{header.package[0]}"
                attributes["ignored"] = "subpackage; terminals send it only for media/bulk data"
            else:
                attributes["ignored"] = "RSA-encrypted body; no platform key is configured"
            return (record(RecordKind.OTHER),), general
        if msg_id == MSG_REGISTER:
            return (record(RecordKind.LOGIN, attributes=_registration(body)),), self._registered(
                header
            )
        if msg_id == MSG_AUTH:
            code = body.rstrip(b"\x00").decode("ascii", "replace")
            return (record(RecordKind.LOGIN, attributes={"authCode": code}),), general
        if msg_id == MSG_HEARTBEAT:
            return (record(RecordKind.STATUS),), general
        if msg_id == MSG_TERMINAL_RESPONSE:
            return (self._terminal_response(body, record),), b""
        if msg_id == MSG_TIME_SYNC:
            return (record(RecordKind.OTHER),), self._time_sync(header)
        if msg_id in (MSG_LOCATION, MSG_QUERY_ANSWER):
            location = body[2:] if msg_id == MSG_QUERY_ANSWER else body
            fields = parse_location(location)
            fields["attributes"] = {**attributes, **fields["attributes"]}
            position = DeviceRecord(
                NAME, RecordKind.POSITION, ident, frame, checksum_ok=checksum_ok, **fields
            )
            if msg_id == MSG_LOCATION:
                return (position,), general
            answer = record(RecordKind.COMMAND_RESULT, command_result="position query answered")
            return (answer, position), general
        if msg_id == MSG_BATCH:
            records = []
            for fields in parse_location_batch(body):
                fields["attributes"] = {**attributes, **fields["attributes"]}
                records.append(
                    DeviceRecord(
                        NAME, RecordKind.POSITION, ident, frame, checksum_ok=checksum_ok, **fields
                    )
                )
            if not records:
                raise FrameError("JT/T 808 batch location without a location")
            return tuple(records), general
        attributes["content"] = body.hex()
        attributes["ignored"] = IGNORED_MESSAGES.get(
            msg_id, "message id not in JT/T 808 as decoded"
        )
        return (record(RecordKind.OTHER),), general

    def _terminal_response(self, body: bytes, record: Callable[..., DeviceRecord]) -> DeviceRecord:
        if len(body) < 5:
            raise FrameError(f"JT/T 808 terminal response of {len(body)} bytes, not 5")
        serial, answered, result = (
            int.from_bytes(body[0:2], "big"),
            int.from_bytes(body[2:4], "big"),
            body[4],
        )
        text = f"{answered:04x} #{serial}: {_RESULTS.get(result, f'result {result}')}"
        return record(
            RecordKind.COMMAND_RESULT,
            command_result=text,
            attributes={"replySerial": serial, "replyType": answered, "success": result in (0, 4)},
        )

    def _reply(self, header: Header, msg_id: int, body: bytes) -> bytes:
        """A platform message to the terminal, in the header form the terminal used."""
        attributes = len(body) | (_VERSION_2019 if header.v2019 else 0)
        head = msg_id.to_bytes(2, "big") + attributes.to_bytes(2, "big")
        head += (b"\x01" if header.v2019 else b"") + header.phone + b"\x00\x00"
        message = head + body
        return bytes([FLAG]) + escape(message + bytes([xor(message)])) + bytes([FLAG])

    def _general_response(self, header: Header) -> bytes:
        body = header.serial.to_bytes(2, "big") + header.msg_id.to_bytes(2, "big") + b"\x00"
        return self._reply(header, MSG_GENERAL_RESPONSE, body)

    def _registered(self, header: Header) -> bytes:
        """0x8100: serial, result 0, and the device id as the auth code (as Traccar does)."""
        body = header.serial.to_bytes(2, "big") + b"\x00" + header.device_id.encode("ascii")
        return self._reply(header, MSG_REGISTER_RESPONSE, body)

    def _time_sync(self, header: Header) -> bytes:
        now = self._clock().astimezone(UTC)
        body = now.year.to_bytes(2, "big") + bytes(
            [now.month, now.day, now.hour, now.minute, now.second]
        )
        return self._reply(header, MSG_TIME_SYNC_RESPONSE, body)

    def _sentence(self, frame: bytes, device_id: str | None) -> DecodeResult:
        """``(id,1,001,TYPE,…)`` text of Huabao lock clones: BASE,2 asks for the time."""
        if frame[-1:] != b")":
            raise FrameError("JT/T 808 text sentence without its closing ')'")
        text = frame.decode("ascii", "replace")
        if "BASE,2" in text:
            now = self._clock().astimezone(UTC).strftime("%Y%m%d%H%M%S")
            record = DeviceRecord(
                NAME, RecordKind.OTHER, device_id, frame, attributes={"sentence": text}
            )
            # The answer is the device's own bytes with the time put in: a byte that is not
            # ASCII (line noise in a clone's sentence) goes back as it came, not re-encoded.
            return DecodeResult((record,), ack=frame.replace(b"TIME", now.encode("ascii")))
        record = DeviceRecord(
            NAME, RecordKind.COMMAND_RESULT, device_id, frame, command_result=text
        )
        return DecodeResult((record,))

    def encode_command(self, device_id: str, action: str, *, sequence: int = 0) -> bytes:
        """0x8105 control / 0x8201 query for ``action``; ``sequence`` is the serial."""
        try:
            msg_id, body = COMMANDS[action]
        except KeyError:
            known = ", ".join(sorted(COMMANDS))
            raise ValueError(f"JT/T 808 does not support {action!r}; supported: {known}") from None
        return build_message(msg_id, body, device_id, sequence)


def _registration(body: bytes) -> dict[str, object]:
    """0x0100: province, city, maker (5), model (20 in 2013), terminal id (7), plate."""
    if len(body) < 37:
        return {"content": body.hex()}
    model = body[9:29].rstrip(b"\x00 ").decode("ascii", "replace")
    terminal = body[29:36].rstrip(b"\x00 ").decode("ascii", "replace")
    return {
        "maker": body[4:9].rstrip(b"\x00 ").decode("ascii", "replace"),
        "model": model,
        "terminalId": terminal,
        "plateColor": body[36],
    }


CODEC = Jt808Codec()
