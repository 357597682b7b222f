"""Queclink @Track ASCII protocol (Traccar ``gl200``), the public stand-in for OKAI's IoT.

A report is ``+RESP:GT<TYPE>,<version>,<IMEI>,<name>,...,<send time>,<count>$``; ``+BUFF:``
is the same report replayed from the device's buffer and ``+ACK:`` answers a command
(``+ACK:GTHBD`` is the heartbeat). Field layouts differ by model and firmware, and OKAI's
are not public, so instead of one table per model the decoder locates what a fleet
console stores by shape:

- a location block is ``hdop, speed km/h, course, altitude, lon, lat, yyyyMMddHHmmss``
  (longitude first); FRI/ERI reports may carry several, each becomes one position;
- battery % is the number before the 6-hex device-status field on GV-style models, the
  last field before the send time on GT501 (protocol version ``42...``), and the fixed
  slot GL5xx trackers use (version ``11/40/44/52/55/DE``);
- the device-status field ``<ignition><inputs><outputs>`` gives ignition and the lock:
  output 1 drives the immobiliser/lock relay that ``AT+GTOUT`` (our lock command) switches.

There is no checksum; strict mode instead requires the tail the reference describes,
a ``yyyyMMddHHmmss`` send time followed by a 4-hex-digit count, or (as some GV500MAP
firmware sends, and Traccar accepts) a bare ``yyyyMMddHHmm`` send time without a count.
Type-specific fields (GTINF power and battery, GTGSM/GTLBS cells, BLE accessories, GTERI
fuel and sensors) are read by gl200_fields. GTTRI puts the IMEI where the protocol version
usually is. Old firmware pads frames with NUL bytes, before or after the report.
Binary frames are decoded in gl200_binary (classic "HEX mode") and gl200_pro
("Protocol Pro", second byte 0).
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime

from app.integrations.iot.codecs.gl200_binary import decode_binary
from app.integrations.iot.codecs.gl200_fields import WALKS, model_of
from app.integrations.iot.codecs.gl200_framing import Gl200Framer, is_binary
from app.integrations.iot.codecs.gl200_pro import decode_pro, decode_pro_heartbeat
from app.integrations.iot.device_ids import check_imei
from app.integrations.iot.records import (
    DecodeResult,
    DeviceRecord,
    FrameError,
    LockState,
    RecordKind,
)

logger = logging.getLogger(__name__)

NAME = "gl200"
_HEAD_RE = re.compile(r"\+(RESP|BUFF|ACK):GT([A-Z0-9]{3})")
_IMEI_RE = re.compile(r"\d{15}|[0-9A-F]{14}")
_LON_RE = re.compile(r"-?\d{1,3}\.\d{6}")
_LAT_RE = re.compile(r"-?\d{1,2}\.\d{6}")
_STAMP_RE = re.compile(r"[0-9]{14}")  # ASCII digits only, as strptime reads them
_COUNT_RE = re.compile(r"[0-9A-Fa-f]{4}")
_ODOMETER_RE = re.compile(r"\d{1,7}\.\d")
_DECIMAL_RE = re.compile(r"-?\d{1,9}(\.\d{0,9})?")
_SMALL_INT_RE = re.compile(r"\d{1,3}")
_STATUS_RE = re.compile(r"[0-9A-F]{6}")
_SHORT_TAIL_RE = re.compile(r"\d{12}")  # yyyyMMddHHmm, no seconds and no count
_GL5_FAMILY = frozenset({"11", "40", "44", "52", "55", "DE"})
_GT501_FAMILY = "42"
_TYPE_ALARMS = {
    "SOS": "sos",
    "SPD": "overspeed",
    "TOW": "tow",
    "IDL": "idle",
    "PNA": "powerOn",
    "PFA": "powerOff",
    "EPN": "powerRestored",
    "MPN": "powerRestored",
    "EPF": "powerCut",
    "MPF": "powerCut",
    "BPL": "lowBattery",
    "STT": "movement",
    "SWG": "geofence",
    "TMP": "temperature",
    "TEM": "temperature",
    "JDR": "jamming",
    "JDS": "jamming",
}
_HBM_ALARMS = {
    0: "hardBraking",
    1: "hardAcceleration",
    2: "hardCornering",
    3: "hardBraking",
    4: "hardAcceleration",
}
_IGNITION_TYPES = {"IGN": True, "VGN": True, "IGF": False, "VGF": False}


def _stamp(value: str) -> datetime | None:
    """``yyyyMMddHHmmss`` as UTC, None if it is not one. Read by slicing, not ``strptime``
    (which took 45 % of a report's decode): for 14 digits both accept exactly the same
    strings, as strptime can only match all six fields two digits wide (four the year)."""
    if not _STAMP_RE.fullmatch(value):
        return None
    try:
        return datetime(
            int(value[:4]),
            int(value[4:6]),
            int(value[6:8]),
            int(value[8:10]),
            int(value[10:12]),
            int(value[12:]),
            tzinfo=UTC,
        )
    except ValueError:
        return None


def _float(value: str) -> float | None:
    """A decimal field as float; None when empty or not a plain number (no nan/inf)."""
    return float(value) if _DECIMAL_RE.fullmatch(value) else None


def _locations(v: list[str]) -> list[int]:
    """Indexes of the longitude field of every location block."""
    return [
        i
        for i in range(4, len(v) - 2)
        if _LON_RE.fullmatch(v[i]) and _LAT_RE.fullmatch(v[i + 1]) and _STAMP_RE.fullmatch(v[i + 2])
    ]


class Gl200Codec:
    """Queclink codec. ``sack_all`` answers every report with ``+SACK:<count>$``, for
    devices provisioned with SACK enabled; ``password`` goes into every AT command.
    ``text_protocol`` is the protocol its text reports' records carry: OKAI reads the
    report types it shares with Queclink through this codec, and relabelling each record
    afterwards (``dataclasses.replace``) cost a tenth of an OKAI decode."""

    name = NAME

    def __init__(
        self, *, password: str = "", sack_all: bool = False, text_protocol: str = NAME
    ) -> None:
        self._password = password
        self._sack_all = sack_all
        self._text_protocol = text_protocol

    def __repr__(self) -> str:  # never show the device password
        return f"Gl200Codec(sack_all={self._sack_all})"

    def framer(self, max_frame: int = 4096) -> Gl200Framer:
        return Gl200Framer(max_frame)

    def decode(
        self, frame: bytes, *, device_id: str | None = None, strict: bool = True
    ) -> DecodeResult:
        frame = bytes(frame)
        # Every binary frame starts with "+"; a leading NUL is old firmware's padding of a
        # text report (stripped below, while the record keeps the bytes as received).
        if frame[:1] != b"\x00" and is_binary(frame):
            if frame[1:2] == b"\x00":
                return decode_pro(bytes(frame), strict=strict, sack_all=self._sack_all)
            if frame[:2] == b"+\x10":
                return decode_pro_heartbeat(bytes(frame), strict=strict, sack_all=self._sack_all)
            return decode_binary(
                bytes(frame), device_id=device_id, strict=strict, sack_all=self._sack_all
            )
        try:
            text = frame.decode("ascii").strip("\x00")  # old firmware pads with NULs
        except UnicodeDecodeError:
            raise FrameError("gl200 report contains non-ASCII bytes") from None
        text = text.removesuffix("$")
        head = _HEAD_RE.match(text)
        values = text.split(",")
        if head is None or len(values) < 5:
            raise FrameError(f"not a Queclink report: {text[:60]!r}")
        id_at = 1 if head.group(2) == "TRI" and _IMEI_RE.fullmatch(values[1]) else 2
        imei = check_imei(values[id_at], NAME, allow_meid=True)
        sent = _stamp(values[-2])
        sent_ok = sent is not None or values[-2] == ""  # some buffered FRIs send no time
        tail_ok = (sent_ok and _COUNT_RE.fullmatch(values[-1]) is not None) or (
            _SHORT_TAIL_RE.fullmatch(values[-1]) is not None
        )
        if strict and not tail_ok:
            raise FrameError(
                f"Queclink report tail is not '<yyyyMMddHHmmss>,<hex count>': {values[-2:]!r}"
            )
        base = {
            "protocol": self._text_protocol,
            "device_id": imei,
            "raw": bytes(frame),
            "checksum_ok": tail_ok,
        }
        source, kind = head.groups()
        if source == "ACK":
            return self._ack(kind, values, base, sent)
        records = _report(kind, values, base, sent)
        count = values[-1]
        ack = b""
        if (source == "BUFF" or self._sack_all) and _COUNT_RE.fullmatch(count):
            ack = f"+SACK:{count}$".encode("ascii")
        return DecodeResult(records, ack)

    def _ack(self, kind: str, values: list[str], base: dict, sent: datetime | None) -> DecodeResult:
        if kind == "HBD":
            record = DeviceRecord(
                **base, kind=RecordKind.STATUS, fix_time=sent, attributes={"heartbeat": True}
            )
            count = values[-1] if _COUNT_RE.fullmatch(values[-1]) else "0000"
            return DecodeResult((record,), f"+SACK:GTHBD,{values[1]},{count}$".encode("ascii"))
        serial = values[-3] if len(values) >= 6 else ""
        record = DeviceRecord(
            **base,
            kind=RecordKind.COMMAND_RESULT,
            fix_time=sent,
            command_result=f"GT{kind}",
            attributes={"serial": serial},
        )
        return DecodeResult((record,))

    def encode_command(self, device_id: str, action: str, *, sequence: int = 0) -> bytes:
        """``lock``/``unlock`` switch output 1 (``AT+GTOUT``); ``locate`` asks for a fix
        (``AT+GTRTO`` sub-command 1). ``sequence`` is the serial the device echoes in +ACK."""
        if not _IMEI_RE.fullmatch(device_id):
            raise ValueError(f"a Queclink device id is an IMEI, not {device_id!r}")
        serial = f"{sequence & 0xFFFF:04X}"
        commands = {
            "lock": f"AT+GTOUT={self._password},1,,,0,0,0,0,0,0,0,,,,,,,{serial}$",
            "unlock": f"AT+GTOUT={self._password},0,,,0,0,0,0,0,0,0,,,,,,,{serial}$",
            "locate": f"AT+GTRTO={self._password},1,,,,,,{serial}$",
        }
        if action not in commands:
            raise ValueError(f"gl200 does not support {action!r}; supported: {', '.join(commands)}")
        return commands[action].encode("ascii")


def _report(kind: str, v: list[str], base: dict, sent: datetime | None) -> tuple[DeviceRecord, ...]:
    blocks = _locations(v)
    extra: dict = {"alarms": _alarms(kind, v), "attributes": {"type": kind}}
    status_at = _status_index(v, blocks[-1] + 7 if blocks else 4)
    battery = _battery(kind, v, blocks, status_at)
    if battery is not None:
        extra["battery_pct"] = battery
    attributes = extra["attributes"]
    if status_at is not None:
        status = int(v[status_at], 16)
        ignition, inputs, outputs = status >> 16, (status >> 8) & 0xFF, status & 0xFF
        if ignition & 0x30:
            attributes["ignition"] = bool(ignition & 0x20)
        attributes["in1"], attributes["in2"] = bool(inputs & 0x02), bool(inputs & 0x04)
        extra["lock_state"] = LockState.LOCKED if outputs & 0x01 else LockState.UNLOCKED
    if kind in _IGNITION_TYPES:
        attributes["ignition"] = _IGNITION_TYPES[kind]
    elif kind == "IGL" and len(v) > 5 and re.fullmatch(r"[0-9A-F]{1,2}", v[5]):
        attributes["ignition"] = int(v[5], 16) % 16 == 1
    if kind == "DAT" and len(v) > 7:
        attributes["data"] = v[7]
    _walk(kind, v, extra)
    if not blocks:
        record_kind = RecordKind.ALARM if extra["alarms"] else RecordKind.STATUS
        return (DeviceRecord(**base, kind=record_kind, fix_time=sent, **extra),)
    records = []
    for n, i in enumerate(blocks):
        fields = extra if n == len(blocks) - 1 else {"attributes": {"type": kind}}
        end = blocks[n + 1] - 4 if n + 1 < len(blocks) else len(v) - 2
        records.append(_position(v, i, end, base, fields))
    return tuple(records)


def _walk(kind: str, v: list[str], extra: dict) -> None:
    """Add the fields of the report type's own layout (gl200_fields) to ``extra``.

    A frame that does not follow its model's layout keeps the readings found by shape;
    the walk's readings are extras, so losing them must not cost the report.
    """
    walk = WALKS.get(kind)
    if walk is None:
        return
    try:
        found = walk(v, model_of(v[1]))
    except (IndexError, ValueError):
        logger.debug("gl200 GT%s report does not follow its model's layout", kind)
        return
    level = found.pop("batteryLevel", None)
    if level is not None and 0 <= level <= 100:
        extra["battery_pct"] = float(level)
    alarm = found.pop("alarm", None)
    if alarm is not None:
        extra["alarms"] = (*extra["alarms"], alarm)
    extra["attributes"].update(found)


def _position(v: list[str], i: int, end: int, base: dict, fields: dict) -> DeviceRecord:
    lon, lat, when = float(v[i]), float(v[i + 1]), _stamp(v[i + 2])
    in_range = abs(lat) <= 90 and abs(lon) <= 180
    odometer = next(
        (float(v[j]) for j in range(i + 7, min(i + 10, end)) if _ODOMETER_RE.fullmatch(v[j])),
        None,
    )
    hdop = _float(v[i - 4])
    if hdop is not None:
        fields["attributes"]["hdop"] = hdop
    return DeviceRecord(
        **base,
        kind=RecordKind.POSITION,
        fix_time=when,
        valid_fix=in_range and when is not None,
        latitude=lat if in_range else None,
        longitude=lon if in_range else None,
        speed_kmh=_float(v[i - 3]),
        course_deg=_float(v[i - 2]),
        altitude_m=_float(v[i - 1]),
        odometer_km=odometer,
        **fields,
    )


def _alarms(kind: str, v: list[str]) -> tuple[str, ...]:
    if kind in _TYPE_ALARMS:
        return (_TYPE_ALARMS[kind],)
    if kind == "HBM" and len(v) > 5 and re.fullmatch(r"[0-9A-F]{1,2}", v[5]):
        alarm = _HBM_ALARMS.get(int(v[5], 16) % 16)
        return (alarm,) if alarm else ()
    return ()


def _status_index(v: list[str], start: int) -> int | None:
    """Index of the 6-hex device-status field that follows the battery % on GV models."""
    for j in range(max(start, 4), len(v) - 3):
        if _SMALL_INT_RE.fullmatch(v[j]) and _STATUS_RE.fullmatch(v[j + 1]):
            return j + 1
    return None


def _battery(kind: str, v: list[str], blocks: list[int], status_at: int | None) -> float | None:
    family = v[1][:2]
    if family == _GT501_FAMILY:
        candidate = v[-3] if len(v) > 5 else ""
    elif family in _GL5_FAMILY and kind in ("STR", "CTN"):
        candidate = v[8] if len(v) > 10 else ""
    elif family in _GL5_FAMILY and blocks:
        at = blocks[-1] + 10
        candidate = v[at] if at < len(v) - 2 else ""
    else:
        candidate = v[status_at - 1] if status_at is not None else ""
    if _SMALL_INT_RE.fullmatch(candidate) and int(candidate) <= 100:
        return float(candidate)
    return None


# -- device side: what a tracker sends, for the device simulator -------------------------

_SIM_VERSION = "2A0100"  # a protocol version outside the families with special layouts


def build_position_frame(
    imei: str,
    lat: float,
    lon: float,
    speed_kmh: float,
    course: float,
    battery_pct: float,
    locked: bool,
    when: datetime,
    *,
    count: int = 0,
    buffered: bool = False,
    odometer_km: float = 0.0,
) -> bytes:
    """A ``+RESP:GTFRI`` (``+BUFF:`` if ``buffered``) in the GV layout this decoder reads:
    one location block, odometer, battery % and the device status with output 1 = locked."""
    if not _IMEI_RE.fullmatch(imei):
        raise ValueError(f"a Queclink device id is an IMEI, not {imei!r}")
    stamp = when.astimezone(UTC).strftime("%Y%m%d%H%M%S")
    status = f"{0x21 if speed_kmh > 0 else 0x11:02X}00{int(locked):02X}"
    fields = [
        "+BUFF:GTFRI" if buffered else "+RESP:GTFRI",
        _SIM_VERSION,
        imei,
        "sim",
        "12500",
        "10",
        "1",
        "1",
        f"{speed_kmh:.1f}",
        f"{round(course) % 360}",
        "35.0",
        f"{lon:.6f}",
        f"{lat:.6f}",
        stamp,
        "0262",
        "0001",
        "1932",
        "1BA4",
        "00",
        f"{odometer_km:.1f}",
        "",
        "",
        "",
        "",
        f"{round(max(0.0, min(battery_pct, 100.0)))}",
        status,
        "",
        "",
        "",
        stamp,
        f"{count & 0xFFFF:04X}",
    ]
    return (",".join(fields) + "$").encode("ascii")


def build_heartbeat(imei: str, when: datetime, *, count: int = 0) -> bytes:
    """``+ACK:GTHBD``, which the server must answer with ``+SACK:GTHBD``."""
    stamp = when.astimezone(UTC).strftime("%Y%m%d%H%M%S")
    return f"+ACK:GTHBD,{_SIM_VERSION},{imei},sim,{stamp},{count & 0xFFFF:04X}$".encode("ascii")


def build_command_ack(
    imei: str, command: str, serial: str, when: datetime, *, count: int = 0
) -> bytes:
    """``+ACK:GT<command>`` echoing the serial of the AT command it answers."""
    stamp = when.astimezone(UTC).strftime("%Y%m%d%H%M%S")
    return (
        f"+ACK:GT{command},{_SIM_VERSION},{imei},sim,{serial},{stamp},{count & 0xFFFF:04X}$"
    ).encode("ascii")


def parse_command(frame: bytes) -> tuple[str, list[str], str]:
    """What an ``AT+GT<CMD>=<password>,...,<serial>$`` asks: (command, parameters, serial).

    The password is dropped so a simulator never has to handle or log it.
    """
    match = re.fullmatch(rb"AT\+GT([A-Z]{3})=([^$]*)\$\r?\n?", frame)
    if match is None:
        raise FrameError(f"not a Queclink AT command: {frame[:40]!r}")
    values = match.group(2).decode("ascii", "replace").split(",")
    if len(values) < 2:
        raise FrameError("Queclink AT command without parameters and serial")
    return match.group(1).decode("ascii"), values[1:-1], values[-1]


CODEC = Gl200Codec()
