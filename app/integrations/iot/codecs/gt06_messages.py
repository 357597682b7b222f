"""GT06 message contents of short (``7878``) frames: GPS, cell towers, status, alarms, text.

``parse_content`` turns one message's content (between protocol number and serial number)
into DeviceRecord keyword fields, reading forward field by field as Traccar's
``Gt06ProtocolDecoder`` does (the reference for layouts and names; the newest we could read
is a 2026 copy, see ``UNMATCHED``).
GT06 clones share protocol numbers with different layouts; like Traccar we tell them
apart by the frame's length field (``Variant``), never by guessing from the bytes.
Attributes without a typed DeviceRecord field keep Traccar's key names.

Types decoded to OTHER on purpose (nothing a fleet console stores): 0x2A address request,
0x35/0x36 X1 photo transfer, 0x8C/0x65/0x66 OBD/DTC/PID text, 0x40/0x41 WD-209 battery and
media, 0x80-0x82 our own command packets, and any type Traccar does not decode either.
Frames we knowingly decode otherwise than Traccar's tests expect are named in ``UNMATCHED``.
"""

from __future__ import annotations

import contextlib
import enum
import re
import struct
from datetime import UTC, datetime
from typing import Any

from app.integrations.iot.records import LockState, RecordKind

MSG_LOGIN = 0x01
MSG_STATUS = 0x13
MSG_STRING = 0x15
MSG_WIFI = 0x17  # also GPS + LBS + RFID in the RFID variant
MSG_STRING_INFO = 0x21
MSG_HEARTBEAT = 0x23
MSG_X1_GPS = 0x34
MSG_IBUTTON = 0x61  # GPS + LBS + iButton driver id
MSG_STATUS_2 = 0x36  # Jimi IoT 4G
MSG_WIFI_2 = 0x69
MSG_TIME_REQUEST = 0x8A
MSG_INFO = 0x94
MSG_ALARM = 0x95
MSG_SERIAL = 0x9B
MSG_WIFI_3 = 0xA2  # also GPS + LBS + status in the LW4G variant
MSG_WIFI_4 = 0xF3
MSG_COMMAND = 0x80
WIFI_TYPES = frozenset({MSG_WIFI, MSG_WIFI_2})  # short frames without serial and CRC
COMMAND_TYPES = frozenset({0x80, 0x81, 0x82})

# Traccar's hasGps / hasLbs / hasStatus sets (0x17 and 0xA2 only in their GPS variants).
GPS_TYPES = frozenset(
    {0x10, 0x11, 0x12, 0x16, 0x1A, 0x1E, 0x22, 0x26, 0x27, 0x2D, 0x31, 0x32, 0x37, 0x38}
    | {0xA0, 0xA3, 0xA4}
)
LBS_TYPES = frozenset(
    {0x11, 0x12, 0x16, 0x19, 0x22, 0x26, 0x27, 0x2D, 0x31, 0x32, 0x37}
    | {0xA0, 0xA3, 0xA4, 0xA5, 0xA7}
)
STATUS_TYPES = frozenset({0x16, 0x19, 0x26, 0x27, 0x32, 0x36, 0xA4, 0xA5})
_LOCATED_TYPES = GPS_TYPES | LBS_TYPES | STATUS_TYPES  # Traccar's isSupported
# Several cell towers (and Wi-Fi) with a time but no fix.
MULTI_LBS_TYPES = frozenset({0x18, 0x24, 0x28, 0x2C, 0x2E, 0x33, 0xA1})
_GEOFENCE_BYTE_TYPES = frozenset({0x27, 0xA4})
_ACC_BYTE_TYPES = frozenset({0x22, 0x2D, 0x31, 0x37})
DATA_TYPES = (
    GPS_TYPES
    | LBS_TYPES
    | MULTI_LBS_TYPES
    | {MSG_STATUS, MSG_HEARTBEAT, MSG_INFO, MSG_ALARM, MSG_WIFI, MSG_WIFI_2, MSG_WIFI_3}
    | {0x70, MSG_X1_GPS, MSG_STATUS_2, MSG_IBUTTON}
)

# What we knowingly decode otherwise than Traccar's own tests expect, and why. The newest
# Traccar decoder we could read (itguinlab-maker/traccar-personalizado@91e5d27, a copy of
# traccar/traccar with the 2012-2026 header) has no layout for the first two, so we do not
# guess one from a single asserted value; the third is Traccar reading past the content.
UNMATCHED: dict[str, str] = {
    "0xF1": "0xF1 (2025 firmware) power item: no Traccar decoder we could read has its layout",
    "0xA3 steps": (
        "0xA3 step counter: no Traccar decoder we could read has its layout (they read 0xA3"
        " as GPS + LBS, or as a 12-byte SEEWORLD status)"
    ),
    "0x32 SL4X altitude": (
        "SL4X 0x32 whose status block ends early: Traccar reads its signal and alarm bytes"
        " from the serial number and its altitude from the CRC; we read only the content"
    ),
}

_STATUS_ALARMS = {1: "vibration", 2: "powerCut", 3: "lowBattery", 4: "sos", 6: "geofence"}
# Alarm extension byte of a status block (Traccar decodeAlarm, non-LW models).
ALARM_CODES: dict[int, str] = {
    0x01: "sos",
    0x02: "powerCut",
    0x03: "vibration",
    0x04: "geofenceEnter",
    0x05: "geofenceExit",
    0x06: "overspeed",
    0x09: "vibration",
    0x0C: "tampering",
    0x0E: "lowBattery",
    0x0F: "lowBattery",
    0x11: "powerOff",
    0x13: "tampering",
    0x14: "door",
    0x18: "removing",
    0x19: "lowBattery",
    0x1A: "hardBraking",
    0x1B: "hardCornering",
    0x23: "fallDown",
    0x25: "tampering",
    0x28: "hardBraking",
    0x29: "hardAcceleration",
    0x2A: "hardCornering",
    0x2B: "hardCornering",
    0x2C: "accident",
    0x2E: "hardCornering",
    0x30: "jamming",
}
# 0x95 (JC100 / JC400) event codes.
_EVENT_ALARMS = {
    0x0E: "lowPower",
    0x76: "temperature",
    0x80: "vibration",
    0x87: "overspeed",
    0x88: "powerCut",
    0x90: "hardAcceleration",
    0x91: "hardBraking",
    0x92: "hardCornering",
    0x93: "accident",
}
_LOCK_ALARM_CODES = {0x33: LockState.LOCKED, 0x34: LockState.UNLOCKED}
_CURRENT_POSITION = re.compile(
    r"Current position!Lat:([NS])(\d+\.\d+),Lon:([EW])(\d+\.\d+),Course:(\d+\.\d+),"
    r"Speed:(\d+\.\d+),DateTime:(\d{4})-(\d\d)-(\d\d) +(\d\d):(\d\d):(\d\d)"
)
KNOTS_TO_KMH = 1.852


class Variant(enum.Enum):
    """Clone layouts Traccar recognises by protocol number and length field."""

    STANDARD = "standard"
    VXT01 = "vxt01"
    S5 = "s5"
    WETRUST = "wetrust"
    SEEWORLD = "seeworld"
    SL4X = "sl4x"
    OBD6 = "obd6"
    RFID = "rfid"
    LW4G = "lw4g"
    JC400 = "jc400"
    SR411_MINI = "sr411mini"


_VARIANTS = {
    (0x12, 0x24): Variant.VXT01,
    (0x16, 0x24): Variant.VXT01,
    (0x12, 0x29): Variant.WETRUST,
    (0x12, 0x2B): Variant.S5,
    (0x22, 0x2F): Variant.SEEWORLD,
    (0x16, 0x26): Variant.SEEWORLD,
    (0x31, 0x2A): Variant.SL4X,
    (0x32, 0x27): Variant.SL4X,
    (0x32, 0x29): Variant.SL4X,
    (0x13, 0x13): Variant.OBD6,
    (0x17, 0x28): Variant.RFID,
    (0xA2, 0x40): Variant.LW4G,
    (0x24, 0x2E): Variant.SR411_MINI,
}


_GPS_VARIANTS = frozenset({Variant.RFID, Variant.LW4G, Variant.SR411_MINI})


def variant_of(msg_type: int, length: int, content: bytes) -> Variant:
    if msg_type == MSG_ALARM and content[:2] == b"\xff\xff":
        return Variant.JC400
    return _VARIANTS.get((msg_type, length), Variant.STANDARD)


class Short(Exception):
    """The content ended before a field the layout promises."""


class Reader:
    """Forward cursor over a message's content; reading past the end raises Short."""

    __slots__ = ("at", "data")

    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    @property
    def left(self) -> int:
        return len(self.data) - self.at

    def take(self, size: int) -> bytes:
        if size < 0 or self.at + size > len(self.data):
            raise Short
        chunk = self.data[self.at : self.at + size]
        self.at += size
        return chunk

    def skip(self, size: int) -> None:
        """Move past bytes nobody reads, without copying them."""
        if size < 0 or self.at + size > len(self.data):
            raise Short
        self.at += size

    def uint(self, size: int) -> int:
        # Not via take(): this runs a dozen times per frame on the gateway's hot path.
        at = self.at
        end = at + size
        if size < 0 or end > len(self.data):
            raise Short
        self.at = end
        return int.from_bytes(self.data[at:end], "big")

    def sint(self, size: int) -> int:
        return int.from_bytes(self.take(size), "big", signed=True)


class Parsed:
    """Fields gathered while reading one message, turned into record keywords at the end."""

    __slots__ = ("alarms", "attributes", "fields", "kind")

    def __init__(self) -> None:
        self.fields: dict[str, object] = {}
        self.attributes: dict[str, object] = {}
        self.alarms: list[str] = []
        self.kind = RecordKind.OTHER

    def status(self) -> None:
        if self.kind is RecordKind.OTHER:
            self.kind = RecordKind.STATUS

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


def parse_content(msg_type: int, content: bytes, length: int) -> Parsed:
    """Read one short-frame message; ``length`` is its length field (the clone variant)."""
    parsed = Parsed()
    variant = variant_of(msg_type, length, content)
    with contextlib.suppress(Short):  # a clone that stops early: keep what was read
        _dispatch(msg_type, Reader(content), parsed, variant, length)
    if parsed.kind is RecordKind.OTHER:
        parsed.attributes.setdefault("content", content.hex())
    parsed.attributes["type"] = msg_type
    return parsed


def _dispatch(msg_type: int, r: Reader, parsed: Parsed, variant: Variant, length: int) -> None:
    if msg_type == MSG_STATUS:
        _read_status_message(r, parsed, variant)
    elif msg_type == MSG_HEARTBEAT:
        _read_heartbeat(r, parsed)
    elif msg_type in (MSG_STRING, MSG_STRING_INFO):
        read_string(msg_type, r.data, parsed)
    elif msg_type == MSG_INFO:
        parsed.status()
        parsed.attributes["power"] = r.sint(2) * 0.01
    elif msg_type == MSG_ALARM:
        _read_alarm(r, parsed, variant, length)
    elif msg_type == MSG_X1_GPS:
        _read_x1(r, parsed)
    elif msg_type == MSG_IBUTTON:
        _read_ibutton(r, parsed)
    elif msg_type in (MSG_WIFI, MSG_WIFI_2, MSG_WIFI_4) and variant is not Variant.RFID:
        _read_wifi(msg_type, r, parsed, length)
    elif (msg_type in MULTI_LBS_TYPES and variant is not Variant.SR411_MINI) or (
        msg_type == MSG_WIFI_3 and variant is not Variant.LW4G
    ):
        _read_multi_lbs(msg_type, r, parsed)
    elif msg_type in _LOCATED_TYPES or variant in _GPS_VARIANTS:
        _read_located(msg_type, r, parsed, variant)


# read_gps's block in one struct read per (satellites byte, speed bytes) it is asked for:
# date and time (6), GPS info (1), latitude (4), longitude (4), speed (0-2), course/flags.
_GPS_LAYOUTS = {
    (satellites, speed): struct.Struct(
        ">6B" + ("B" if satellites else "") + "II" + ("", "B", "H")[speed] + "H"
    )
    for satellites in (True, False)
    for speed in (0, 1, 2)
}


def stamp_time(stamp: bytes | tuple[int, ...]) -> datetime | None:
    """``YY MM DD hh mm ss`` bytes as a UTC time; None when they are not a date."""
    try:
        year, month, day, hour, minute, second = stamp
        return datetime(2000 + year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None


def read_gps(
    r: Reader, parsed: Parsed, *, satellites: bool = True, speed: int = 1, strict: bool = True
) -> bool:
    """Date/time, satellites, lat/lon, speed and course/status; False if it is no GPS block.

    A block whose date is impossible or whose GPS-info byte is 0 is a clone's other data,
    so nothing is stored from it (Traccar would store a 1999/2000 fix).
    """
    layout = _GPS_LAYOUTS[satellites, speed]
    if r.left < layout.size:
        raise Short
    fields = layout.unpack_from(r.data, r.at)
    r.at += layout.size
    fix_time = stamp_time(fields[:6])
    info, lat_at = (fields[6], 7) if satellites else (0xFF, 6)
    latitude = fields[lat_at] / 1_800_000
    longitude = fields[lat_at + 1] / 1_800_000
    speed_kmh = float(fields[lat_at + 2]) if speed else None
    flags = fields[-1]
    if fix_time is None:
        return False
    if (strict and info >> 4 == 0) or latitude > 90 or longitude > 180:
        return False
    course = flags & 0x3FF
    parsed.kind = RecordKind.POSITION
    parsed.fields.update(
        fix_time=fix_time,
        valid_fix=bool(flags & 0x1000),
        latitude=latitude if flags & 0x0400 else -latitude,
        longitude=-longitude if flags & 0x0800 else longitude,
        speed_kmh=speed_kmh,
        course_deg=float(course) if course <= 360 else None,
    )
    if satellites:
        parsed.fields["satellites"] = info & 0x0F
    if flags & 0x4000:
        parsed.attributes["ignition"] = bool(flags & 0x8000)
    return True


def _read_lbs(msg_type: int, r: Reader, variant: Variant, has_length: bool) -> None:
    """One cell tower; with a length byte (counting itself), bytes past it are skipped.

    A length of 0 means no tower; Traccar then skips a zero-filled block of up to 45 bytes.
    """
    size = r.uint(1) if has_length else 0
    if has_length and size == 0:
        if not any(r.data[r.at + 9 : r.at + 45]):
            r.take(min(r.left, 45))
        return
    start = r.at
    mcc = r.uint(2)
    mnc = 2 if mcc & 0x8000 or msg_type == 0x11 or variant is Variant.SL4X else 1
    long_ids = msg_type in (0xA0, 0xA4, 0xA5) or variant is Variant.LW4G
    if long_ids or variant is Variant.SL4X:
        cell = 8
    else:
        four_byte_cell = msg_type in (0x11, MSG_IBUTTON) or variant is Variant.SEEWORLD
        cell = 4 if four_byte_cell else 3
    r.skip(mnc + (4 if long_ids else 2) + cell)  # MNC, LAC, cell id: nothing we store
    if size > 1 + r.at - start:
        r.skip(size - 1 - (r.at - start))


def _read_located(msg_type: int, r: Reader, parsed: Parsed, variant: Variant) -> None:
    """GPS, cell tower and status messages (Traccar's ``isSupported`` branch)."""
    gps_type = msg_type in GPS_TYPES or variant in _GPS_VARIANTS
    if gps_type:
        read_gps(r, parsed)
    else:
        parsed.status()
    lbs_type = msg_type in LBS_TYPES or variant in _GPS_VARIANTS
    has_status = msg_type in STATUS_TYPES or variant is Variant.LW4G
    if lbs_type and r.left > 0:
        has_length = (
            has_status
            and msg_type not in (0x19, 0xA5)
            and variant not in (Variant.VXT01, Variant.LW4G)
        )
        _read_lbs(msg_type, r, variant, has_length)
    if has_status:
        if variant is Variant.LW4G:
            r.take(1)  # network indicator
        parsed.status()
        terminal_info(r.uint(1), parsed)
        if variant is Variant.LW4G:
            parsed.attributes["power"] = r.uint(2) * 0.01
        voltage_level(r.uint(1), parsed)
        parsed.attributes["rssi"] = r.uint(1)
        code = r.uint(1)
        if variant is not Variant.VXT01:
            alarm_code(code, parsed)
    if msg_type == MSG_STATUS_2:
        _read_status_modules(r, parsed)
    _read_variant_tail(msg_type, r, parsed, variant)
    if msg_type in _ACC_BYTE_TYPES and r.left >= 3 and variant is not Variant.SEEWORLD:
        parsed.attributes["ignition"] = r.uint(1) > 0
        parsed.attributes["event"] = r.uint(1)
        parsed.attributes["archive"] = r.uint(1) > 0
        if variant is Variant.SL4X:
            if r.left > 2:
                parsed.fields["odometer_km"] = r.uint(4) / 1000
            parsed.fields["altitude_m"] = float(r.sint(2))
    if msg_type == 0x37:
        _read_modules(r, parsed)
    if variant is Variant.RFID:
        parsed.attributes["driverUniqueId"] = r.take(8).hex()
        r.take(1)  # validity
    if variant is Variant.SR411_MINI:
        parsed.attributes["ignition"] = r.uint(1) > 0
        parsed.attributes["power"] = r.uint(2) * 0.01
        parsed.attributes["battery"] = r.uint(2) * 0.01
    if r.left in (3, 7):
        parsed.attributes["ignition"] = r.uint(1) > 0
        r.take(1)  # upload mode
        if r.uint(1) > 0:
            parsed.attributes["archive"] = True
    if r.left == 4:
        parsed.fields["odometer_km"] = r.uint(4) / 1000
    if msg_type in _GEOFENCE_BYTE_TYPES and r.left > 0:
        parsed.attributes["geofence"] = r.data[-1]


def _read_variant_tail(msg_type: int, r: Reader, parsed: Parsed, variant: Variant) -> None:
    """What the clone variants put after the cell tower of 0x12, 0x22 and 0x32."""
    if variant in (Variant.VXT01, Variant.S5) and msg_type == 0x12:
        terminal_info(r.uint(1), parsed)
        parsed.attributes["power"] = r.uint(2) * 0.01
        parsed.attributes["rssi"] = r.uint(1)
        code = r.uint(1)
        if variant is Variant.S5:
            alarm_code(code, parsed)
            parsed.attributes["oil"] = r.uint(2)
            temperature = r.uint(1)
            parsed.attributes["temp1"] = (
                -(temperature & 0x7F) if temperature & 0x80 else temperature
            )
            parsed.fields["odometer_km"] = r.uint(4) * 10 / 1000
    elif variant is Variant.WETRUST:
        parsed.fields["odometer_km"] = r.uint(4) / 1000
        parsed.attributes["card"] = r.take(r.uint(1)).decode("ascii", errors="replace")
        if r.uint(1) > 0:
            parsed.alarms.append("general")
        parsed.attributes["cardStatus"] = r.uint(1)
        parsed.attributes["drivingTime"] = r.uint(2)
    elif variant is Variant.SEEWORLD and msg_type == 0x22:
        parsed.attributes["ignition"] = r.uint(1) > 0
        r.take(2)  # reporting mode, supplementary transmission
        parsed.fields["odometer_km"] = r.uint(4) / 1000
        r.take(4)  # travel time
        value = r.uint(2)
        parsed.attributes["temp1"] = (-(value & 0x7FFF) if value & 0x8000 else value) * 0.01
        parsed.attributes["humidity"] = r.uint(2) * 0.01
    elif variant is Variant.SL4X and msg_type == 0x32:
        # Only from the content: where the status block ends early Traccar goes on into
        # the serial number and CRC for it (UNMATCHED["0x32 SL4X altitude"]).
        parsed.fields["altitude_m"] = float(r.sint(2))


def _read_modules(r: Reader, parsed: Parsed) -> None:
    """0x37 ends in one (module id: 2, length: 1, value) item: 0x27 power, 0x2E odometer."""
    module, size = r.uint(2), r.uint(1)
    value = r.uint(size)
    if module == 0x27:
        parsed.attributes["power"] = value * 0.01
    elif module == 0x2E:
        parsed.fields["odometer_km"] = value / 1000


def _read_status_modules(r: Reader, parsed: Parsed) -> None:
    """0x36 after its status: language, then (module: 2, length: 1, value) items."""
    r.take(1)
    while r.left > 0:
        module, value = r.uint(2), Reader(r.take(r.uint(1)))
        if module == 0x18:
            parsed.attributes["battery"] = value.uint(2) / 100
        elif module == 0x32:
            parsed.attributes["startupStatus"] = value.uint(1)
        elif module == 0x6A:
            parsed.fields["battery_pct"] = float(min(value.uint(1), 100))


def _read_status_message(r: Reader, parsed: Parsed, variant: Variant) -> None:
    """0x13: the classic 5-byte status, the 16-byte clone, or the OBD6 layout."""
    parsed.status()
    if r.left == 16:  # information content, satellites, alarm, language, battery %, ...
        r.take(5)
        parsed.fields["battery_pct"] = float(min(r.uint(1), 100))
        r.take(8)
        value = r.uint(2)
        temperature = (value & 0x7FFF) * 0.1
        parsed.attributes["temp1"] = temperature if value & 0x8000 else -temperature
        return
    terminal_info(r.uint(1), parsed)
    if variant is Variant.OBD6:
        signal = r.uint(2)
        parsed.fields["satellites"] = ((signal >> 10) & 0x1F) + ((signal >> 5) & 0x1F)
        parsed.attributes["rssi"] = signal & 0x1F
        alarm_code(r.uint(1), parsed)
        r.take(1)  # language
        parsed.fields["battery_pct"] = float(min(r.uint(1), 100))
        r.take(1)  # working mode
        parsed.attributes["power"] = r.uint(2) / 100
        if r.left == 5:  # later OBD6 firmware: reserved bytes, then temperature x10
            r.take(3)
            parsed.attributes["temp1"] = r.sint(2) / 10
        return
    voltage_level(r.uint(1), parsed)
    parsed.attributes["rssi"] = r.uint(1)
    alarm_code(r.uint(1), parsed)


def _read_heartbeat(r: Reader, parsed: Parsed) -> None:
    """0x23 (GK310): terminal info, battery volts, GSM signal."""
    parsed.status()
    terminal_info(r.uint(1), parsed)
    if r.left >= 2:
        parsed.attributes["battery"] = r.uint(2) * 0.01
    if r.left >= 1:
        parsed.attributes["rssi"] = r.uint(1)


def _read_alarm(r: Reader, parsed: Parsed, variant: Variant, length: int) -> None:
    """0x95 (JC100/JC400 dash cams): a fix or a time, the event, then video file names."""
    parsed.status()
    if length - 5 > 7:
        if variant is Variant.JC400:
            r.take(3)  # marker, version
            read_gps(r, parsed, speed=2)
            parsed.attributes["power"] = r.uint(2) * 0.1
        else:
            read_gps(r, parsed, satellites=False, speed=0)
    else:
        parsed.fields["fix_time"] = stamp_time(r.take(6))
    event = r.uint(1)
    parsed.attributes["event"] = event
    if event == 0x01:
        parsed.alarms.append("sos" if length - 5 > 7 else "general")
    elif event in _EVENT_ALARMS:
        parsed.alarms.append(_EVENT_ALARMS[event])
    files = r.data[r.at + 2 :].rstrip(b"\x00").decode("ascii", errors="replace")
    if files:
        parsed.attributes["eventFiles"] = files


def _read_x1(r: Reader, parsed: Parsed) -> None:
    """0x34 (X1 and clones): GPS, odometer, cell, driver id, battery/power, I/O, ADCs."""
    r.take(4)  # data and alarm
    read_gps(r, parsed, strict=False)  # X1 puts no GPS-info length in the high nibble
    r.take(2)  # terminal info
    parsed.fields["odometer_km"] = r.uint(4) / 1000
    r.take(9)  # mcc, mnc, lac, cell id
    driver = r.uint(4)
    if driver:
        parsed.attributes["driverUniqueId"] = str(driver)
    parsed.attributes["battery"] = r.uint(2) * 0.01
    parsed.attributes["power"] = r.uint(2) * 0.01
    ports = r.uint(4)
    parsed.attributes["input"] = r.uint(1)
    parsed.attributes["output"] = r.uint(1)
    for index in range(1, ((ports >> 20) & 0x0F) + 1):
        parsed.attributes[f"adc{index}"] = r.uint(2) * 0.01


def _read_ibutton(r: Reader, parsed: Parsed) -> None:
    """0x61: IMEI, a GPS block, one cell tower (4-byte cell id), then the iButton driver
    id in 6 bytes, which Traccar writes as a decimal ``driverUniqueId``."""
    r.take(8)  # IMEI, already known from the login
    read_gps(r, parsed)
    _read_lbs(MSG_IBUTTON, r, Variant.STANDARD, has_length=False)
    parsed.attributes["driverUniqueId"] = str(r.uint(6))


def _bcd_time(stamp: bytes) -> datetime | None:
    try:
        y, mo, d, h, mi, s = (int(f"{b:02x}") for b in stamp)
        return datetime(2000 + y, mo, d, h, mi, s, tzinfo=UTC)
    except ValueError:
        return None


def _read_wifi(msg_type: int, r: Reader, parsed: Parsed, length: int) -> None:
    """0x17 / 0x69 / 0xF3: Wi-Fi access points and cell towers, no fix (Traccar keeps the
    last known location; we store the scan with its time). In 0x17/0x69 the frame's length
    byte is the access-point count."""
    parsed.status()
    parsed.fields["fix_time"] = _bcd_time(r.take(6))
    count = r.uint(1) if msg_type == MSG_WIFI_4 else length
    macs = []
    for _ in range(count):
        if msg_type == MSG_WIFI_4:
            r.take(2)
        macs.append(":".join(f"{b:02x}" for b in r.take(6)))
        if msg_type != MSG_WIFI_4:
            r.take(1)  # signal
    parsed.attributes["wifi"] = macs
    if msg_type != MSG_WIFI_4:
        cells, mcc, mnc = r.uint(1), r.uint(2), r.uint(1)
        parsed.attributes["cells"] = [
            {"mcc": mcc, "mnc": mnc, "lac": r.uint(2), "cid": r.uint(2), "rssi": r.uint(1)}
            for _ in range(cells)
        ]


def _read_multi_lbs(msg_type: int, r: Reader, parsed: Parsed) -> None:
    """Several cell towers (0x28, 0x2E, 0x24, 0xA1…) and Wi-Fi (0x2C, 0xA2): time, no fix."""
    parsed.status()
    parsed.fields["fix_time"] = stamp_time(r.take(6))
    mcc = r.uint(2)
    mnc = r.uint(2 if mcc & 0x8000 else 1)
    cells = []
    for _ in range(6 if msg_type == 0x33 else 7):
        if msg_type in (0xA1, MSG_WIFI_3):
            lac, cid = r.uint(4), r.uint(8)
        elif msg_type == 0x33:
            lac, cid = r.uint(2), r.uint(4)
        else:
            lac, cid = r.uint(2), r.uint(3)
        rssi = -r.uint(1)
        if lac:
            cells.append({"mcc": mcc & 0x7FFF, "mnc": mnc, "lac": lac, "cid": cid, "rssi": rssi})
    parsed.attributes["cells"] = cells


def terminal_info(info: int, parsed: Parsed) -> None:
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
    code = (info >> 3) & 0x07
    if code == 7:
        parsed.alarms.append("removing")
    elif code in _STATUS_ALARMS:
        parsed.alarms.append(_STATUS_ALARMS[code])


def voltage_level(level: int, parsed: Parsed) -> None:
    """Levels 0..6 are the GT06 scale (Traccar: level * 100 / 6); newer clones send %."""
    if level <= 6:
        parsed.fields["battery_pct"] = float(level * 100 // 6)
    elif level <= 100:
        parsed.fields["battery_pct"] = float(level)


def alarm_code(code: int, parsed: Parsed) -> None:
    if code in _LOCK_ALARM_CODES:
        parsed.fields["lock_state"] = _LOCK_ALARM_CODES[code]
    elif code in ALARM_CODES:
        parsed.alarms.append(ALARM_CODES[code])


def read_string(msg_type: int, content: bytes, parsed: Parsed) -> None:
    """Command replies: 0x15 (length, server flag, text) and 0x21 (flag, encoding, text).

    A 0x21 "Current position!Lat:…" answer (to WHERE#) is a fix, as in Traccar.
    """
    if msg_type == MSG_STRING:
        data = content[5 : 1 + content[0]] if content else b""
        text = data.decode("ascii", errors="replace")
    else:
        data = content[5:]
        utf16 = len(content) > 4 and content[4] != 1
        text = data.decode("utf-16-be" if utf16 else "ascii", errors="replace")
    if text.startswith("<ICCID:"):
        parsed.status()
        parsed.attributes["iccid"] = text[7:27]
        return
    match = _CURRENT_POSITION.match(text) if msg_type == MSG_STRING_INFO else None
    if match and _position_text(match, parsed):
        return
    parsed.kind = RecordKind.COMMAND_RESULT
    parsed.fields["command_result"] = text


def _position_text(match: re.Match[str], parsed: Parsed) -> bool:
    ns, lat, ew, lon, course, speed, *stamp = match.groups()
    year, month, day, hour, minute, second = (int(x) for x in stamp)
    try:
        when = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return False
    latitude, longitude = float(lat), float(lon)
    if latitude > 90 or longitude > 180:
        return False
    parsed.kind = RecordKind.POSITION
    parsed.fields.update(
        fix_time=when,
        valid_fix=True,
        latitude=-latitude if ns == "S" else latitude,
        longitude=-longitude if ew == "W" else longitude,
        course_deg=float(course) if float(course) <= 360 else None,
        speed_kmh=float(speed) * KNOTS_TO_KMH,  # Traccar takes the text as knots
    )
    return True
