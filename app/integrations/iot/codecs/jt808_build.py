"""Device-side JT/T 808 messages, for the simulator and tests: what a terminal sends.

Each builder writes the layout the decoder reads (registration, authentication,
heartbeat, 0x0200 location with items, 0x0704 batch, 0x0001 general response), with
real escaping and XOR checksum, so the simulated terminal and the tests exercise the
bytes a device would. The header form follows the id (``jt808.terminal_address``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.integrations.iot.codecs.jt808 import (
    MSG_AUTH,
    MSG_BATCH,
    MSG_HEARTBEAT,
    MSG_LOCATION,
    MSG_REGISTER,
    MSG_TERMINAL_RESPONSE,
    build_message,
)

_BEIJING = timedelta(hours=8)


@dataclass(frozen=True, slots=True)
class Fix:
    """One location report's content, in the console's units."""

    when: datetime
    latitude: float
    longitude: float
    speed_kmh: float = 0.0
    course: float = 0.0
    altitude_m: float = 0.0
    valid: bool = True
    blocked: bool = False
    ignition: bool = False
    charging: bool = False  # status bit 26, Traccar's charge
    alarm_flags: int = 0
    odometer_km: float | None = None
    battery_pct: int | None = None
    satellites: int | None = None


def build_register(device_id: str, serial: int, *, plate: str = "DEMO01") -> bytes:
    """0x0100: province, city, maker, model (20), terminal id (7), plate colour, plate."""
    body = b"\x00\x2c\x01\x2f" + b"70111" + b"FLEET-SIM".ljust(20, b"\x00")
    body += device_id[-7:].encode("ascii").ljust(7, b"\x00") + b"\x01" + plate.encode("ascii")
    return build_message(MSG_REGISTER, body, device_id, serial)


def build_auth(device_id: str, code: str, serial: int) -> bytes:
    """0x0102 with the auth code the 0x8100 answer gave."""
    return build_message(MSG_AUTH, code.encode("ascii"), device_id, serial)


def build_heartbeat(device_id: str, serial: int) -> bytes:
    return build_message(MSG_HEARTBEAT, b"", device_id, serial)


def location_body(fix: Fix) -> bytes:
    """The 28-byte basic block (Beijing-time BCD clock) and the items the fix carries."""
    status = (
        (0x01 if fix.ignition else 0)
        | (0x02 if fix.valid else 0)
        | (0x04 if fix.latitude < 0 else 0)
        | (0x08 if fix.longitude < 0 else 0)
        | (0x0400 if fix.blocked else 0)
        | (1 << 26 if fix.charging else 0)
    )
    local = fix.when.astimezone(UTC) + _BEIJING
    body = fix.alarm_flags.to_bytes(4, "big") + status.to_bytes(4, "big")
    body += round(abs(fix.latitude) * 1e6).to_bytes(4, "big")
    body += round(abs(fix.longitude) * 1e6).to_bytes(4, "big")
    body += round(fix.altitude_m).to_bytes(2, "big", signed=True)
    body += round(fix.speed_kmh * 10).to_bytes(2, "big") + round(fix.course).to_bytes(2, "big")
    body += bytes.fromhex(local.strftime("%y%m%d%H%M%S"))
    if fix.odometer_km is not None:
        body += b"\x01\x04" + round(fix.odometer_km * 10).to_bytes(4, "big")
    if fix.satellites is not None:
        body += b"\x31\x01" + bytes([fix.satellites])
    if fix.battery_pct is not None:
        body += b"\xe3\x04\x00" + bytes([fix.battery_pct]) + (370).to_bytes(2, "big")
    return body


def build_location(device_id: str, fix: Fix, serial: int) -> bytes:
    return build_message(MSG_LOCATION, location_body(fix), device_id, serial)


def build_batch(device_id: str, fixes: list[Fix], serial: int, *, blind: bool = False) -> bytes:
    """0x0704: count, type (1 = blind-area backlog), then each length-prefixed location."""
    body = len(fixes).to_bytes(2, "big") + bytes([1 if blind else 0])
    for fix in fixes:
        location = location_body(fix)
        body += len(location).to_bytes(2, "big") + location
    return build_message(MSG_BATCH, body, device_id, serial)


def build_terminal_response(
    device_id: str, reply_serial: int, reply_id: int, serial: int, *, result: int = 0
) -> bytes:
    """0x0001: the serial and id of the platform message answered, and 0 = success."""
    body = reply_serial.to_bytes(2, "big") + reply_id.to_bytes(2, "big") + bytes([result])
    return build_message(MSG_TERMINAL_RESPONSE, body, device_id, serial)
