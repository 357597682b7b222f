"""Queclink HEX-mode ("binary") frames for the gl200 codec.

Trackers switched to HEX mode send the same reports as the ASCII ``+RESP:`` lines, packed:
``+RSP``/``+BSP`` (live/buffered location), ``+EVT``/``+BVT`` (events), ``+INF``/``+BNF``
(device info) and ``+HBD`` (heartbeat), each ``<header><type><mask>...<crc16>\\r\\n``.
Newer firmware ("Protocol Pro") sends ``+\\x00<len>...<crc8>$`` with tagged data items.

Which fields a classic frame carries is chosen by the report mask the server configured
(``AT+GTHRM``) and echoed in the frame, so the layout is computed from that mask rather
than hard-coded for one model: Traccar assumes one mask, which shifts every coordinate on
a device left at its factory default. Mask bits whose field width no public document gives
make the frame a FrameError instead of a plausible wrong position. Event-specific bytes
between the header and the location are sized from the declared length, and for event
types with a known size the two must agree.

Units follow the ASCII path: speed and mileage arrive as ``<integer><tenths byte>``
(checked on the corpus: a VGN event at 22.1 km/h is followed a second later by a compressed
point at 22.7 km/h, and the trip counter grows as much as the odometer), altitude in metres.
As on the ASCII path a fix is ``valid_fix`` when its time and coordinates are plausible;
the device's own accuracy is kept as ``hdop`` (0 = the device reports the last known fix).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from app.integrations.iot.device_ids import check_device_id, check_imei
from app.integrations.iot.records import (
    DecodeResult,
    DeviceRecord,
    FrameError,
    LockState,
    RecordKind,
)

logger = logging.getLogger(__name__)

NAME = "gl200"
_BUFFERED = frozenset({b"+BSP", b"+BVT", b"+BNF"})
_LOCATION_HEADERS = frozenset({b"+RSP", b"+BSP", b"+EVT", b"+BVT"})
_COMPRESSED = 100  # +RSP type 100: a bit-packed one-point-per-second track
_LOCATION_BY_CALL = 3  # +RSP type 3 (GTLCB): the caller's number comes before the points
# Report-mask bits (AT+GTHRM) and the size of the field each one adds.
_BIT_IMEI_AS_NAME, _BIT_LENGTH = 6, 7
_HEAD_FIELDS = ((8, 1), (9, 2), (10, 2))  # device type, protocol version, firmware
_STATE_FIELDS = ((11, 1), (12, 2), (14, 2), (17, 2), (18, 1), (19, 1))
_TAIL_FIELDS = ((20, 3), (21, 5), (22, 3), (23, 6), (4, 7), (5, 2))
_UNKNOWN_BITS = (1 << 13) | (1 << 15) | (1 << 16) | (0xFF << 24)  # widths not published
# Bytes an event carries between the satellites byte and the location, by event type.
_EVENT_EXTRA = {6: 2, 13: 4, 14: 4, 15: 3, 17: 4, 21: 5, 23: 1, 25: 2, 26: 12, 31: 2}
_EVENT_EXTRA |= {33: 1, 34: 3, 35: 1, 45: 7, 46: 7}
_EVENT_NAMES = {6: "BPL", 9: "STT", 13: "IGN", 14: "IGF", 17: "IDF", 21: "GSS", 23: "CRA"}
_EVENT_NAMES |= {25: "DOS", 26: "GES", 31: "GPJ", 33: "JDS", 35: "RMD", 45: "VGN", 46: "VGF"}
_EVENT_ALARMS = {"BPL": "lowBattery", "STT": "movement", "CRA": "accident"}
_EVENT_ALARMS |= {"GPJ": "jamming", "JDS": "jamming"}
_IGNITION_EVENTS = {"IGN": True, "VGN": True, "IGF": False, "VGF": False}


class Reader:
    """Big-endian cursor over ``data[pos:end]``: reading past the end is a FrameError."""

    __slots__ = ("data", "end", "pos")

    def __init__(self, data: bytes, pos: int, end: int) -> None:
        self.data, self.pos, self.end = data, pos, end

    @property
    def left(self) -> int:
        return self.end - self.pos

    def take(self, size: int) -> bytes:
        if size < 0 or size > self.left:
            raise FrameError(f"gl200 binary frame too short: {size} bytes wanted at {self.pos}")
        self.pos += size
        return self.data[self.pos - size : self.pos]

    def uint(self, size: int) -> int:
        return int.from_bytes(self.take(size), "big")

    def sint(self, size: int) -> int:
        return int.from_bytes(self.take(size), "big", signed=True)

    def peek(self) -> int:
        if self.left < 1:
            raise FrameError(f"gl200 binary frame too short at {self.pos}")
        return self.data[self.pos]

    def tenths(self, size: int) -> float:
        """``<size-byte integer><tenths byte>``, the HEX form of ASCII ``123.4``."""
        whole, fraction = self.uint(size), self.uint(1)
        return whole + fraction / 10 if fraction < 10 else float(whole)

    def varint(self) -> int:
        """Protocol Pro ids/lengths: one byte, or two when the high bit is set."""
        first = self.uint(1)
        return ((first & 0x7F) << 8) | self.uint(1) if first & 0x80 else first


def _crc16_ccitt(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, not reflected): classic HEX frames."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def _stamp(raw: bytes) -> datetime | None:
    """``yyyy(2) MM dd HH mm ss`` as UTC; None for an impossible date (no fix yet)."""
    try:
        month, day, hour, minute, second = raw[2:7]
        return datetime(
            int.from_bytes(raw[:2], "big"), month, day, hour, minute, second, tzinfo=UTC
        )
    except ValueError:
        return None


def epoch_time(seconds: int) -> datetime | None:
    return datetime.fromtimestamp(seconds, UTC) if seconds else None


def _identity(raw: bytes, as_name: bool, device_id: str | None) -> tuple[str, dict]:
    """The IMEI, packed as seven decimal pairs and a last digit (``56 4F..04`` → ``8679..4``).

    With mask bit 6 the device sends its configured name instead; the connection's
    identity is preferred then, as a name is not what devices are registered by.
    """
    if as_name:
        name = check_device_id(raw.rstrip(b"\x00").decode("latin-1"), NAME)
        return device_id or name, {"device_name": name}
    if any(b > 99 for b in raw[:7]) or raw[7] > 9:
        raise FrameError(f"gl200 binary frame identity is not an IMEI: {raw.hex()}")
    return check_imei("".join(f"{b:02d}" for b in raw[:7]) + str(raw[7]), NAME), {}


def _version(dev_type: int | None, protocol: int | None) -> str | None:
    """The ``<type><version>`` hex the ASCII reports carry, e.g. ``4B0306``."""
    return None if dev_type is None or protocol is None else f"{dev_type:02X}{protocol:04X}"


def _sack(header: bytes, count: int | None, sack_all: bool) -> bytes:
    """Like ASCII ``+BUFF:``, buffered reports are acknowledged; live ones in SACK mode."""
    if count is None or not (header in _BUFFERED or sack_all):
        return b""
    return f"+SACK:{count:04X}$".encode("ascii")


def _classic_checks(frame: bytes, length: int, strict: bool) -> bool:
    """Declared length, ``\\r\\n`` tail and CRC; returns whether the CRC matched."""
    if length != len(frame):
        raise FrameError(f"gl200 binary frame declares {length} bytes but has {len(frame)}")
    if frame[-2:] != b"\r\n":
        raise FrameError("gl200 binary frame does not end in CR LF")
    crc_ok = _crc16_ccitt(frame[4:-4]) == int.from_bytes(frame[-4:-2], "big")
    if strict and not crc_ok:
        raise FrameError("gl200 binary frame CRC mismatch")
    return crc_ok


def decode_binary(
    frame: bytes, *, device_id: str | None, strict: bool, sack_all: bool
) -> DecodeResult:
    """Decode one framed classic HEX-mode frame; anything malformed raises FrameError."""
    if len(frame) < 11:
        raise FrameError(f"gl200 binary frame of {len(frame)} bytes is too short")
    header = bytes(frame[:4])
    if header in _LOCATION_HEADERS:
        return _location(bytes(frame), device_id, strict, sack_all)
    if header == b"+HBD":
        return _heartbeat(bytes(frame), device_id, strict)
    if header in (b"+INF", b"+BNF"):
        return _information(bytes(frame), device_id, strict, sack_all)
    logger.debug("gl200: binary %s frame kept raw, no decoder for it", header)
    attributes: dict[str, object] = {"format": "binary", "header": header.hex()}
    record = DeviceRecord(NAME, RecordKind.OTHER, device_id, bytes(frame), attributes=attributes)
    return DecodeResult((record,))


def _location(frame: bytes, device_id: str | None, strict: bool, sack_all: bool) -> DecodeResult:
    """``+RSP``/``+BSP``/``+EVT``/``+BVT``: header, device state, locations, mileage tail."""
    r = Reader(frame, 4, len(frame) - 4)
    msg_type, mask = r.uint(1), r.uint(4)

    def has(bit: int) -> bool:
        return bool(mask >> bit & 1)

    if not has(_BIT_LENGTH) or mask & _UNKNOWN_BITS:
        raise FrameError(f"gl200 binary report mask {mask:08X} has fields of unknown size")
    crc_ok = _classic_checks(frame, r.uint(2), strict)
    dev_type, protocol, firmware = (
        r.uint(size) if has(bit) else None for bit, size in _HEAD_FIELDS
    )
    imei, attributes = _identity(r.take(8), has(_BIT_IMEI_AS_NAME), device_id)
    battery, power, _analog, io, motion, sats = (
        r.uint(size) if has(bit) else None for bit, size in _STATE_FIELDS
    )
    r.end -= sum(size for bit, size in _TAIL_FIELDS if has(bit))
    if r.end < r.pos:
        raise FrameError(f"gl200 binary frame of {len(frame)} bytes is shorter than its mask")
    tail = Reader(frame, r.end, len(frame) - 4)
    current_km, total_km = (
        tail.tenths(2) if has(20) else None,
        tail.tenths(4) if has(21) else None,
    )
    tail.take((3 if has(22) else 0) + (6 if has(23) else 0))  # hour meters, not stored
    sent = _stamp(tail.take(7)) if has(4) else None
    count = tail.uint(2) if has(5) else None
    header = frame[:4]
    name = _EVENT_NAMES.get(msg_type) if header in (b"+EVT", b"+BVT") else None
    attributes |= {"format": "binary", "report": header.decode(), "message_type": msg_type}
    if name:
        attributes["type"] = name
    if power is not None:
        attributes["power_mv"] = power
    if current_km is not None:
        attributes["trip_km"] = current_km
    if motion is not None and motion & 0x30:
        attributes["ignition"] = bool(motion & 0x20)
    if name in _IGNITION_EVENTS:
        attributes["ignition"] = _IGNITION_EVENTS[name]
    extra: dict = {"attributes": attributes, "odometer_km": total_km}
    if battery is not None and battery <= 100:
        extra["battery_pct"] = float(battery)
    if sats is not None:
        extra["satellites"] = sats & 0x0F  # high nibble: GNSS antenna state
    if io is not None:
        extra["lock_state"] = LockState.LOCKED if io & 0x01 else LockState.UNLOCKED
    if name in _EVENT_ALARMS:
        extra["alarms"] = (_EVENT_ALARMS[name],)
    if header in (b"+RSP", b"+BSP") and msg_type == _COMPRESSED:
        points = _compressed(r, mask)
    elif header in (b"+RSP", b"+BSP"):
        r.take(1)  # report id / type, as in ASCII ``10``
        if msg_type == _LOCATION_BY_CALL:
            _skip_caller_number(r)
        points = [_block(r, mask) for _ in range(r.uint(1))]
    else:
        points = [_event_block(r, mask, msg_type)]
    if r.left:
        raise FrameError(f"gl200 binary {header!r} type {msg_type}: {r.left} bytes unaccounted")
    base: dict[str, Any] = {
        "protocol": NAME,
        "device_id": imei,
        "raw": frame,
        "checksum_ok": crc_ok,
    }
    if dev_type is not None and firmware is not None:
        base["firmware"] = f"{firmware >> 8}.{firmware & 0xFF:02d}"
    attributes["version"] = _version(dev_type, protocol)
    ack = _sack(header, count, sack_all)
    if not points:
        kind = RecordKind.ALARM if extra.get("alarms") else RecordKind.STATUS
        return DecodeResult((DeviceRecord(**base, kind=kind, fix_time=sent, **extra),), ack)
    last = len(points) - 1
    records = tuple(
        _position(base, point, extra if n == last else {"attributes": {"format": "binary"}})
        for n, point in enumerate(points)
    )
    return DecodeResult(records, ack)


def _skip_caller_number(r: Reader) -> None:
    """GTLCB's phone number, read as Traccar reads it: a byte it calls the number's length
    (the corpus frame's does not count the digits), then BCD digits up to the byte that
    holds the 0xF filler nibble. The number is not stored."""
    r.take(1)
    while True:
        digits = r.uint(1)
        if digits & 0x0F == 0x0F or digits & 0xF0 == 0xF0:
            return


def _event_block(r: Reader, mask: int, msg_type: int) -> dict:
    """An event's type-specific bytes (sized from the length), then its one location."""
    extra = r.left - 1 - _block_size(mask)
    if extra < 0 or _EVENT_EXTRA.get(msg_type, extra) != extra:
        raise FrameError(f"gl200 binary event type {msg_type}: length does not fit its layout")
    r.take(extra)
    if r.uint(1) != 1:
        raise FrameError("gl200 binary event with other than one location")
    return _block(r, mask)


def _block_size(mask: int) -> int:
    optional = ((0, 3), (1, 2), (2, 2), (3, 9))
    return 16 + sum(size for bit, size in optional if mask >> bit & 1)


def _block(r: Reader, mask: int) -> dict:
    """accuracy, speed, azimuth, altitude, lon, lat (×1e-6), UTC time, cell."""
    point: dict = {"hdop": r.uint(1)}
    point["speed_kmh"] = r.tenths(2) if mask & 1 else None
    point["course_deg"] = float(r.uint(2)) if mask & 2 else None
    point["altitude_m"] = float(r.sint(2)) if mask & 4 else None
    point["longitude"], point["latitude"] = r.sint(4) / 1e6, r.sint(4) / 1e6
    point["fix_time"] = _stamp(r.take(7))
    if mask & 8:
        r.take(9)  # MCC, MNC, LAC, cell id, reserved: not stored
    return point


def _compressed(r: Reader, mask: int) -> list[dict]:
    """+RSP type 100: a point count, then 3-byte absolute or 5-byte delta points, one per
    second. Only the first absolute point carries the time; a leading tag other than 1
    (absolute) or 2 (delta) is a one-byte "no fix / unchanged" second."""
    points: list[dict] = []
    speed = heading = lon = lat = epoch = 0
    for _ in range(r.uint(2)):
        epoch += 1 if epoch else 0
        tag = r.peek() >> 6
        if tag == 1:
            bits = r.uint(3)
            speed, heading = bits >> 9 & 0xFFF, bits & 0x1FF
            lon, lat = r.sint(4), r.sint(4)
            epoch = epoch or r.uint(4)
        elif tag == 2:
            if not epoch:
                raise FrameError("gl200 compressed track starts with a delta point")
            bits = r.uint(5)
            speed += _signed(bits >> 30 & 0x7F, 7)
            heading += _signed(bits >> 23 & 0x7F, 7)
            lon += _signed(bits >> 11 & 0xFFF, 12)
            lat += _signed(bits & 0x7FF, 11)
        else:
            r.take(1)
            continue
        points.append(
            {
                "speed_kmh": max(speed, 0) / 10,
                "course_deg": float(heading % 360),
                "longitude": lon / 1e6,
                "latitude": lat / 1e6,
                "fix_time": epoch_time(epoch),
            }
        )
    if mask & 8:
        r.take(9)  # the cell the track ended in
    return points


def _signed(value: int, bits: int) -> int:
    return value - (1 << bits) if value >> (bits - 1) else value


def _position(base: dict, point: dict, fields: dict) -> DeviceRecord:
    lat, lon, when = point.pop("latitude"), point.pop("longitude"), point["fix_time"]
    in_range = abs(lat) <= 90 and abs(lon) <= 180
    hdop = point.pop("hdop", None)
    fields = {**fields, "attributes": dict(fields["attributes"])}
    if hdop is not None:
        fields["attributes"]["hdop"] = hdop
    return DeviceRecord(
        **base,
        kind=RecordKind.POSITION,
        valid_fix=in_range and when is not None,
        latitude=lat if in_range else None,
        longitude=lon if in_range else None,
        **point,
        **fields,
    )


def _heartbeat(frame: bytes, device_id: str | None, strict: bool) -> DecodeResult:
    """``+HBD``: answered with the ASCII ``+SACK:GTHBD,<version>,<count>$`` as in text mode.

    32 bytes with the IMEI, 24 when the mask leaves it out (then the connection's id).
    """
    crc_ok = _classic_checks(frame, frame[5], strict)
    imei: str | None
    if len(frame) == 32:
        imei, attributes = _identity(frame[11:19], False, device_id)
    elif len(frame) == 24:
        imei, attributes = device_id, {}
    else:
        raise FrameError(f"gl200 binary heartbeat of {len(frame)} bytes")
    version = _version(frame[6], int.from_bytes(frame[7:9], "big"))
    count = int.from_bytes(frame[-6:-4], "big")
    record = DeviceRecord(
        NAME,
        RecordKind.STATUS,
        imei,
        frame,
        fix_time=_stamp(frame[-13:-6]),
        checksum_ok=crc_ok,
        attributes=attributes | {"heartbeat": True, "format": "binary"},
    )
    return DecodeResult((record,), f"+SACK:GTHBD,{version},{count:04X}$".encode("ascii"))


def _information(frame: bytes, device_id: str | None, strict: bool, sack_all: bool) -> DecodeResult:
    """``+INF``/``+BNF``: identity and firmware only. Its body differs by sub-type and no
    public table gives it offset by offset, so readings from it would be guesses."""
    if len(frame) < 36:
        raise FrameError(f"gl200 binary info frame of {len(frame)} bytes")
    mask = int.from_bytes(frame[5:7], "big")
    crc_ok = _classic_checks(frame, int.from_bytes(frame[7:9], "big"), strict)
    imei, attributes = _identity(frame[9:17], bool(mask >> _BIT_IMEI_AS_NAME & 1), device_id)
    firmware = int.from_bytes(frame[20:22], "big")
    version = _version(frame[17], int.from_bytes(frame[18:20], "big"))
    attributes |= {"format": "binary", "info_type": frame[4], "version": version}
    record = DeviceRecord(
        NAME,
        RecordKind.STATUS,
        imei,
        frame,
        fix_time=_stamp(frame[-13:-6]),
        firmware=f"{firmware >> 8}.{firmware & 0xFF:02d}",
        checksum_ok=crc_ok,
        attributes=attributes,
    )
    return DecodeResult((record,), _sack(frame[:4], int.from_bytes(frame[-6:-4], "big"), sack_all))
