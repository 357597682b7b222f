"""OKAI ZK series IoT ("ZK Series @Track Air Interface Protocol v80.56"), on the Queclink framer.

OKAI's scooter IoT speaks Queclink's @Track shape (Levy Fleets' "OKAI IoT Integration"
guide names the protocol and its GTFRI fixed report; flespi's ``okai`` protocol page and
changelog name OKAI's own reports and fields): ``+RESP:GT<TYPE>,<version>,<IMEI>,...,
<send time>,<count>$``, ``+BUFF:`` for buffered reports, ``+ACK:`` for command answers and
the ``+ACK:GTHBD`` heartbeat, commands ``AT+GT<CMD>=<password>,...,<serial>$``. So framing,
heartbeats, command answers and the report types OKAI shares with Queclink are the gl200
codec's (imported, not copied); this module adds what is OKAI's own:

- every OKAI report opens with ``<device name>,<VIN>,<QR code>`` (flespi lists these three
  first in GTCFU, GTMDR and GTADR);
- GTCFU (ECU error code update) in the order flespi's changelog lists its fields: error
  code, one location block (hdop, speed, azimuth, altitude, lon, lat, GPS time) with its
  cell (MCC, MNC, LAC, cell id), CSQ, network type, motion state, power supply, main and
  backup voltage, backup %, ECU error type, alive, ECU lock state, ECU info, scooter %;
- GTFRI, GTMDR (motion samples) and GTADR (acceleration samples) in layouts of ours that
  follow the same order where the public sources are silent (``NOT_PUBLIC`` says where).

The ECU info block has no public width, so the fields after it (the scooter battery %)
are read from the end of the report and the block itself is kept raw in ``ecu_info``.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any

from app.integrations.iot.codecs.gl200 import _COUNT_RE, _HEAD_RE, Gl200Codec, _float, _stamp
from app.integrations.iot.codecs.gl200_framing import Gl200Framer, is_binary
from app.integrations.iot.device_ids import check_imei
from app.integrations.iot.records import (
    DecodeResult,
    DeviceRecord,
    FrameError,
    LockState,
    RecordKind,
)

logger = logging.getLogger(__name__)

NAME = "okai"

# What the public sources do not say, and what this codec assumes instead. Each entry is
# one decision a vendor document would confirm or correct (also in the README).
NOT_PUBLIC: dict[str, str] = {
    "field positions": "no public source gives a frame; GTCFU follows flespi's field order "
    "after Queclink's <version>,<IMEI>, the other layouts are ours",
    "GTFRI layout": "ours: <device name>,<VIN>,<QR>,<number of fixes>, location+cell blocks, "
    "then GTCFU's status fields without the ECU error type, plus a charging flag after the "
    "ECU lock state",
    "GTMDR layout": "ours: <number of samples>, then lon, lat, speed, left brake, right "
    "brake, throttle per sample, then the generated time (flespi names the fields)",
    "GTADR layout": "ours: <number of samples>, then x, y, z (g) per sample, then the "
    "generated time (flespi names only the acceleration array)",
    "ECU info block": "width and contents (flespi: various ecu.* parameters); kept raw",
    "value encodings": "booleans and the ECU lock state are read as 1/0 (1 = locked); "
    "voltages as volts; motion state and network type codes are kept as sent",
    "ECU error codes": "the meaning of each code and error type; kept as sent",
    "command sub-commands": "the AT+GTRTO sub-commands: we send the names OKAI's ES400 "
    "manual uses (RTO.Lock, RTO.QUERY; UNLOCK by symmetry)",
    "speed-limit command": "its command and field; we send AT+GTRTO sub-command SPEED with "
    "the limit in km/h (5 to 25, the range Teltonika documents for OKAI scooters)",
    "binary (HEX) reports": "not public for OKAI; refused",
    "other report types": "GTINF, GTSOS, ... and a GTFRI that does not fit our layout are "
    "read as Queclink's (gl200) and marked layout=queclink",
}

_LOCATION = 7  # hdop, speed, azimuth, altitude, longitude, latitude, GPS UTC time
_BLOCK = _LOCATION + 4  # and the cell: MCC, MNC, LAC, cell id
_FIRST = 7  # index after <name>,<VIN>,<QR>,<error code or count>
_MAX_SAMPLES = 99  # flespi numbers motion samples .1 to .99
# The status fields after the last location block, in GTCFU's public order; GTFRI (ours)
# leaves out the error type and adds charging after the lock state.
_CFU_STATUS = (
    "rssi",
    "network_type",
    "motion_state",
    "backup_power",
    "power",
    "battery_voltage",
    "backup_battery_pct",
    "ecu_error_type",
    "alive",
    "ecu_lock",
)
_FRI_STATUS = (*(f for f in _CFU_STATUS if f != "ecu_error_type"), "charging")
_BOOLEANS = frozenset({"backup_power", "alive", "charging"})
_VOLTS = frozenset({"power", "battery_voltage"})
_LOCKS = {"1": LockState.LOCKED, "0": LockState.UNLOCKED}
_NO_ERROR_RE = re.compile(r"0*")
_IMEI_RE = re.compile(r"[0-9]{15}")
_SPEED_LIMIT_KMH = (5, 25)
# action -> AT+GTRTO sub-command; see NOT_PUBLIC["command sub-commands"]
_RTO_SUBCOMMANDS = {"lock": "LOCK", "unlock": "UNLOCK", "locate": "QUERY"}
SPEED_LIMIT = "speed_limit"  # action "speed_limit:<km/h>"
Records = tuple[DeviceRecord, ...]


class OkaiCodec:
    """OKAI ZK codec; ``password`` goes into every command, ``sack_all`` as in gl200."""

    name = NAME

    def __init__(self, *, password: str = "", sack_all: bool = False) -> None:
        self._password = password
        self._sack_all = sack_all
        self._queclink = Gl200Codec(password=password, sack_all=sack_all, text_protocol=NAME)

    def __repr__(self) -> str:  # never show the device password
        return f"OkaiCodec(sack_all={self._sack_all})"

    def framer(self, max_frame: int = 4096) -> Gl200Framer:
        return Gl200Framer(max_frame)

    def decode(
        self, frame: bytes, *, device_id: str | None = None, strict: bool = True
    ) -> DecodeResult:
        if is_binary(frame):
            raise FrameError("okai binary (HEX mode) reports are not public; not decoded")
        try:
            text = frame.decode("ascii").rstrip("\x00").removesuffix("$")
        except UnicodeDecodeError:
            raise FrameError("okai report contains non-ASCII bytes") from None
        head = _HEAD_RE.match(text)
        if head is None:
            raise FrameError(f"not an OKAI @Track report: {text[:60]!r}")
        source, kind = head.groups()
        layout = _LAYOUTS.get(kind) if source != "ACK" else None
        if layout is None:
            return self._as_queclink(frame, device_id, strict)
        v = text.split(",")
        if len(v) < _FIRST + 3:
            raise FrameError(f"okai GT{kind} has {len(v)} fields, too few for its layout")
        imei = check_imei(v[2], NAME)
        sent = _stamp(v[-2])
        tail_ok = sent is not None and _COUNT_RE.fullmatch(v[-1]) is not None
        if strict and not tail_ok:
            raise FrameError(f"okai report tail is not '<yyyyMMddHHmmss>,<hex count>': {v[-2:]!r}")
        base = {"protocol": NAME, "device_id": imei, "raw": bytes(frame), "checksum_ok": tail_ok}
        header: dict[str, object] = {"type": kind}
        for key, value in (("device_name", v[3]), ("vin", v[4]), ("qr_code", v[5])):
            if value:
                header[key] = value
        try:
            records = layout(kind, v, base, header, sent)
        except FrameError as okai_error:
            if kind not in _SHARED_WITH_QUECLINK:
                raise
            try:  # a plain Queclink GTFRI (e.g. older firmware): read it as gl200 does
                return self._as_queclink(frame, device_id, strict)
            except FrameError as queclink_error:
                raise FrameError(f"{okai_error}; {queclink_error}") from None
        ack = b""
        if source == "BUFF" or self._sack_all:
            ack = f"+SACK:{v[-1]}$".encode("ascii") if _COUNT_RE.fullmatch(v[-1]) else b""
        return DecodeResult(records, ack)

    def _as_queclink(self, frame: bytes, device_id: str | None, strict: bool) -> DecodeResult:
        """ACKs, the heartbeat and report types OKAI shares with Queclink: the gl200
        decoder's reading, its records labelled okai (``layout`` says whose reading it is)."""
        try:
            result = self._queclink.decode(frame, device_id=device_id, strict=strict)
        except FrameError as exc:
            raise FrameError(f"okai (Queclink layout): {exc}") from None
        for record in result.records:
            record.attributes["layout"] = "queclink"
        return result

    def encode_command(self, device_id: str, action: str, *, sequence: int = 0) -> bytes:
        """``lock``, ``unlock``, ``locate`` and ``speed_limit:<km/h>`` as ``AT+GTRTO``.

        The sub-commands are assumptions (``NOT_PUBLIC``); ``sequence`` is the serial the
        device echoes in its ``+ACK:GTRTO``.
        """
        if not _IMEI_RE.fullmatch(device_id):
            raise ValueError(f"an OKAI device id is a 15-digit IMEI, not {device_id!r}")
        name, _, value = action.partition(":")
        if name == SPEED_LIMIT:
            sub, argument = "SPEED", str(_speed_limit(value))
        elif name in _RTO_SUBCOMMANDS and not value:
            sub, argument = _RTO_SUBCOMMANDS[name], ""
        else:
            supported = ", ".join([*_RTO_SUBCOMMANDS, f"{SPEED_LIMIT}:<km/h>"])
            raise ValueError(f"okai does not support {action!r}; supported: {supported}")
        serial = f"{sequence & 0xFFFF:04X}"
        return f"AT+GTRTO={self._password},{sub},{argument},,,,,{serial}$".encode("ascii")


def _speed_limit(value: str) -> int:
    low, high = _SPEED_LIMIT_KMH
    if not value.isdigit() or not low <= int(value) <= high:
        raise ValueError(f"okai speed limit must be {low} to {high} km/h, not {value!r}")
    return int(value)


# -- OKAI's own layouts ----------------------------------------------------------------


def _cfu(kind: str, v: list[str], base: dict, header: dict, sent: datetime | None) -> Records:
    """GTCFU: ``<error code>``, one location block, the status fields, ECU info, scooter %."""
    code = v[6]
    header["ecu_error_code"] = code
    alarms = () if _NO_ERROR_RE.fullmatch(code) else ("fault",)
    return (_status_report(v, 1, _CFU_STATUS, base, header, alarms, sent),)


def _fri(kind: str, v: list[str], base: dict, header: dict, sent: datetime | None) -> Records:
    """GTFRI: ``<number of fixes>``, that many location blocks, the status fields (ours)."""
    fixes = _count(v[6], kind)
    last = _status_report(v, fixes, _FRI_STATUS, base, header, (), sent)
    earlier = [
        _position(v, _FIRST + n * _BLOCK, base, {"type": kind}, (), sent, {})
        for n in range(fixes - 1)
    ]
    return (*earlier, last)


def _status_report(
    v: list[str],
    fixes: int,
    names: tuple[str, ...],
    base: dict,
    attributes: dict,
    alarms: tuple[str, ...],
    sent: datetime | None,
) -> DeviceRecord:
    """The last location block of a report with the status fields that follow it."""
    at = _FIRST + fixes * _BLOCK
    if at + len(names) + 3 > len(v):
        raise FrameError(
            f"okai GT{attributes['type']} has {len(v)} fields; {fixes} fix(es) and its "
            f"status need {at + len(names) + 3}"
        )
    extra: dict[str, Any] = {}
    for name, value in zip(names, v[at : at + len(names)], strict=True):
        if not value:
            continue
        if name == "ecu_lock":
            extra["lock_state"] = _LOCKS.get(value, LockState.UNKNOWN)
            attributes[name] = value
        elif name == "charging":
            extra["charging"] = value == "1" if value in ("0", "1") else None
        elif name in _BOOLEANS:
            if value in ("0", "1"):
                attributes[name] = value == "1"
        elif name in _VOLTS or name == "backup_battery_pct":
            number = _float(value)
            if number is not None:
                attributes[name] = number
        elif name == "rssi":
            if value.isdigit():
                attributes[name] = int(value)
        else:
            attributes[name] = value
    info = v[at + len(names) : -3]
    if any(info):
        attributes["ecu_info"] = ",".join(info)
    scooter = _float(v[-3])
    if scooter is not None and 0 <= scooter <= 100:
        extra["battery_pct"] = scooter
    return _position(v, at - _BLOCK, base, attributes, alarms, sent, extra)


def _position(
    v: list[str],
    at: int,
    base: dict,
    attributes: dict,
    alarms: tuple[str, ...],
    sent: datetime | None,
    extra: dict[str, Any],
) -> DeviceRecord:
    """The location block starting at ``at`` (hdop first); without a fix a STATUS record
    (ALARM with ``alarms``) stamped with the send time."""
    hdop, speed, course, altitude, lon_s, lat_s, when_s = v[at : at + _LOCATION]
    mcc, mnc, lac, cell = v[at + _LOCATION : at + _BLOCK]
    if mcc and mnc:
        attributes["cell"] = f"{mcc}/{mnc}/{lac}/{cell}"
    hdop_value = _float(hdop)
    if hdop_value is not None:
        attributes["hdop"] = hdop_value
    lon, lat, when = _float(lon_s), _float(lat_s), _stamp(when_s)
    if lon is None or lat is None or abs(lat) > 90 or abs(lon) > 180 or when is None:
        kind = RecordKind.ALARM if alarms else RecordKind.STATUS
        return DeviceRecord(
            **base, kind=kind, fix_time=sent, alarms=alarms, attributes=attributes, **extra
        )
    return DeviceRecord(
        **base,
        kind=RecordKind.POSITION,
        fix_time=when,
        valid_fix=True,
        latitude=lat,
        longitude=lon,
        speed_kmh=_float(speed),
        course_deg=_float(course),
        altitude_m=_float(altitude),
        alarms=alarms,
        attributes=attributes,
        **extra,
    )


def _samples(
    v: list[str], kind: str, fields: tuple[str, ...], base: dict, header: dict, key: str
) -> Records:
    """GTMDR/GTADR (ours): ``<n>``, n samples of ``fields``, ``<generated time>``."""
    count = _count(v[6], kind)
    if len(v) != _FIRST + count * len(fields) + 3:
        raise FrameError(
            f"okai GT{kind} says {count} samples of {len(fields)} fields but has {len(v)} fields"
        )
    samples = []
    for n in range(count):
        values = v[_FIRST + n * len(fields) : _FIRST + (n + 1) * len(fields)]
        samples.append({f: _float(x) for f, x in zip(fields, values, strict=True)})
    header[key] = samples
    generated = _stamp(v[-3])
    return (DeviceRecord(**base, kind=RecordKind.STATUS, fix_time=generated, attributes=header),)


def _mdr(kind: str, v: list[str], base: dict, header: dict, sent: datetime | None) -> Records:
    fields = ("longitude", "latitude", "speed_kmh", "left_brake", "right_brake", "throttle")
    return _samples(v, kind, fields, base, header, "motion_samples")


def _adr(kind: str, v: list[str], base: dict, header: dict, sent: datetime | None) -> Records:
    return _samples(v, kind, ("x", "y", "z"), base, header, "acceleration")


def _count(value: str, kind: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= _MAX_SAMPLES:
        raise FrameError(f"okai GT{kind} count field is not 1 to {_MAX_SAMPLES}: {value[:10]!r}")
    return int(value)


_LAYOUTS = {"CFU": _cfu, "FRI": _fri, "MDR": _mdr, "ADR": _adr}
# Report types Queclink has too: one that does not fit OKAI's layout is read as Queclink's.
_SHARED_WITH_QUECLINK = frozenset({"FRI"})

CODEC = OkaiCodec()
