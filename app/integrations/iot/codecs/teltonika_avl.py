"""Teltonika AVL records (Codec 8, 8E, 16) and the IO elements we turn into record fields.

The three codecs share one record layout and differ only in how wide the IO ids and counts
are, so one reader takes the widths as parameters. IO ids we know are mapped to
DeviceRecord fields (battery %, lock, odometer, alarms); every IO value is also kept as
``io<ID>`` in the attributes, as Traccar does, so a new device model never loses data.
Bluetooth beacon and tag lists (IO 385, 548, ...) also get Traccar's named fields
(teltonika_ble).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from app.integrations.iot.codecs.teltonika_ble import BEACON_IO, beacon_attributes
from app.integrations.iot.codecs.teltonika_reader import Reader
from app.integrations.iot.records import DeviceRecord, FrameError, LockState, RecordKind

logger = logging.getLogger(__name__)

CODEC_8 = 0x08
CODEC_8E = 0x8E
CODEC_16 = 0x10
AVL_CODECS = frozenset({CODEC_8, CODEC_8E, CODEC_16})

IO_BATTERY_PCT = 113
IO_ODOMETER_M = 16
IO_LOCK = 344  # TST100 scooter lock: 0 unlocked, 1 locked
IO_CHARGING = 347  # TST100 scooter: charging (0/1)
IO_SCOOTER_ALARM = 342  # TST100 alarm code, 9 = pushed while locked

# IO ids with an agreed attribute name (the rest stay ``io<ID>``), and a scale to SI units.
_NAMED_IO: dict[int, tuple[str, float | None]] = {
    239: ("ignition", None),
    240: ("motion", None),
    21: ("rssi", None),
    66: ("power", 0.001),
    67: ("battery", 0.001),
    181: ("pdop", 0.1),
    182: ("hdop", 0.1),
    199: ("tripOdometer", None),
    347: ("charge", None),
}
_BOOL_IO = frozenset({239, 240, 347})
# Event IO ids that mean an alarm when their value is non-zero.
_ALARM_IO: dict[int, str] = {246: "tow", 247: "accident", 249: "jamming", 252: "powerCut"}
_SCOOTER_ALARMS: dict[int, str] = {9: "tampering"}


@dataclass(frozen=True, slots=True)
class _Widths:
    """Byte widths of the IO element header for one codec."""

    event_id: int
    count: int
    io_id: int
    generation_type: bool = False
    variable_group: bool = False
    sixteen_byte_group: bool = False


_WIDTHS: dict[int, _Widths] = {
    CODEC_8: _Widths(event_id=1, count=1, io_id=1),
    CODEC_8E: _Widths(event_id=2, count=2, io_id=2, variable_group=True),
    CODEC_16: _Widths(event_id=2, count=1, io_id=2, generation_type=True),
}


def read_avl_records(
    reader: Reader,
    codec: int,
    count: int,
    *,
    device_id: str | None,
    raw: bytes,
    checksum_ok: bool,
    sixteen_byte_group: bool = False,
) -> list[DeviceRecord]:
    """Read ``count`` AVL records of ``codec`` from ``reader`` into DeviceRecords.

    ``sixteen_byte_group`` reads the group of 16-byte IO values that FM6300-era firmware
    puts after the 8-byte group (Traccar's ``extended`` decoder setting).
    """
    widths = replace(_WIDTHS[codec], sixteen_byte_group=sixteen_byte_group)
    return [
        _read_record(reader, widths, device_id=device_id, raw=raw, checksum_ok=checksum_ok)
        for _ in range(count)
    ]


def _read_record(
    r: Reader, w: _Widths, *, device_id: str | None, raw: bytes, checksum_ok: bool
) -> DeviceRecord:
    millis = r.uint(8)
    priority = r.uint(1)
    longitude = r.sint(4) / 1e7
    latitude = r.sint(4) / 1e7
    altitude = r.sint(2)
    angle = r.uint(2)
    satellites = r.uint(1)
    speed = r.uint(2)
    event_id = r.uint(w.event_id)
    attributes: dict[str, object] = {"priority": priority, "event": event_id}
    if w.generation_type:
        attributes["generationType"] = r.uint(1)
    r.uint(w.count)  # total IO count: redundant with the per-group counts
    io: dict[int, int | bytes] = {}
    for size in (1, 2, 4, 8):
        for _ in range(r.uint(w.count)):
            io_id = r.uint(w.io_id)
            io[io_id] = r.uint(size)
    if w.sixteen_byte_group:
        for _ in range(r.uint(w.count)):
            io_id = r.uint(w.io_id)
            io[io_id] = r.take(16)
    if w.variable_group:
        for _ in range(r.uint(w.count)):
            io_id = r.uint(w.io_id)
            io[io_id] = r.take(r.uint(2))
    try:
        fix_time = datetime.fromtimestamp(millis / 1000, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise FrameError(f"AVL timestamp {millis} ms is out of range") from exc
    fields = io_fields(io, attributes)
    return DeviceRecord(
        protocol="teltonika",
        kind=RecordKind.POSITION,
        device_id=device_id,
        raw=raw,
        fix_time=fix_time,
        valid_fix=satellites != 0,
        latitude=latitude,
        longitude=longitude,
        speed_kmh=float(speed),
        course_deg=float(angle % 360),
        altitude_m=float(altitude),
        satellites=satellites,
        checksum_ok=checksum_ok,
        attributes=attributes,
        **fields,
    )


def io_fields(io: dict[int, int | bytes], attributes: dict[str, object]) -> dict[str, Any]:
    """Map IO values to DeviceRecord keyword fields; fill ``attributes`` with all of them."""
    fields: dict[str, Any] = {}  # DeviceRecord keyword arguments
    alarms: list[str] = []
    for io_id, value in io.items():
        if isinstance(value, bytes):
            attributes[f"io{io_id}"] = value.hex()
            if io_id in BEACON_IO:
                attributes.update(beacon_attributes(io_id, value))
            continue
        named = _NAMED_IO.get(io_id)
        if named is None:
            attributes[f"io{io_id}"] = value
        elif io_id in _BOOL_IO:
            attributes[named[0]] = value != 0
        else:
            attributes[named[0]] = value * named[1] if named[1] is not None else value
        if io_id in _ALARM_IO and value:
            alarms.append(_ALARM_IO[io_id])
    battery = io.get(IO_BATTERY_PCT)
    if isinstance(battery, int) and 0 <= battery <= 100:
        fields["battery_pct"] = float(battery)
    odometer = io.get(IO_ODOMETER_M)
    if isinstance(odometer, int):
        fields["odometer_km"] = odometer / 1000
    charging = io.get(IO_CHARGING)  # TST100 scooter IO: 1 while the scooter charges
    if charging in (0, 1):
        fields["charging"] = charging == 1
    lock = io.get(IO_LOCK)
    if lock == 1:
        fields["lock_state"] = LockState.LOCKED
    elif lock == 0:
        fields["lock_state"] = LockState.UNLOCKED
    scooter_alarm = io.get(IO_SCOOTER_ALARM)
    if isinstance(scooter_alarm, int) and scooter_alarm:
        alarms.append(_SCOOTER_ALARMS.get(scooter_alarm, "general"))
    if alarms:
        fields["alarms"] = tuple(dict.fromkeys(alarms))
    return fields
