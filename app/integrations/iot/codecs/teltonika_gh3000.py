"""Teltonika GH3000 personal trackers: Codec 7 records, the layout before Codec 8.

A Codec 7 record is bit-masked where Codec 8 is fixed: a 4-byte time (seconds since
2007-01-01, the priority in its top two bits), a global mask saying which parts follow
(bit 0 a location block, bits 1..3 the IO groups of 1-, 2- and 4-byte values), and inside
the location block a second mask for coordinates (IEEE floats), altitude, course (in
1/256 turns), speed, satellites, the serving cell and the operator. Field positions follow
Traccar's ``TeltonikaProtocolDecoder.decodeLocation`` and its GH3000 IO names, so a record
carries the attributes a Traccar user expects. A record without a location block is a
STATUS reading: Traccar gives it the last known position, the console keeps what was sent.
"""

from __future__ import annotations

import math
import struct
from datetime import UTC, datetime
from typing import Any

from app.integrations.iot.codecs.teltonika_reader import Reader
from app.integrations.iot.records import DeviceRecord, FrameError, RecordKind

CODEC_GH3000 = 0x07
GH3000_EPOCH = 1_167_609_600  # 2007-01-01T00:00:00Z, where Codec 7 time counts from
_TIME_BITS = 0x3FFF_FFFF  # the top two bits of the time word are the record's priority

# Global mask bits: a location block, then the IO groups of 1-, 2- and 4-byte values.
_HAS_LOCATION = 0x01
_IO_GROUPS = ((0x02, 1), (0x04, 2), (0x08, 4))
# Location mask bits.
_COORDINATES, _ALTITUDE, _COURSE, _SPEED, _SATELLITES, _CELL, _SIGNAL, _OPERATOR = (
    1 << bit for bit in range(8)
)

# GH3000 IO ids with Traccar's names and scale; the rest stay ``io<ID>``.
_NAMED_IO: dict[int, tuple[str, float | None]] = {
    2: ("usbConnected", None),
    5: ("uptime", None),
    20: ("hdop", 0.1),
    21: ("vdop", 0.1),
    22: ("pdop", 0.1),
    67: ("battery", 0.001),
    221: ("button", None),
    240: ("motion", None),
    244: ("roaming", None),
}
_BOOL_IO = frozenset({2, 240, 244})
IO_BATTERY_PCT = 1
IO_SOS = 222  # 1 while the SOS button alarm is raised


def read_gh3000_records(
    reader: Reader, count: int, *, device_id: str | None, raw: bytes, checksum_ok: bool
) -> list[DeviceRecord]:
    """Read ``count`` Codec 7 records from ``reader`` into DeviceRecords."""
    return [
        _read_record(reader, device_id=device_id, raw=raw, checksum_ok=checksum_ok)
        for _ in range(count)
    ]


def _read_record(
    r: Reader, *, device_id: str | None, raw: bytes, checksum_ok: bool
) -> DeviceRecord:
    word = r.uint(4)
    when = datetime.fromtimestamp(GH3000_EPOCH + (word & _TIME_BITS), UTC)
    attributes: dict[str, object] = {"priority": word >> 30}
    global_mask = r.uint(1)
    fix = _read_location(r, attributes) if global_mask & _HAS_LOCATION else {}
    io: dict[int, int] = {}
    for bit, size in _IO_GROUPS:
        if global_mask & bit:
            for _ in range(r.uint(1)):
                io_id = r.uint(1)
                io[io_id] = r.uint(size)
    fields = _io_fields(io, attributes)
    has_position = "latitude" in fix
    return DeviceRecord(
        protocol="teltonika",
        kind=RecordKind.POSITION if has_position else RecordKind.STATUS,
        device_id=device_id,
        raw=raw,
        fix_time=when,
        valid_fix=has_position,  # Traccar marks every Codec 7 fix valid
        checksum_ok=checksum_ok,
        attributes=attributes,
        **fix,
        **fields,
    )


def _read_location(r: Reader, attributes: dict[str, object]) -> dict[str, Any]:
    """The location block's fields as DeviceRecord keywords; cell data into ``attributes``."""
    mask = r.uint(1)
    fix: dict[str, Any] = {}  # DeviceRecord keyword arguments
    if mask & _COORDINATES:
        latitude, longitude = struct.unpack(">ff", r.take(8))
        if not (math.isfinite(latitude) and math.isfinite(longitude)):
            raise FrameError("Codec 7 coordinates are not numbers")
        if abs(latitude) > 90 or abs(longitude) > 180:
            raise FrameError(f"Codec 7 coordinates {latitude}, {longitude} are off the globe")
        fix["latitude"], fix["longitude"] = latitude, longitude
    if mask & _ALTITUDE:
        fix["altitude_m"] = float(r.uint(2))
    if mask & _COURSE:
        fix["course_deg"] = r.uint(1) * 360 / 256
    if mask & _SPEED:
        fix["speed_kmh"] = float(r.uint(1))
    if mask & _SATELLITES:
        fix["satellites"] = r.uint(1)
    if mask & _CELL:
        attributes["lac"], attributes["cid"] = r.uint(2), r.uint(2)
    if mask & _SIGNAL:
        attributes["rssi"] = r.uint(1)
    if mask & _OPERATOR:
        attributes["operator"] = r.uint(4)
    return fix


def _io_fields(io: dict[int, int], attributes: dict[str, object]) -> dict[str, Any]:
    """GH3000 IO values into ``attributes`` (Traccar's names); battery % and SOS as fields."""
    fields: dict[str, Any] = {}  # DeviceRecord keyword arguments
    for io_id, value in io.items():
        named = _NAMED_IO.get(io_id)
        if named is None:
            attributes[f"io{io_id}"] = value
        elif io_id in _BOOL_IO:
            attributes[named[0]] = value == 1
        else:
            attributes[named[0]] = value * named[1] if named[1] is not None else value
    battery = io.get(IO_BATTERY_PCT)
    if battery is not None and 0 <= battery <= 100:
        fields["battery_pct"] = float(battery)
    if io.get(IO_SOS) == 1:
        fields["alarms"] = ("sos",)
    return fields
