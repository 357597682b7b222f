"""GT06 message contents: the GPS block, the status tail, alarms, strings and info packets.

``parse_content`` turns one message's content (between protocol number and serial number)
into DeviceRecord keyword fields. GT06 clones disagree on the bytes between the GPS block
and the status; what they agree on is that a status message *ends* with terminal info,
voltage level, GSM signal, alarm and language (plus a geofence byte for 0x27 and 0xA4), so
the status is read from the end rather than by walking the cell-tower block.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.integrations.iot.records import LockState, RecordKind

MSG_LOGIN = 0x01
MSG_STATUS = 0x13
MSG_STRING = 0x15
MSG_STRING_INFO = 0x21
MSG_HEARTBEAT = 0x23
MSG_TIME_REQUEST = 0x8A
MSG_INFO = 0x94
MSG_SERIAL = 0x9B
MSG_COMMAND = 0x80
COMMAND_TYPES = frozenset({0x80, 0x81, 0x82})

# Messages that open with date/time and the GPS block (reference 1.6 and the corpus).
GPS_TYPES = frozenset(
    {0x10, 0x11, 0x12, 0x16, 0x1A, 0x1E, 0x22, 0x24, 0x26, 0x27, 0x2D, 0x31, 0x32, 0x37, 0x38}
    | {0xA0, 0xA2, 0xA4}
)
# Messages that end with the 5-byte status (terminal info, voltage, GSM, alarm, language).
STATUS_TAIL_TYPES = frozenset({0x16, 0x19, 0x26, 0x27, 0xA4, 0xA5})
_GEOFENCE_BYTE_TYPES = frozenset({0x27, 0xA4})
_ACC_BYTE_TYPES = frozenset({0x22, 0x2D, 0x37})
DATA_TYPES = GPS_TYPES | STATUS_TAIL_TYPES | {MSG_STATUS, MSG_HEARTBEAT, MSG_INFO}

_GPS_LENGTH = 18  # date/time 6, info 1, lat 4, lon 4, speed 1, course/status 2
_LBS_LENGTH = 8  # mcc 2, mnc 1, lac 2, cell id 3
# Alarm in bits 3..5 of the terminal-info byte.
_STATUS_ALARMS = {
    1: "vibration",
    2: "powerCut",
    3: "lowBattery",
    4: "sos",
    6: "geofence",
    7: "removing",
}
# Concox alarm codes (the byte before the language in a status tail).
ALARM_CODES: dict[int, str] = {
    0x01: "sos",
    0x02: "powerCut",
    0x03: "vibration",
    0x04: "geofenceEnter",
    0x05: "geofenceExit",
    0x06: "overspeed",
    0x09: "vibration",
    0x0E: "lowBattery",
    0x0F: "lowBattery",
    0x11: "powerOff",
    0x13: "tampering",
    0x14: "door",
    0x19: "lowBattery",
    0x23: "fallDown",
    0x29: "acceleration",
    0x2A: "cornering",
    0x2B: "cornering",
    0x2C: "accident",
    0x30: "braking",
}
_LOCK_ALARM_CODES = {0x33: LockState.LOCKED, 0x34: LockState.UNLOCKED}


class Parsed:
    """Fields gathered while reading one message, turned into record keywords at the end."""

    __slots__ = ("alarms", "attributes", "fields", "kind")

    def __init__(self) -> None:
        self.fields: dict[str, object] = {}
        self.attributes: dict[str, object] = {}
        self.alarms: list[str] = []
        self.kind = RecordKind.OTHER

    def record_fields(self) -> dict[str, Any]:
        """Keyword arguments for DeviceRecord (without protocol, id and raw)."""
        kind = self.kind
        if kind in (RecordKind.OTHER, RecordKind.STATUS) and self.alarms:
            kind = RecordKind.ALARM
        return {
            **self.fields,
            "kind": kind,
            "alarms": tuple(dict.fromkeys(self.alarms)),
            "attributes": self.attributes,
        }


def parse_content(msg_type: int, content: bytes) -> Parsed:
    """Read one message's content; unknown types give an OTHER record with the bytes kept."""
    parsed = Parsed()
    if msg_type in GPS_TYPES:
        _read_gps(msg_type, content, parsed)
    if msg_type in STATUS_TAIL_TYPES:
        _read_status_tail(msg_type, content, parsed)
    elif msg_type == MSG_STATUS:
        _read_heartbeat(content, parsed)
    elif msg_type == MSG_HEARTBEAT and content:
        parsed.kind = RecordKind.STATUS
        _terminal_info(content[0], parsed)
        if len(content) >= 3:
            parsed.attributes["battery"] = int.from_bytes(content[1:3], "big") * 0.01
    elif msg_type in (MSG_STRING, MSG_STRING_INFO, MSG_SERIAL):
        _read_string(msg_type, content, parsed)
    elif msg_type == MSG_INFO and content:
        _read_info(content, parsed)
    if parsed.kind is RecordKind.OTHER:
        parsed.attributes.setdefault("content", content.hex())
    parsed.attributes["type"] = msg_type
    return parsed


def _read_gps(msg_type: int, content: bytes, parsed: Parsed) -> None:
    if len(content) < _GPS_LENGTH - 1 or content[6] >> 4 == 0:
        return  # no GPS block: the device had no fix to report
    year, month, day, hour, minute, second = content[:6]
    try:
        fix_time = datetime(2000 + year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return  # not a date, so not the layout we assumed; keep the bytes as OTHER
    has_speed = len(content) >= _GPS_LENGTH
    latitude = int.from_bytes(content[7:11], "big") / 1_800_000
    longitude = int.from_bytes(content[11:15], "big") / 1_800_000
    flags_at = 16 if has_speed else 15
    flags = int.from_bytes(content[flags_at : flags_at + 2], "big")
    if latitude > 90 or longitude > 180:
        return
    course = flags & 0x3FF
    parsed.kind = RecordKind.POSITION
    parsed.fields.update(
        fix_time=fix_time,
        valid_fix=bool(flags & 0x1000),
        latitude=latitude if flags & 0x0400 else -latitude,
        longitude=-longitude if flags & 0x0800 else longitude,
        speed_kmh=float(content[15]) if has_speed else None,
        course_deg=float(course) if course <= 360 else None,
        satellites=content[6] & 0x0F,
    )
    if flags & 0x4000:
        parsed.attributes["ignition"] = bool(flags & 0x8000)
    if msg_type not in STATUS_TAIL_TYPES:
        _read_after_lbs(msg_type, content[_GPS_LENGTH:], parsed)


def _read_after_lbs(msg_type: int, rest: bytes, parsed: Parsed) -> None:
    """Extras after GPS + cell tower in the plain GPS/LBS messages."""
    if msg_type == 0x31 and len(rest) >= _LBS_LENGTH + 2:
        parsed.fields["altitude_m"] = float(int.from_bytes(rest[-2:], "big", signed=True))
        return
    if len(rest) < _LBS_LENGTH:
        return
    mnc_width = 2 if rest[0] & 0x80 or msg_type == 0x11 else 1
    cell_width = 4 if msg_type == 0x11 else 3
    rest = rest[4 + mnc_width + cell_width :]
    if msg_type in _ACC_BYTE_TYPES and len(rest) >= 3:
        parsed.attributes["ignition"] = rest[0] > 0
        parsed.attributes["event"] = rest[1]
        parsed.attributes["archive"] = rest[2] > 0
        rest = rest[3:]
    if msg_type == 0x37:
        rest = _read_modules(rest, parsed)
    if len(rest) == 4:
        parsed.fields["odometer_km"] = int.from_bytes(rest, "big") / 1000


def _read_modules(rest: bytes, parsed: Parsed) -> bytes:
    """0x37 ends in (module id: 2, length: 1, value) items: 0x27 power, 0x2E odometer (m)."""
    while len(rest) >= 3:
        module, size = int.from_bytes(rest[:2], "big"), rest[2]
        value = rest[3 : 3 + size]
        if len(value) < size:
            break
        number = int.from_bytes(value, "big")
        if module == 0x27:
            parsed.attributes["power"] = number * 0.01
        elif module == 0x2E:
            parsed.fields["odometer_km"] = number / 1000
        rest = rest[3 + size :]
    return rest


def _read_status_tail(msg_type: int, content: bytes, parsed: Parsed) -> None:
    end = len(content) - (1 if msg_type in _GEOFENCE_BYTE_TYPES else 0)
    start = end - 5
    minimum = _GPS_LENGTH if msg_type in GPS_TYPES else 0
    if start < minimum:
        return
    info, voltage, gsm, alarm, _language = content[start:end]
    if parsed.kind is RecordKind.OTHER:
        parsed.kind = RecordKind.STATUS
    _terminal_info(info, parsed)
    _voltage_level(voltage, parsed)
    parsed.attributes["rssi"] = gsm
    _alarm_code(alarm, parsed)
    if end < len(content):
        parsed.attributes["geofence"] = content[end]


def _read_heartbeat(content: bytes, parsed: Parsed) -> None:
    """0x13: terminal info, voltage level, GSM, alarm, language; 16-byte clones give %."""
    if not content:
        return
    parsed.kind = RecordKind.STATUS
    if len(content) == 16:  # information content, satellites, alarm, language, battery %
        if content[5] <= 100:
            parsed.fields["battery_pct"] = float(content[5])
        return
    _terminal_info(content[0], parsed)
    if len(content) >= 2:
        _voltage_level(content[1], parsed)
    if len(content) >= 3:
        parsed.attributes["rssi"] = content[2]
    if len(content) == 5:
        _alarm_code(content[3], parsed)


def _terminal_info(info: int, parsed: Parsed) -> None:
    """Terminal info bits; bit 7 is the oil/electricity cut our ``lock`` command switches.

    Bit 2 is "charge on" in the GT06 protocol (Traccar's ``charge``): on the e-bike
    trackers we fleet it is set while the bike stands on its charger, so it is the
    reading's ``charging``. (A tracker wired to a car's battery would report it always;
    such a vehicle is a car with Smartcar telemetry in this fleet, not a GT06 e-bike.)
    """
    blocked = bool(info & 0x80)
    charge = bool(info & 0x04)
    parsed.attributes.update(armed=bool(info & 0x01), ignition=bool(info & 0x02), charge=charge)
    parsed.fields["charging"] = charge
    parsed.attributes["blocked"] = blocked
    parsed.fields["lock_state"] = LockState.LOCKED if blocked else LockState.UNLOCKED
    alarm = _STATUS_ALARMS.get((info >> 3) & 0x07)
    if alarm:
        parsed.alarms.append(alarm)


def _voltage_level(level: int, parsed: Parsed) -> None:
    """Levels 0..6 are the GT06 scale (Traccar: level * 100 / 6); newer clones send %."""
    if level <= 6:
        parsed.fields["battery_pct"] = float(level * 100 // 6)
    elif level <= 100:
        parsed.fields["battery_pct"] = float(level)


def _alarm_code(code: int, parsed: Parsed) -> None:
    if code in _LOCK_ALARM_CODES:
        parsed.fields["lock_state"] = _LOCK_ALARM_CODES[code]
    elif code in ALARM_CODES:
        parsed.alarms.append(ALARM_CODES[code])


def _read_string(msg_type: int, content: bytes, parsed: Parsed) -> None:
    """Command replies: 0x15 (length, server flag, text), 0x21 (flag, encoding, text), 0x9B."""
    if msg_type == MSG_STRING:
        data = content[5 : 1 + content[0]] if content else b""
        text = data.decode("ascii", errors="replace")
    elif msg_type == MSG_STRING_INFO:
        data = content[5:]
        utf16 = len(content) > 4 and content[4] != 1
        text = data.decode("utf-16-be" if utf16 else "ascii", errors="replace")
    else:
        data = content[1:]
        stripped = data.removesuffix(b"\r\n")
        printable = stripped and all(0x20 <= byte < 0x7F for byte in stripped)
        text = stripped.decode("ascii") if printable else data.hex()
    if text.startswith("<ICCID:"):
        parsed.kind = RecordKind.STATUS
        parsed.attributes["iccid"] = text[7:].rstrip(">")
        return
    parsed.kind = RecordKind.COMMAND_RESULT
    parsed.fields["command_result"] = text


def _read_info(content: bytes, parsed: Parsed) -> None:
    """0x94 information packets; the sub-type says what follows."""
    sub_type, data = content[0], content[1:]
    parsed.kind = RecordKind.STATUS
    parsed.attributes["infoType"] = sub_type
    if (sub_type == 0x00 and len(data) >= 2) or (sub_type == 0x0B and len(data) == 2):
        parsed.attributes["power"] = int.from_bytes(data[:2], "big") * 0.01
    elif sub_type == 0x05 and data:
        parsed.attributes["door"] = bool(data[0] & 0x01)
    elif sub_type == 0x0A and len(data) >= 26:
        parsed.attributes["iccid"] = data[16:26].hex().replace("f", "")
    else:
        parsed.attributes["content"] = data.hex()
