"""JT/T 808 location bodies: the 28-byte basic block and its additional-information items.

``parse_location`` returns DeviceRecord keyword fields. The basic block is alarm flags
(4), status (4), latitude and longitude (4 each, 1e-6 degrees, sign in status bits 2/3),
altitude (2, metres), speed (2, 0.1 km/h), course (2) and BCD time ``yyMMddHHmmss``
in Beijing time (the standard's GMT+8, Traccar's default). Then come items ``id (1),
length (1), value``, read as Traccar's HuabaoProtocolDecoder reads them (attribute names
are Traccar's). Unknown items are skipped by their length, so one vendor's private item
never costs the position.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

from app.integrations.iot.records import FrameError, LockState

_BEIJING = timedelta(hours=8)
_BASIC = 28

# Alarm-flag bits -> console alarm names, in Traccar's order of precedence.
ALARM_BITS: tuple[tuple[int, str], ...] = (
    (0, "sos"),
    (1, "overspeed"),
    (5, "gpsAntennaCut"),
    (4, "fault"),
    (9, "fault"),
    (10, "fault"),
    (11, "fault"),
    (7, "lowBattery"),
    (18, "lowBattery"),
    (8, "powerOff"),
    (15, "vibration"),
    (16, "tampering"),
    (17, "tampering"),
    (20, "geofence"),
    (28, "movement"),
    (29, "accident"),
    (30, "accident"),
)

# Messages the codec names but does not decode: id -> why (RecordKind.OTHER, ACKed 0x8001).
IGNORED_MESSAGES: dict[int, str] = {
    0x0003: "terminal logout; the connection closing says the same",
    0x0104: "parameter query answer; the console sets no terminal parameters",
    0x0107: "terminal attributes answer; the console does not query them",
    0x0108: "upgrade result; the console does not push firmware",
    0x0301: "event report; no events are configured on terminals",
    0x0302: "question answer; the console sends no questions",
    0x0303: "information on-demand; not used",
    0x0500: "vehicle control answer; the console controls through 0x8105",
    0x0506: "Traccar's second heartbeat id; answered, carries nothing",
    0x0700: "tachograph data upload; not fleet telemetry the console stores",
    0x0702: "driver identity report; not mapped yet",
    0x0800: "multimedia event; the console stores no media",
    0x0801: "multimedia data; the console stores no media",
    0x0805: "camera shot answer; the console sends no camera commands",
    0x0900: "transparent data (OBD blocks of 0xF0 boxes): vendor layout, not decoded",
    0x0901: "compressed upload; not decoded",
    0x0A00: "terminal RSA public key; the console does not encrypt",
    0x0210: "Traccar's second batch layout (1-byte lengths); not decoded",
    0x2070: "g-sensor sample series; the console stores no acceleration traces",
    0x5501: "JT600 binary location inside 808 framing (another decoder's layout)",
    0x5502: "JT600 blind-area location inside 808 framing (another decoder's layout)",
    0x8888: "photo upload of Huabao clones; the console stores no media",
}


def _bcd_time(data: bytes) -> datetime:
    digits = data.hex()
    if not digits.isdigit():
        raise FrameError(f"JT/T 808 time is not BCD: {digits}")
    try:
        beijing = datetime(
            2000 + int(digits[0:2]),
            int(digits[2:4]),
            int(digits[4:6]),
            int(digits[6:8]),
            int(digits[8:10]),
            int(digits[10:12]),
            tzinfo=UTC,
        )
    except ValueError as error:
        raise FrameError(f"JT/T 808 time {digits} is not a date: {error}") from None
    return beijing - _BEIJING  # the wall clock read as UTC, moved back to real UTC


def parse_location(body: bytes) -> dict[str, Any]:
    """DeviceRecord fields of one 0x0200 body (basic block and items)."""
    if len(body) < _BASIC:
        raise FrameError(f"JT/T 808 location of {len(body)} bytes, under the basic {_BASIC}")
    alarm_flags = int.from_bytes(body[0:4], "big")
    status = int.from_bytes(body[4:8], "big")
    latitude = int.from_bytes(body[8:12], "big") * 1e-6
    longitude = int.from_bytes(body[12:16], "big") * 1e-6
    if latitude > 90 or longitude > 180:
        raise FrameError(f"JT/T 808 position out of range: {latitude}, {longitude}")
    blocked = bool(status & 0x0400)
    charge = bool(status & (1 << 26))
    attributes: dict[str, object] = {
        "status": status,
        "ignition": bool(status & 0x01),
        "blocked": blocked,
        "charge": charge,
    }
    fields: dict[str, Any] = {
        "fix_time": _bcd_time(body[22:28]),
        "valid_fix": bool(status & 0x02),
        "latitude": -latitude if status & 0x04 else latitude,
        "longitude": -longitude if status & 0x08 else longitude,
        "altitude_m": float(int.from_bytes(body[16:18], "big", signed=True)),
        "speed_kmh": int.from_bytes(body[18:20], "big") * 0.1,
        "course_deg": float(int.from_bytes(body[20:22], "big")),
        "lock_state": LockState.LOCKED if blocked else LockState.UNLOCKED,
        "charging": charge,
    }
    alarms = [name for bit, name in ALARM_BITS if alarm_flags >> bit & 1] if alarm_flags else []
    items = body[_BASIC:]
    if len(items) == 20:  # Traccar: a vendor's fixed 20-byte tail instead of items
        attributes["odometer"] = int.from_bytes(items[4:8], "big") * 1000
        attributes["battery"] = round(int.from_bytes(items[8:10], "big") * 0.1, 3)
        attributes["rssi"] = items[14]
    else:
        _read_items(items, fields, attributes, alarms)
    if "odometer" in attributes:
        fields["odometer_km"] = float(attributes["odometer"]) / 1000  # type: ignore[arg-type]
    if "sat" in attributes:
        fields["satellites"] = attributes["sat"]
    level = attributes.get("batteryLevel")
    if isinstance(level, int | float) and 0 <= level <= 100:
        fields["battery_pct"] = float(level)
    fields["alarms"] = tuple(dict.fromkeys(alarms))
    fields["attributes"] = attributes
    return fields


def parse_location_batch(body: bytes) -> list[dict[str, Any]]:
    """0x0704: count (2), type (1: 0 normal, 1 blind-area), then (length (2), location)."""
    if len(body) < 3:
        raise FrameError("JT/T 808 batch location too short for count and type")
    archive = body[2] > 0
    at, locations = 3, []
    while at + 2 <= len(body):
        size = int.from_bytes(body[at : at + 2], "big")
        chunk = body[at + 2 : at + 2 + size]
        if len(chunk) < size:
            raise FrameError(f"JT/T 808 batch item declares {size} bytes, {len(chunk)} left")
        fields = parse_location(chunk)
        if archive:
            fields["attributes"]["archive"] = True
        locations.append(fields)
        at += 2 + size
    return locations


def _u(value: bytes) -> int:
    return int.from_bytes(value, "big")


def _ascii(value: bytes) -> str:
    return value.decode("ascii", "replace")


def _read_items(
    items: bytes, fields: dict[str, Any], attributes: dict[str, object], alarms: list[str]
) -> None:
    at = 0
    while at + 2 <= len(items):
        item, size = items[at], items[at + 1]
        value = items[at + 2 : at + 2 + size]
        at += 2 + size
        if len(value) < size:
            attributes["truncatedItem"] = item
            return
        if item == 0x80 and value:  # OBD extension: items to the end of the body
            _read_extension(items[at - size + 1 :], attributes)
            return
        _read_item(item, value, attributes, alarms)


def _read_item(item: int, value: bytes, attributes: dict[str, object], alarms: list[str]) -> None:
    """One additional-information item, by Traccar's reading of it (unknown: skipped)."""
    size = len(value)
    if item == 0x01 and size >= 4:
        attributes["odometer"] = _u(value[:4]) * 100  # 1/10 km -> m
    elif item == 0x02 and size >= 2:
        attributes["fuel"] = round(_u(value[:2]) * 0.1, 3)
    elif item == 0x03 and size >= 2:
        attributes["recorderSpeed"] = round(_u(value[:2]) * 0.1, 3)  # tachograph km/h
    elif item == 0x25 and size >= 4:
        attributes["input"] = _u(value[:4])
    elif item in (0x2B, 0xA7) and size >= 4:
        attributes["adc1"], attributes["adc2"] = _u(value[0:2]), _u(value[2:4])
    elif item == 0x30 and size >= 1:
        attributes["rssi"] = value[0]
    elif item == 0x31 and size >= 1:
        attributes["sat"] = value[0]
    elif item == 0x33 and _ascii(value).startswith("*M00") and size >= 15:
        lock = _ascii(value)[8:15]
        if lock[2:5].isdigit():
            attributes["battery"] = int(lock[2:5]) * 0.01
    elif item == 0x56 and size >= 1:
        attributes["batteryLevel"] = value[0] * 10
    elif item == 0x69 and size >= 2:
        attributes["battery"] = round(_u(value[:2]) * 0.01, 3)
    elif item == 0x94 and size:
        attributes["vin"] = _ascii(value)
    elif item == 0xAC and size >= 4:
        attributes["odometer"] = _u(value[:4])
    elif item == 0xD0 and size >= 4 and _u(value[:4]) & 0x08:
        alarms.append("vibration")
    elif item in (0xD3,) and size >= 2:
        attributes["power"] = round(_u(value[:2]) * 0.1, 3)
    elif item in (0xD4, 0xE1) and size == 1:
        attributes["batteryLevel"] = value[0]
    elif item in (0xD4, 0xE1) and size >= 4:
        attributes["driverUniqueId"] = str(_u(value[:4]))
    elif item == 0xD5:
        _read_locks(value, attributes)
    elif item == 0xDA and size >= 3:
        attributes["string"] = bool(value[2] & 0x01)
        attributes["motion"] = bool(value[2] & 0x04)
        attributes["cover"] = bool(value[2] & 0x08)
    elif item == 0xE2 and size >= 4:
        attributes["fuel"] = round(_u(value[:4]) * 0.1, 3)
    elif item == 0xE3 and size >= 4:
        attributes["batteryLevel"] = value[1]
        attributes["battery"] = _u(value[2:4]) / 100
    elif item == 0xEB:
        _read_extended(value, attributes)
    elif item == 0xED and size:
        attributes["card"] = _ascii(value).strip()
    elif item == 0xEE and size >= 6:
        attributes["rssi"] = value[0]
        attributes["power"] = round(_u(value[1:3]) * 0.001, 3)
        attributes["battery"] = round(_u(value[3:5]) * 0.001, 3)
        attributes["sat"] = value[5]
    elif item == 0xF1 and size >= 4:
        attributes["power"] = round(_u(value[:4]) * 0.001, 3)
    elif item == 0xF7 and size >= 4:
        attributes["battery"] = round(_u(value[:4]) * 0.001, 3)
        if size >= 5 and value[4] in (2, 3):
            attributes["charge"] = True
        if size >= 6:
            attributes["batteryLevel"] = value[5]
    elif item == 0xFE and size == 1:
        attributes["batteryLevel"] = value[0]
    elif item == 0xFE and size == 2:
        attributes["power"] = round(_u(value) * 0.1, 3)


def _read_locks(value: bytes, attributes: dict[str, object]) -> None:
    """0xD5: lock battery voltage (2 bytes), or a count of e-locks (id, card, battery, state)."""
    if len(value) == 2:
        attributes["battery"] = round(_u(value) * 0.01, 3)
        return
    count = value[0] if value else 0
    for index in range(1, count + 1):
        lock = value[1 + (index - 1) * 13 : 1 + index * 13]
        if len(lock) < 13:
            return
        attributes[f"lock{index}Id"] = lock[0:5].hex()
        attributes[f"lock{index}Card"] = lock[5:10].hex()
        attributes[f"lock{index}Battery"] = lock[10]
        attributes[f"lock{index}Locked"] = not _u(lock[11:13]) & 0x20


def _read_extended(value: bytes, attributes: dict[str, object]) -> None:
    """0xEB: cell towers (first word an MCC over 200: skipped), or (length 2, type 2) blocks."""
    if len(value) >= 2 and _u(value[:2]) > 200:
        return
    at = 0
    while at + 4 <= len(value):
        size, kind = _u(value[at : at + 2]), _u(value[at + 2 : at + 4])
        data = value[at + 4 : at + 2 + size]
        at += 2 + size
        if size < 2:
            return
        if kind == 0x0001 and len(data) >= 2:
            attributes["fuel1"] = round(_u(data[:2]) * 0.1, 3)
        elif kind == 0x0023 and len(data) >= 6:
            with contextlib.suppress(ValueError):
                attributes["fuel2"] = float(_ascii(data[:6]))
        elif kind == 0x00B2 and len(data) >= 10:
            attributes["iccid"] = data[:10].hex().replace("f", "")
        elif kind == 0x00CE and len(data) >= 2:
            attributes["power"] = round(_u(data[:2]) * 0.01, 3)
        elif kind in (0x00A8, 0x00E1) and data:
            attributes["batteryLevel"] = data[0]


_EXTENSION: dict[int, tuple[str, float, int]] = {  # id -> (attribute, scale, offset)
    0x01: ("odometer", 100, 0),
    0x02: ("fuel", 0.1, 0),
    0x03: ("obdSpeed", 0.1, 0),
    0x80: ("obdSpeed", 1, 0),
    0x81: ("rpm", 1, 0),
    0x82: ("power", 0.1, 0),
    0x83: ("engineLoad", 1, 0),
    0x84: ("coolantTemp", 1, -40),
    0x85: ("fuelConsumption", 1, 0),
    0x86: ("intakeTemp", 1, -40),
    0x87: ("intakeFlow", 1, 0),
    0x88: ("intakePressure", 1, 0),
    0x89: ("throttle", 1, 0),
    0x8C: ("obdOdometer", 100, 0),
    0x8D: ("tripOdometer", 1000, 0),
    0x8E: ("fuel", 1, 0),
}


def _read_extension(data: bytes, attributes: dict[str, object]) -> None:
    """Item 0x80's OBD items (id 1, length 1, value) up to the end of the body."""
    at = 0
    while at + 2 <= len(data):
        item, size = data[at], data[at + 1]
        value = data[at + 2 : at + 2 + size]
        at += 2 + size
        if len(value) < size:
            return
        if item in _EXTENSION and value:
            name, scale, offset = _EXTENSION[item]
            number = _u(value) * scale + offset
            attributes[name] = round(number, 3) if isinstance(number, float) else number
        elif item == 0x8B:
            attributes["vin"] = _ascii(value)
        elif item == 0xA0:
            attributes["dtcs"] = _ascii(value).replace(",", " ")
        elif item == 0xCC:
            attributes["iccid"] = _ascii(value)
