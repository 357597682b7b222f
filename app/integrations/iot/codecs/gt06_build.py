"""Device-side GT06 frames, for simulators and tests: what a Concox tracker sends.

Each builder writes the layout our decoder reads (reference section 1.6), with a real
CRC-ITU, so a simulated tracker and the tests exercise the same bytes a device would.
"""

from __future__ import annotations

from datetime import UTC, datetime

from app.integrations.iot.codecs.gt06 import build_packet
from app.integrations.iot.codecs.gt06_messages import MSG_LOGIN, MSG_STATUS, MSG_STRING

MSG_GPS_LBS = 0x12
MSG_GPS_LBS_STATUS = 0x16
_DEFAULT_CELL = bytes.fromhex("00f001123400abcd")  # MCC 240, MNC 1, LAC, cell id


def build_login(imei: str, serial: int, *, type_code: int = 0x0000) -> bytes:
    """0x01 login: the IMEI as 8 BCD bytes (a leading 0 nibble), then a type code."""
    if not imei.isdigit() or len(imei) != 15:
        raise ValueError(f"GT06 IMEI must be 15 digits, got {imei!r}")
    return build_packet(MSG_LOGIN, bytes.fromhex("0" + imei) + type_code.to_bytes(2, "big"), serial)


def build_location(
    when: datetime,
    lat: float,
    lon: float,
    speed_kmh: float,
    course: float,
    *,
    serial: int,
    satellites: int = 8,
    valid: bool = True,
    ignition: bool | None = None,
    odometer_km: float | None = None,
) -> bytes:
    """0x12 GPS + LBS; an odometer (metres, 4 bytes) is appended when given."""
    content = _gps_block(when, lat, lon, speed_kmh, course, satellites, valid, ignition)
    content += _DEFAULT_CELL
    if odometer_km is not None:
        content += round(odometer_km * 1000).to_bytes(4, "big")
    return build_packet(MSG_GPS_LBS, content, serial)


def build_heartbeat(
    serial: int,
    *,
    voltage_level: int = 6,
    blocked: bool = False,
    ignition: bool = False,
    charging: bool = False,
    armed: bool = False,
    gsm: int = 4,
    alarm_code: int = 0,
) -> bytes:
    """0x13 status: terminal info, voltage level 0..6, GSM 0..4, alarm, language."""
    if not 0 <= voltage_level <= 6:
        raise ValueError("GT06 voltage level is 0..6")
    content = bytes([_terminal_info(blocked, ignition, charging, armed), voltage_level, gsm])
    return build_packet(MSG_STATUS, content + bytes([alarm_code, 0x02]), serial)


def build_alarm(
    when: datetime,
    lat: float,
    lon: float,
    alarm_code: int,
    *,
    serial: int,
    voltage_level: int = 6,
    blocked: bool = False,
) -> bytes:
    """0x16 GPS + LBS + status, the packet a tracker sends with an alarm code (0x01 SOS…)."""
    content = _gps_block(when, lat, lon, 0, 0, 8, True, None)
    content += bytes([len(_DEFAULT_CELL) + 1]) + _DEFAULT_CELL
    info = _terminal_info(blocked, False, False, False)
    content += bytes([info, voltage_level, 4, alarm_code, 0x02])
    return build_packet(MSG_GPS_LBS_STATUS, content, serial)


def build_command_reply(text: str, serial: int, *, server_flag: int = 0) -> bytes:
    """0x15 string reply to a 0x80 command: length, server flag, ASCII text, language."""
    payload = server_flag.to_bytes(4, "big") + text.encode("ascii")
    return build_packet(MSG_STRING, bytes([len(payload)]) + payload + b"\x00\x02", serial)


def _terminal_info(blocked: bool, ignition: bool, charging: bool, armed: bool) -> int:
    return (0x80 if blocked else 0) | (0x04 if charging else 0) | (0x02 if ignition else 0) | armed


def _gps_block(
    when: datetime,
    lat: float,
    lon: float,
    speed_kmh: float,
    course: float,
    satellites: int,
    valid: bool,
    ignition: bool | None,
) -> bytes:
    when = when.astimezone(UTC)
    stamp = bytes([when.year - 2000, when.month, when.day, when.hour, when.minute, when.second])
    flags = round(course) % 360
    flags |= (0x1000 if valid else 0) | (0x0400 if lat >= 0 else 0) | (0x0800 if lon < 0 else 0)
    if ignition is not None:
        flags |= 0x4000 | (0x8000 if ignition else 0)
    return (
        stamp
        + bytes([0xC0 | min(satellites, 15)])
        + round(abs(lat) * 1_800_000).to_bytes(4, "big")
        + round(abs(lon) * 1_800_000).to_bytes(4, "big")
        + bytes([min(round(speed_kmh), 255)])
        + flags.to_bytes(2, "big")
    )
