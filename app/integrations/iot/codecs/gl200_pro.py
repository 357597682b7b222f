"""Queclink "Protocol Pro" frames for the gl200 codec: ``+ 00 <length> ...<crc8> $``.

Newer Queclink firmware (GV500CNA, GL601) replaces the classic HEX reports with records of
tagged data items, so a report carries only what the device has, and unknown items can be
skipped by their length instead of breaking the frame. The layout is from the vendor's
GL601/GV500CNA Protocol Pro pages as summarised in public research notes; ids and lengths
are one byte, or two when the first has its high bit set.

A report the device kept while offline comes with ``-`` (2D) instead of ``+`` as its first
byte and is otherwise the same, so it is stored like a live one and, as ``+BUFF:`` and the
HEX ``+BSP`` are, always answered with ``+SACK:<count>$`` so the device can drop it from its
buffer. The heartbeat is a fixed 24-byte ``+ 10 18 ...`` frame; Traccar does not decode it
(nor answer it), and no public source says it needs an answer outside SACK mode, so it is
answered only when the codec runs with ``sack_all``, in the same ``+SACK:<count>$`` shape.
"""

from __future__ import annotations

import logging

from app.integrations.iot.codecs.gl200_binary import NAME, Reader, epoch_time
from app.integrations.iot.device_ids import check_imei
from app.integrations.iot.records import DecodeResult, DeviceRecord, FrameError, RecordKind

logger = logging.getLogger(__name__)


def _crc8(data: bytes) -> int:
    """CRC-8 (poly 0x31, init 0xFF, not reflected): Protocol Pro frames."""
    crc = 0xFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x31) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def decode_pro(frame: bytes, *, strict: bool, sack_all: bool) -> DecodeResult:
    """Protocol Pro: ``+ 00 <len> <flags> <IMEI BCD> <type> <version> <custom> <reserved>``,
    then records ``<len><time><count><record id><event>`` of tagged data items, then
    ``<count> <crc8> $``. Data 81/82 are locations, 27 ignition, 31 total mileage (m)."""
    if frame[:1] not in (b"+", b"-"):
        raise FrameError(f"gl200 Protocol Pro frame starts with {frame[:1].hex()}, not + or -")
    buffered = frame[:1] == b"-"
    r = Reader(frame, 2, len(frame) - 4)
    if r.uint(2) != len(frame) or frame[-1:] != b"$":
        raise FrameError("gl200 Protocol Pro frame length or '$' tail is wrong")
    crc_ok = _crc8(frame[:-2]) == frame[-2]
    if strict and not crc_ok:
        raise FrameError("gl200 Protocol Pro frame CRC-8 mismatch")
    if r.uint(1) & 0x80:
        raise FrameError("gl200 Protocol Pro multi-packet frames are not supported")
    imei = check_imei(r.take(8).hex()[1:], NAME)  # BCD: a nibble over 9 is not a digit
    version = f"{r.uint(2):04X}{r.uint(2):04X}"  # device type, protocol version
    r.take(1)  # custom version
    r.take(r.uint(1))  # reserved block
    base = {"protocol": NAME, "device_id": imei, "raw": frame, "checksum_ok": crc_ok}
    records = []
    while r.left:
        start = r.pos
        size = r.varint()
        if size <= r.pos - start or start + size > r.end:
            raise FrameError("gl200 Protocol Pro record length out of bounds")
        records.append(_pro_record(Reader(frame, r.pos, start + size), base, version))
        r.pos = start + size
    if not records:
        raise FrameError("gl200 Protocol Pro frame without records")
    count = int.from_bytes(frame[-4:-2], "big")
    ack = f"+SACK:{count:04X}$".encode() if buffered or sack_all else b""
    return DecodeResult(tuple(records), ack)


def decode_pro_heartbeat(frame: bytes, *, strict: bool, sack_all: bool) -> DecodeResult:
    """``+ 10 18 <IMEI BCD 8> <type 2> <version 2> <custom 1> <time 4> <count 2> <crc8> $``.

    The heartbeat only proves the device is alive, so it becomes a STATUS record stamped
    with the device's time, like the text and HEX heartbeats.
    """
    if len(frame) != 24 or frame[:3] != b"+\x10\x18" or frame[-1:] != b"$":
        raise FrameError(
            f"gl200 Protocol Pro heartbeat is not 24 bytes '+ 10 18 ... $': {len(frame)}"
        )
    crc_ok = _crc8(frame[:-2]) == frame[-2]
    if strict and not crc_ok:
        raise FrameError("gl200 Protocol Pro heartbeat CRC-8 mismatch")
    r = Reader(frame, 3, len(frame) - 2)
    imei = check_imei(r.take(8).hex()[1:], NAME)
    version = f"{r.uint(2):04X}{r.uint(2):04X}"  # device type, protocol version
    r.take(1)  # custom version
    sent, count = epoch_time(r.uint(4)), r.uint(2)
    record = DeviceRecord(
        NAME,
        RecordKind.STATUS,
        imei,
        frame,
        fix_time=sent,
        checksum_ok=crc_ok,
        attributes={"heartbeat": True, "format": "pro", "version": version},
    )
    return DecodeResult((record,), f"+SACK:{count:04X}$".encode() if sack_all else b"")


def _pro_record(r: Reader, base: dict, version: str) -> DeviceRecord:
    generated = epoch_time(r.uint(4))
    r.take(2)  # record count number
    record_id, event = r.uint(1), r.uint(1)
    attributes: dict = {"format": "pro", "record_id": record_id, "event": event}
    attributes["version"] = version
    fields: dict = {"fix_time": generated}
    while r.left:
        data_id, size = r.varint(), r.varint()
        item = Reader(r.data, r.pos, r.pos + size)
        r.take(size)  # an item overrunning its record is a FrameError here
        _pro_item(data_id, item, fields, attributes)
    if "latitude" not in fields:
        logger.debug("gl200 Protocol Pro record %s without a location item", record_id)
        return DeviceRecord(**base, kind=RecordKind.STATUS, attributes=attributes, **fields)
    lat, lon = fields.pop("latitude"), fields.pop("longitude")
    in_range = abs(lat) <= 90 and abs(lon) <= 180
    return DeviceRecord(
        **base,
        kind=RecordKind.POSITION,
        valid_fix=in_range and fields["fix_time"] is not None,
        latitude=lat if in_range else None,
        longitude=lon if in_range else None,
        attributes=attributes,
        **fields,
    )


def _pro_item(data_id: int, item: Reader, fields: dict, attributes: dict) -> None:
    """One data item; ids we do not store are skipped by their length."""
    if data_id in (81, 82):
        attributes["fix_state"] = item.uint(1) >> 2 & 0x03  # 2 = fix, else last known
        fields["longitude"], fields["latitude"] = item.sint(4) / 1e6, item.sint(4) / 1e6
        fields["fix_time"] = epoch_time(item.uint(4))
        fields["speed_kmh"] = item.uint(2) / 10
        if data_id == 82:
            attributes["hdop"] = item.uint(1) / 10
            fields["course_deg"] = float(item.uint(2))
            fields["altitude_m"] = item.sint(3) / 10
            fields["satellites"] = item.uint(1)
    elif data_id == 27 and item.left == 1:
        state = item.uint(1)
        if state < 2:
            attributes["ignition"] = bool(state)
    elif data_id == 31 and item.left == 4:
        fields["odometer_km"] = item.uint(4) / 1000
