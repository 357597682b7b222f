"""Device-side Segway IoT frames, for the simulator and tests: what a scooter sends.

Each builder writes the layout ``segway.py`` reads (the sources are named there), so a
simulated scooter and the decoder agree by construction.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from app.integrations.iot.codecs.nmea import format_ddmm
from app.integrations.iot.codecs.segway import SERVER_PREFIX, VENDOR
from app.integrations.iot.records import FrameError

_SERVER_RE = re.compile(r"\*HBCS,[A-Z0-9]{2},(\d{15}),([A-Z]{1,2}[0-9])(?:,(.*))?#")


def build_frame(imei: str, kind: str, *params: object, vendor: str = VENDOR) -> bytes:
    """One device frame ``*HBCR,<vendor>,<imei>,<kind>[,<params>]#\\n``."""
    if not re.fullmatch(r"\d{15}", imei):
        raise ValueError(f"a Segway device id is a 15-digit IMEI, not {imei!r}")
    body = ",".join([kind, *(str(p) for p in params)])
    return f"*HBCR,{vendor},{imei},{body}#\n".encode("ascii")


def iot_centivolts(battery_pct: float) -> int:
    """A plausible IoT backup-cell voltage in 0.01 V for a charge level (3.40 to 4.20 V)."""
    return int(340 + 0.8 * max(0.0, min(battery_pct, 100.0)))


def build_position(imei: str, lat: float, lon: float, when: datetime) -> bytes:
    """A D0 fix: NMEA-style time, validity, ddmm.mmmmm coordinates, sats, HDOP, date, alt."""
    when = when.astimezone(UTC)
    return build_frame(
        imei,
        "D0",
        0,
        when.strftime("%H%M%S.00"),
        "A",
        format_ddmm(lat, 2),
        "N" if lat >= 0 else "S",
        format_ddmm(lon, 3),
        "E" if lon >= 0 else "W",
        10,
        "0.8",
        when.strftime("%d%m%y"),
        "35.0",
        "M",
        "A",
    )


def build_report(
    imei: str,
    lat: float,
    lon: float,
    speed_kmh: float,
    battery_pct: float,
    locked: bool,
    when: datetime,
    *,
    odometer_km: float = 0.0,
    charging: bool = False,
    second_battery_pct: float | None = None,
) -> bytes:
    """What a scooter sends each report period: H0 heartbeat, D0 fix, S6 ride data and,
    with a second pack fitted, S8 with both batteries."""
    pct = round(battery_pct)
    volts = iot_centivolts(battery_pct)
    heartbeat = build_frame(imei, "H0", int(locked), volts, 24, pct, int(charging))
    info = build_frame(
        imei, "S6", pct, 2, round(speed_kmh), round(odometer_km * 1000), pct * 30, 0, int(locked)
    )
    frames = heartbeat + build_position(imei, lat, lon, when) + info
    if second_battery_pct is not None:
        second = round(second_battery_pct)
        frames += build_frame(imei, "S8", int(charging), 36, 120, pct, second, 25, 25, 24, 24)
    return frames


def parse_server_frame(frame: bytes) -> tuple[str, str, list[str]]:
    """What a server frame asks of a scooter: (imei, instruction, parameters)."""
    text = frame.removeprefix(SERVER_PREFIX).decode("latin-1").strip("\r\n")
    match = _SERVER_RE.fullmatch(text)
    if match is None:
        raise FrameError(f"not a Segway server frame: {text[:60]!r}")
    imei, kind, params = match.groups()
    return imei, kind, params.split(",") if params else []
