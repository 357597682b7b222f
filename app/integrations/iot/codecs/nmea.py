"""NMEA 0183 sentences from a serial GPS or a tracker speaking NMEA over TCP (Traccar ``t55``).

One line is one frame. Position sentences (RMC, GGA, GLL, u-blox PUBX,00, and the vendor
``QZE`` line) carry no device identity, so they decode only when the caller passes the
``device_id`` of the connection (the serial reader's configured device, or the id an
identity line such as ``$PGID,<imei>`` announced earlier). Without one they are held
back, as Traccar does, rather than stored against nobody.

``*hh`` checksums are verified where present: strict mode rejects a wrong or malformed
one; lenient mode decodes it and marks ``checksum_ok=False``. A sentence without ``*hh``
is accepted, as Traccar accepts it (many trackers never send one), and so are vendor
fields after the checksum (``…,D*71,11,<imei>,…``). Speeds in RMC are knots and are
converted to km/h. Attributes keep Traccar's names (``battery`` in volts). NMEA has no
commands. What Traccar does that we deliberately do not is named in ``NOT_REPRODUCED``.

"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from app.integrations.iot.codecs.framing import StreamFramer
from app.integrations.iot.device_ids import check_device_id, check_imei
from app.integrations.iot.records import DecodeResult, DeviceRecord, FrameError, RecordKind

logger = logging.getLogger(__name__)

NAME = "nmea"
KNOTS_TO_KMH = 1.852
_ID_PREFIX_RE = re.compile(rb"[0-9A-Za-z]{4,20}[,/]?")
_UNSIGNED_RE = re.compile(r"\d{1,5}(\.\d{0,9})?")
_DECIMAL_RE = re.compile(r"-?\d{1,9}(\.\d{0,9})?")
_CHECKSUM_RE = re.compile(r"([^*]*)\* ?([0-9A-Fa-f]{2})(,.*)?")
_BARE_ID_RE = re.compile(r"[0-9A-F]{6,20}")
_ID_SENTENCES = {"PGID": 1, "DEVID": 1, "PCPTI": 1, "GPFID": 1, "PSIWMDID": 1}
# Traccar behaviour we deliberately do not reproduce, and why.
NOT_REPRODUCED: Mapping[str, str] = {
    "id with a space": "an identity such as $PCPTI,CradlePoint Test is refused by the"
    " console's device-id rule (printable, no space or comma); Traccar takes it",
    "fix before $GPFID": "Traccar returns a fix received before the Maxon $GPFID identity"
    " once that identity arrives; a codec here is stateless, so the fix is held back",
}
_PUBX_FIXES = frozenset({"G2", "G3", "D2", "D3"})  # 2D/3D, standalone or differential
_QZE_RE = re.compile(
    r"QZE,(\d{15}),(\d+),(\d{2})(\d{2})(\d{4}),(\d{2})(\d{2})(\d{2}),(-?\d+\.\d+),(-?\d+\.\d+),"
    r"(\d+),(\d+),([AV]),([01])"
)


class NmeaFramer(StreamFramer):
    """Splits a stream into lines (LF, optional CR). Noise glued before a ``$`` is cut
    off unless it looks like the id prefix some trackers put there (``<imei>$GPRMC...``)."""

    def _cut(self) -> bytes | None:
        end = self._buf.find(b"\n")
        if end < 0:
            self._drop_unfinished("NMEA line", "newline")
            return None
        line = bytes(self._buf[:end]).strip(b"\r\x00 ")
        del self._buf[: end + 1]
        dollar = line.rfind(b"$")
        if dollar > 0 and not _ID_PREFIX_RE.fullmatch(line[:dollar]):
            line = line[dollar:]
        if len(line) > self._max:
            raise FrameError(f"NMEA line of {len(line)} bytes exceeds {self._max}")
        return line


def parse_ddmm(value: str, hemisphere: str) -> float | None:
    """``ddmm.mmmm`` + N/S/E/W to signed degrees; None when the receiver left it empty."""
    if not value:
        return None
    if not _UNSIGNED_RE.fullmatch(value):
        raise FrameError(f"coordinate is not ddmm.mmmm: {value!r}")
    number = float(value)
    degrees = int(number // 100)
    minutes = number - degrees * 100
    if minutes >= 60 or hemisphere not in ("N", "S", "E", "W"):
        raise FrameError(f"impossible coordinate {value!r} {hemisphere!r}")
    result = degrees + minutes / 60
    return -result if hemisphere in ("S", "W") else result


def format_ddmm(value: float, width: int) -> str:
    """Signed degrees to the unsigned ``ddmm.mmmmm`` text NMEA-style frames carry."""
    minutes = round(abs(value) * 60, 5)  # round first so 59.999999' never prints as 60'
    degrees = int(minutes // 60)
    return f"{degrees:0{width}d}{minutes - degrees * 60:08.5f}"


def checksum(body: str) -> str:
    """XOR of the characters between ``$`` and ``*``, as two hex digits."""
    value = 0
    for char in body.encode("ascii"):
        value ^= char
    return f"{value:02X}"


def _number(value: str, what: str) -> float | None:
    value = value.strip()
    if not value:
        return None
    if not _DECIMAL_RE.fullmatch(value):
        raise FrameError(f"NMEA {what} is not a number: {value!r}")
    return float(value)


def _time_of_day(value: str) -> tuple[int, int, int]:
    if not re.fullmatch(r"\d{6}(\.\d*)?", value):
        raise FrameError(f"NMEA time is not hhmmss: {value!r}")
    hh, mm, ss = int(value[:2]), int(value[2:4]), int(value[4:6])
    if hh > 23 or mm > 59 or ss > 60:
        raise FrameError(f"impossible NMEA time {value!r}")
    return hh, mm, min(ss, 59)


class NmeaCodec:
    """NMEA codec; ``clock`` supplies today's date for sentences that carry only a time."""

    name = NAME

    def __init__(self, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._clock = clock

    def framer(self, max_frame: int = 4096) -> NmeaFramer:
        return NmeaFramer(max_frame)

    def decode(
        self, frame: bytes, *, device_id: str | None = None, strict: bool = True
    ) -> DecodeResult:
        try:
            line = frame.decode("ascii").strip("\r\n\x00 ")
        except UnicodeDecodeError:
            raise FrameError("NMEA line contains non-ASCII bytes") from None
        if not line:
            raise FrameError("empty NMEA line")
        dollar = line.find("$")
        if dollar > 0:  # "<id>$GPRMC", "<id>,$GPRMC", "4711/<id>/$GPRMC": the id is the last part
            prefix = line[:dollar].rstrip(",/").rsplit("/", 1)[-1]
            device_id, line = check_device_id(prefix, NAME), line[dollar:]
        base: dict[str, Any] = {"protocol": NAME, "raw": bytes(frame)}
        identity = _identity_line(line)
        if identity:
            identity = check_device_id(identity, NAME)
            return DecodeResult((DeviceRecord(**base, kind=RecordKind.LOGIN, device_id=identity),))
        if line.startswith("QZE,"):
            return DecodeResult((_qze(line, base),))
        if not line.startswith("$"):
            raise FrameError(f"not an NMEA sentence: {line[:40]!r}")
        body, checksum_ok = _verify(line, strict)
        fields = body[1:].split(",")
        name = fields[0]
        if name in _ID_SENTENCES:
            if len(fields) < 2 or not fields[1]:
                raise FrameError(f"{name} without a device id")
            identity = check_device_id(fields[1], NAME)  # NOT_REPRODUCED["id with a space"]
            record = DeviceRecord(
                **base, kind=RecordKind.LOGIN, device_id=identity, checksum_ok=checksum_ok
            )
            return DecodeResult((record,))
        decoded = self._sentence(name, fields)
        if decoded is None:
            return DecodeResult(())
        if device_id is None:  # NOT_REPRODUCED["fix before $GPFID"]
            logger.debug("nmea: %s held back, no device identity on this connection", name)
            return DecodeResult(())
        return DecodeResult(
            (DeviceRecord(**base, device_id=device_id, checksum_ok=checksum_ok, **decoded),)
        )

    def _sentence(self, name: str, f: list[str]) -> dict | None:
        kind = name[2:] if len(name) == 5 and name[0] in "GB" else name
        try:
            if kind == "RMC" and len(f) >= 10:
                return _fix(f[3], f[4], f[5], f[6], _rmc_time(f[1], f[9]), f[2] == "A") | {
                    "speed_kmh": _knots(f[7]),
                    "course_deg": _number(f[8], "course"),
                }
            if kind == "GGA" and len(f) >= 10:
                fix = _fix(f[2], f[3], f[4], f[5], self._today(f[1]), f[6] not in ("", "0"))
                sats = _number(f[7], "satellites")
                return fix | {
                    "satellites": int(sats) if sats is not None else None,
                    "altitude_m": _number(f[9], "altitude"),
                }
            if kind == "GLL" and len(f) >= 7:
                valid = f[6] == "A" and (len(f) < 8 or f[7] != "N")
                return _fix(f[1], f[2], f[3], f[4], self._today(f[5]), valid)
            if name == "PUBX" and len(f) >= 19 and f[1] == "00":
                fix = _fix(f[3], f[4], f[5], f[6], self._today(f[2]), f[8] in _PUBX_FIXES)
                sats = _number(f[18], "satellites")
                return fix | {
                    "speed_kmh": _number(f[11], "speed"),
                    "course_deg": _number(f[12], "course"),
                    "altitude_m": _number(f[7], "altitude"),
                    "satellites": int(sats) if sats is not None else None,
                }
        except IndexError:
            raise FrameError(f"{name} sentence is missing fields") from None
        if name == "TRCCR" and len(f) >= 9:
            return _trccr(f)
        if kind == "TXT" and len(f) >= 6 and f[1] == "NET":
            rssi = _number(f[4], "rssi")
            return {"kind": RecordKind.STATUS, "attributes": {"operator": f[5], "rssi": rssi}}
        if kind == "IOP" and len(f) >= 9:
            attributes = {"power": _number(f[7], "power"), "battery": _number(f[8], "battery")}
            return {"kind": RecordKind.STATUS, "attributes": attributes}
        return None

    def _today(self, value: str) -> datetime:
        """GGA/GLL/PUBX carry a time of day only: pick the date that puts it nearest now."""
        hh, mm, ss = _time_of_day(value)
        now = self._clock().astimezone(UTC)
        when = now.replace(hour=hh, minute=mm, second=ss, microsecond=0)
        if when - now > timedelta(hours=12):
            when -= timedelta(days=1)
        elif now - when > timedelta(hours=12):
            when += timedelta(days=1)
        return when

    def encode_command(self, device_id: str, action: str, *, sequence: int = 0) -> bytes:
        raise ValueError(f"NMEA devices take no commands (asked to {action!r} {device_id!r})")


def _identity_line(line: str) -> str | None:
    """The id announced by a line that only identifies the device, else None."""
    for prefix in ("$IMEI=", "$IMEI,", "IMEI "):
        if line.startswith(prefix) and line[len(prefix) :].strip():
            return line[len(prefix) :].strip()
    return line if _BARE_ID_RE.fullmatch(line) else None


def _verify(line: str, strict: bool) -> tuple[str, bool]:
    if "*" not in line:
        return line, True  # no checksum to verify: accepted, as Traccar does
    match = _CHECKSUM_RE.fullmatch(line)
    if match is None:
        body = line.split("*", 1)[0]
        problem = "malformed"
    else:
        body = match.group(1)
        problem = "" if checksum(body[1:]) == match.group(2).upper() else "wrong"
    if problem and strict:
        raise FrameError(f"NMEA checksum {problem}: {line[:60]!r}")
    return body, not problem


def _knots(value: str) -> float | None:
    knots = _number(value, "speed")
    return knots * KNOTS_TO_KMH if knots is not None else None


def _rmc_time(time_text: str, date_text: str) -> datetime:
    hh, mm, ss = _time_of_day(time_text)
    if not re.fullmatch(r"\d{6}", date_text):
        raise FrameError(f"RMC date is not ddmmyy: {date_text!r}")
    day, month, yy = int(date_text[:2]), int(date_text[2:4]), int(date_text[4:])
    try:
        return datetime(yy + (2000 if yy < 80 else 1900), month, day, hh, mm, ss, tzinfo=UTC)
    except ValueError:
        raise FrameError(f"impossible RMC date {date_text!r}") from None


def _fix(lat: str, ns: str, lon: str, ew: str, when: datetime, valid: bool) -> dict:
    latitude, longitude = parse_ddmm(lat, ns or "N"), parse_ddmm(lon, ew or "E")
    in_range = (
        latitude is not None
        and longitude is not None
        and abs(latitude) <= 90
        and abs(longitude) <= 180
    )
    return {
        "kind": RecordKind.POSITION,
        "fix_time": when,
        "valid_fix": valid and in_range,
        "latitude": latitude if in_range else None,
        "longitude": longitude if in_range else None,
    }


def _trccr(f: list[str]) -> dict:
    """``$TRCCR,yyyyMMddHHmmss.sss,A,lat,lon,speed,course,altitude,battery``: decimal
    degrees, speed in knots, battery in percent."""
    if not re.fullmatch(r"\d{14}(\.\d*)?", f[1]):
        raise FrameError(f"TRCCR time is not yyyyMMddHHmmss: {f[1]!r}")
    try:
        when = datetime.strptime(f[1][:14], "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        raise FrameError(f"impossible TRCCR time {f[1]!r}") from None
    latitude, longitude = _number(f[3], "latitude"), _number(f[4], "longitude")
    in_range = (
        latitude is not None
        and longitude is not None
        and abs(latitude) <= 90
        and abs(longitude) <= 180
    )
    battery = _number(f[8], "battery")
    return {
        "kind": RecordKind.POSITION,
        "fix_time": when,
        "valid_fix": f[2] == "A" and in_range,
        "latitude": latitude if in_range else None,
        "longitude": longitude if in_range else None,
        "speed_kmh": _knots(f[5]),
        "course_deg": _number(f[6], "course"),
        "altitude_m": _number(f[7], "altitude"),
        "battery_pct": battery if battery is not None and 0 <= battery <= 100 else None,
    }


def _qze(line: str, base: dict) -> DeviceRecord:
    match = _QZE_RE.fullmatch(line)
    if match is None:
        raise FrameError(f"malformed QZE line: {line[:60]!r}")
    imei, event, dd, mo, yyyy, hh, mi, ss, lat, lon, speed, course, valid, ignition = match.groups()
    try:
        when = datetime(int(yyyy), int(mo), int(dd), int(hh), int(mi), int(ss), tzinfo=UTC)
    except ValueError:
        raise FrameError(f"impossible QZE date/time: {line[:60]!r}") from None
    latitude, longitude = float(lat), float(lon)
    in_range = abs(latitude) <= 90 and abs(longitude) <= 180
    return DeviceRecord(
        **base,
        kind=RecordKind.POSITION,
        device_id=check_imei(imei, NAME),
        fix_time=when,
        valid_fix=valid == "A" and in_range,
        latitude=latitude if in_range else None,
        longitude=longitude if in_range else None,
        speed_kmh=float(speed),
        course_deg=float(course),
        attributes={"event": int(event), "ignition": ignition == "1"},
    )


# -- device side: what a GPS receiver sends, for the device simulator --------------------


def sentence(body: str) -> bytes:
    """``$<body>*hh\\r\\n`` with the checksum filled in."""
    return f"${body}*{checksum(body)}\r\n".encode("ascii")


def build_rmc(lat: float, lon: float, speed_kmh: float, course: float, when: datetime) -> bytes:
    """A valid ``$GPRMC`` fix (speed sent in knots, as receivers do)."""
    when = when.astimezone(UTC)
    body = ",".join(
        [
            "GPRMC",
            when.strftime("%H%M%S.00"),
            "A",
            format_ddmm(lat, 2),
            "N" if lat >= 0 else "S",
            format_ddmm(lon, 3),
            "E" if lon >= 0 else "W",
            f"{speed_kmh / KNOTS_TO_KMH:.3f}",
            f"{course % 360:.1f}",
            when.strftime("%d%m%y"),
            "",
            "",
            "A",
        ]
    )
    return sentence(body)


def build_identity(device_id: str) -> bytes:
    """``$PGID,<id>*hh``, the line a tracker sends first to say who it is."""
    if not device_id.isalnum():
        raise ValueError(f"an NMEA device id is alphanumeric, not {device_id!r}")
    return sentence(f"PGID,{device_id}")


CODEC = NmeaCodec()
