"""Segway-Ninebot IoT TCP protocol (v1.4.4): ``*HBCR,NB,<imei>,<type>,...#`` text frames.

Public sources, none of them Segway's own document (reference iot-protocols.md 1.3):

- Levy Fleets, "Segway IoT Integration" (fleets.levyelectric.com/.../segway-integration):
  protocol v1.4.4, the ``*HBCR,NB,{IMEI},{COMMAND},...#`` header, the core types R0, L0,
  L1, H0, Q0, Q1, NMEA-format positions, dual batteries, alarms with severity, OTA.
- Levy Fleets, "IoT Push Messages - Alerts and Faults" (Segway IoT): alert ids
  1 illegal movement, 2 fallen over, 3 illegal removal, 4 low battery; fault classes.
- unosmartmobility/traccar ``SegwayeBikeProtocolDecoder`` and its test (Apache-2.0): the
  frames of our corpus, the ``0xFF 0xFF *HBCS,NB,...#\\n`` server frame, the ACKed types,
  and the L0/L1 result codes and R0/L0/L1 examples it quotes from Segway's
  "LockNUnlock specification".
- A public Java server for Ninebot scooter IoT ("protocol v1.2.8", index file without a
  repository name): field meanings of Q0, H0, S6 (scooter info 1), S8 (scooter info 2,
  the two batteries), V0 (voice prompts), and the server command set.
- flespi's ``segway-ninebot`` protocol page: the parameters these modules report
  (battery level/charging/cycles/temperature, alarm cleared, ...); no wire format.

Frames have no checksum and no length, so ``checksum_ok`` is always True and "strict"
only means the shape must match. A 12-digit device time may follow the IMEI, as in the
Omni family. The server answers with ``0xFF 0xFF`` and the header ``HBCS``.

Lock and unlock are the operation-key exchange: the server sends
``R0,<op>,<key validity s>,<user>,<ts>`` (op 0 unlock, 1 lock), the scooter answers
``R0,<op>,<key>,<user>,<ts>``, the server sends ``L0,<key>,<user>,<ts>`` or
``L1,<key>`` and the scooter reports the result as ``L0``/``L1,<status>,...``. The R0
reply names the operation, so the decoder builds the second step as its answer without
remembering which command is pending (as omni.py does); ``sequence`` travels as user id.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime

from app.integrations.iot.codecs.omni import OmniFramer
from app.integrations.iot.device_ids import check_imei
from app.integrations.iot.records import (
    DecodeResult,
    DeviceRecord,
    FrameError,
    LockState,
    RecordKind,
)

logger = logging.getLogger(__name__)

NAME = "segway"
SERVER_PREFIX = b"\xff\xff"
VENDOR = "NB"
_KEY_VALIDITY_S = 20  # the LockNUnlock example's key lifetime
_FRAME_RE = re.compile(r"\*HBCR,([A-Z0-9]{2}),([^,]*),(?:(\d{12}),)?([A-Z]{1,2}[0-9])(?:,(.*))?#")
_POSITION_RE = re.compile(
    r"(?:\d{1,3},)?(\d{2})(\d{2})(\d{2})(?:\.\d+)?,([AV]),(\d{2})(\d{2}\.\d+),([NS]),"
    r"(\d{2,3})(\d{2}\.\d+),([EW]),(\d+),(\d+(?:\.\d+)?),(\d{2})(\d{2})(\d{2}),"
    r"(-?\d+(?:\.\d+)?),[A-Z]?,[A-Z]?"
)
# Types the server must echo (``*HBCS,NB,<imei>,[<time>,]<type>#``) or the scooter sends
# them again: the Traccar fork ACKs L0, L1, W0, E1; a second public decoder adds W1, E0.
# D0 is not echoed: a server ``D0`` is the locate command, so echoing it would loop.
ACKED_TYPES = frozenset({"L0", "L1", "W0", "W1", "E0", "E1"})

# W0 alert ids (Levy's Segway alerts page) -> (alarm name, severity). Severity is ours:
# theft and tampering need someone now, a fallen scooter soon, a low battery at the next
# round. Omni's xrb28 reads 3 as low battery; for Segway, Levy names 3 "illegal removal".
ALERTS: dict[str, tuple[str, str]] = {
    "1": ("movement", "critical"),
    "2": ("fallDown", "warning"),
    "3": ("tamper", "critical"),
    "4": ("lowBattery", "info"),
}
FAULT_SEVERITY = "critical"  # Levy: faults are hardware failures that need maintenance

# L0/L1 result codes other than 0 (success), as the fork quotes the LockNUnlock spec.
UNLOCK_FAILURES: dict[str, str] = {
    "1": "unlock failed",
    "2": "operation key wrong or expired",
    "4": "ECU failed",
    "11": "unlock failed (e-bike)",
    "12": "unlock failed and roll-back failed (e-bike)",
}
LOCK_FAILURES: dict[str, str] = {
    "1": "lock failed",
    "2": "operation key wrong or expired",
    "3": "scooter is moving",
    "4": "ECU failed",
    "5": "strategy declined to lock",
    "6": "no GPS signal",
    "11": "lock failed (e-bike)",
}

# Types a public source names that we deliberately do not decode, and why. They become
# RecordKind.OTHER (ACKed if the protocol wants it, never stored).
IGNORED: dict[str, str] = {
    "Q1": "lock-key query (Levy guide); its layout is not public",
    "U0": "IoT firmware OTA offer; the console runs no OTA",
    "U1": "IoT firmware OTA packet request; the console runs no OTA",
    "U2": "IoT firmware OTA finished; the console runs no OTA",
    "U5": "OTA start (fork test); the console runs no OTA",
    "U6": "OTA progress (fork test); the console runs no OTA",
    "G1": "controller firmware OTA version; the console runs no OTA",
    "G2": "controller firmware OTA packet request; the console runs no OTA",
    "G3": "controller firmware OTA finished; the console runs no OTA",
    "P2": "battery parameter block (fork test); field meanings not public",
    "J1": "query answer (fork test); field meanings not public",
    "LS1": "dashboard display settings; nothing we store",
    "C0": "RFID / battery-lock request; layout not public",
    "C1": "RFID / battery-lock answer (fork test); layout not public",
    "L5": "external (mechanical) lock answer; layout not public",
    "AI2": "AI camera box info (fork test); layout not public",
    "JR0": "AI lane/sidewalk detection (fork test; flespi names the flags); layout not public",
    "JR1": "BMS passcode; a secret, not stored",
    "JR4": "extended data (fork test); layout not public",
}
# Answers to configuration commands, kept as the command result text.
_CONFIG_RESULTS = frozenset({"S0", "S1", "S2", "S3", "S4", "S5", "S7", "S9", "D1"})
_OPERATIONS = {"0": "unlock", "1": "lock"}
_DIGITS = re.compile(r"[0-9]{1,12}")
_USER = re.compile(r"[0-9A-Za-z]{1,16}")  # ours are digits; the fork's tests use names


class SegwayFramer(OmniFramer):
    """Cuts ``*...#`` frames out of the stream; the Omni family's rule (see OmniFramer)."""

    label = "segway"


def _int(values: list[str], index: int, what: str) -> int | None:
    """The field at ``index`` as int, None if absent or empty; FrameError if not a number."""
    if index >= len(values) or values[index] == "":
        return None
    try:
        return int(values[index])
    except ValueError:
        raise FrameError(f"segway {what} is not a number: {values[index]!r}") from None


def _pct(value: int | None) -> float | None:
    return float(value) if value is not None and 0 <= value <= 100 else None


def _coordinate(degrees: str, minutes: str, hemisphere: str) -> float:
    value = int(degrees) + float(minutes) / 60
    return -value if hemisphere in "SW" else value


def _device_time(value: str) -> datetime:
    try:
        return datetime.strptime(value, "%y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        raise FrameError(f"impossible Segway device time {value!r}") from None


class SegwayCodec:
    """Segway IoT codec: framing, decoding, acknowledgements and commands."""

    name = NAME

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock

    def framer(self, max_frame: int = 4096) -> SegwayFramer:
        return SegwayFramer(max_frame)

    def decode(
        self, frame: bytes, *, device_id: str | None = None, strict: bool = True
    ) -> DecodeResult:
        text = frame.decode("latin-1").strip("\r\n")
        match = _FRAME_RE.fullmatch(text)
        if match is None:
            hint = " (an Omni header)" if text.startswith(("*SCOR", "*BGCR", "*CMDR")) else ""
            raise FrameError(f"not a Segway *HBCR frame{hint}: {text[:60]!r}")
        vendor, imei, dev_time, kind, payload = match.groups()
        check_imei(imei, NAME)  # the id group is loose so a bad id gets this clear message
        values = payload.split(",") if payload else []
        base: dict = {"protocol": NAME, "device_id": imei, "raw": bytes(frame)}
        ack = b""
        if kind in ACKED_TYPES:
            ack = server_frame(imei, f"{dev_time},{kind}" if dev_time else kind, vendor=vendor)
        if kind == "D0" or (kind == "D1" and len(values) > 2):
            return DecodeResult((self._position(payload, base),), ack)
        if kind == "R0":
            return DecodeResult((self._key_reply(values, base),), _follow_up(vendor, imei, values))
        fields: dict = {"attributes": {"type": kind}}
        if dev_time:
            fields["fix_time"] = _device_time(dev_time)
        handler = _HANDLERS.get(kind)
        if handler is not None:
            handler(fields, values, payload)
        elif kind in IGNORED:
            fields.update(kind=RecordKind.OTHER)
            fields["attributes"]["ignored"] = IGNORED[kind]
        else:
            logger.debug("segway: %s sent type %s, which no public source names", imei, kind)
            fields.update(kind=RecordKind.OTHER)
        return DecodeResult((DeviceRecord(**base, **fields),), ack)

    def _position(self, payload: str, base: dict) -> DeviceRecord:
        match = _POSITION_RE.fullmatch(payload)
        if match is None:
            raise FrameError(f"malformed Segway position: {payload[:80]!r}")
        hh, mi, ss, valid, lad, lam, lah, lod, lom, loh, sats, hdop, dd, mo, yy, alt = (
            match.groups()
        )
        try:
            when = datetime(2000 + int(yy), int(mo), int(dd), int(hh), int(mi), int(ss), tzinfo=UTC)
        except ValueError:
            raise FrameError(f"impossible date/time in Segway position: {payload[:80]!r}") from None
        lat, lon = _coordinate(lad, lam, lah), _coordinate(lod, lom, loh)
        return DeviceRecord(
            **base,
            kind=RecordKind.POSITION,
            fix_time=when,
            valid_fix=valid == "A" and abs(lat) <= 90 and abs(lon) <= 180,
            latitude=lat,
            longitude=lon,
            altitude_m=float(alt),
            satellites=int(sats),
            attributes={"hdop": float(hdop)},
        )

    @staticmethod
    def _key_reply(values: list[str], base: dict) -> DeviceRecord:
        """The scooter's R0: a step of the handshake, not a result; the key is a secret.

        OTHER, so the pending lock/unlock stays "sent" until the L0/L1 result, which then
        acknowledges it, or fails it with the scooter's reason.
        """
        operation = _OPERATIONS.get(values[0] if values else "", "unknown")
        return DeviceRecord(
            **base, kind=RecordKind.OTHER, attributes={"type": "R0", "operation": operation}
        )

    def encode_command(self, device_id: str, action: str, *, sequence: int = 0) -> bytes:
        """``unlock``/``lock`` start the R0 key exchange; ``locate`` asks for one fix (D0);
        ``alarm`` plays the "find my scooter" prompt (V0,2 of the v1.2.8 voice list)."""
        stamp = int(self._clock())
        user = sequence % 10_000
        bodies = {
            "unlock": f"R0,0,{_KEY_VALIDITY_S},{user},{stamp}",
            "lock": f"R0,1,{_KEY_VALIDITY_S},{user},{stamp}",
            "locate": "D0",
            "alarm": "V0,2",
        }
        if action not in bodies:
            raise ValueError(f"segway does not support {action!r}; supported: {', '.join(bodies)}")
        return server_frame(device_id, bodies[action])


def _follow_up(vendor: str, imei: str, values: list[str]) -> bytes:
    """The L0/L1 that completes a lock/unlock once the scooter has handed out its key."""
    if len(values) < 4 or values[0] not in _OPERATIONS:
        return b""
    key, user, stamp = values[1], values[2], values[3]
    if not (_DIGITS.fullmatch(key) and _DIGITS.fullmatch(stamp) and _USER.fullmatch(user)):
        return b""  # echoed into our frame, so only what a key, user and time can be
    body = f"L0,{key},{user},{stamp}" if values[0] == "0" else f"L1,{key}"
    return server_frame(imei, body, vendor=vendor)


def _volts_rssi(attributes: dict, values: list[str], volt_at: int, rssi_at: int) -> None:
    volts = _int(values, volt_at, "IoT voltage")
    if volts is not None:
        attributes["battery_voltage"] = volts / 100  # the IoT's own cell, 412 = 4.12 V
    rssi = _int(values, rssi_at, "rssi")
    if rssi is not None:
        attributes["rssi"] = rssi


def _check_in(fields: dict, values: list[str], payload: str) -> None:
    """Q0: IoT voltage, scooter battery %, rssi; v1.4.4 adds network and firmware."""
    fields.update(kind=RecordKind.LOGIN, battery_pct=_pct(_int(values, 1, "battery")))
    _volts_rssi(fields["attributes"], values, 0, 2)
    if len(values) > 3 and values[3]:
        fields["attributes"]["network"] = values[3]
    if len(values) > 4 and values[4]:
        fields["firmware"] = values[4]


def _heartbeat(fields: dict, values: list[str], payload: str) -> None:
    """H0: lock state, IoT voltage, rssi, scooter battery %, charging."""
    lock = _int(values, 0, "lock state")
    charging = _int(values, 4, "charging flag")
    fields.update(kind=RecordKind.STATUS, battery_pct=_pct(_int(values, 3, "battery")))
    if lock is not None:
        fields["lock_state"] = LockState.LOCKED if lock > 0 else LockState.UNLOCKED
    if charging is not None:
        fields["charging"] = charging > 0
    _volts_rssi(fields["attributes"], values, 1, 2)


def _lock_result(fields: dict, values: list[str], payload: str) -> None:
    """L0/L1: ``<status>,<user>,<ts>[,<ride minutes>]``; status 0 is success."""
    kind = fields["attributes"]["type"]
    status = values[0] if values else ""
    fields.update(kind=RecordKind.COMMAND_RESULT, command_result=f"{kind},{payload}")
    attributes = fields["attributes"]
    attributes["success"] = status == "0"
    if status == "0":
        fields["lock_state"] = LockState.UNLOCKED if kind == "L0" else LockState.LOCKED
    else:
        failures = UNLOCK_FAILURES if kind == "L0" else LOCK_FAILURES
        attributes["reason"] = failures.get(status, f"result code {status or 'missing'}")
    if kind == "L1":
        ride = _int(values, 3, "ride time")
        if ride is not None:
            attributes["ride_minutes"] = ride


def _alert(fields: dict, values: list[str], payload: str) -> None:
    code = values[0] if values else ""
    alarm, severity = ALERTS.get(code, ("alarm", "warning"))
    fields.update(kind=RecordKind.ALARM, alarms=(alarm,))
    fields["attributes"].update(alarm_code=code, severity=severity)


def _alert_cleared(fields: dict, values: list[str], payload: str) -> None:
    fields.update(kind=RecordKind.STATUS)
    fields["attributes"]["alarm_cleared"] = values[0] if values else ""


def _fault(fields: dict, values: list[str], payload: str) -> None:
    fields.update(kind=RecordKind.ALARM, alarms=("fault",))
    fields["attributes"].update(error=_int(values, 0, "fault code"), severity=FAULT_SEVERITY)


def _fault_cleared(fields: dict, values: list[str], payload: str) -> None:
    fields.update(kind=RecordKind.STATUS)
    fields["attributes"]["fault_cleared"] = _int(values, 0, "fault code")


def _scooter_info(fields: dict, values: list[str], payload: str) -> None:
    """S6, scooter info 1 (v1.2.8 units): battery %, speed mode, km/h, total metres,
    remaining range in 10 m, total ride seconds, lock state (0 unlocked, 1 locked)."""
    speed = _int(values, 2, "speed")
    metres = _int(values, 3, "mileage")
    lock = _int(values, 6, "lock state")
    fields.update(
        kind=RecordKind.STATUS,
        battery_pct=_pct(_int(values, 0, "battery")),
        speed_kmh=float(speed) if speed is not None else None,
        odometer_km=metres / 1000 if metres is not None else None,
    )
    if lock is not None:
        fields["lock_state"] = LockState.LOCKED if lock > 0 else LockState.UNLOCKED
    attributes = fields["attributes"]
    for key, at in (("speed_mode", 1), ("range_10m", 4), ("ride_seconds", 5)):
        value = _int(values, at, key.replace("_", " "))
        if value is not None:
            attributes[key] = value


def _batteries(fields: dict, values: list[str], payload: str) -> None:
    """S8, scooter info 2: charging, controller volts, cycles, battery 1 and 2 %, then the
    built-in pack's two temperatures and the external pack's two (degrees C).

    battery_pct is battery 1, the scooter's built-in main pack; both are attributes.
    """
    names = (
        "charging", "controller_voltage", "battery_cycles", "battery1_pct", "battery2_pct",
        "battery1_temp1_c", "battery1_temp2_c", "battery2_temp1_c", "battery2_temp2_c",
    )  # fmt: skip
    readings = {key: _int(values, at, key.replace("_", " ")) for at, key in enumerate(names)}
    charging = readings.pop("charging")
    fields.update(kind=RecordKind.STATUS, battery_pct=_pct(readings["battery1_pct"]))
    if charging is not None:
        fields["charging"] = charging > 0
    fields["attributes"].update((k, v) for k, v in readings.items() if v is not None)


def _cells(fields: dict, values: list[str], payload: str) -> None:
    """B1: battery cell voltages (fork test), volts."""
    try:
        cells = [float(v) for v in values]
    except ValueError:
        cells = []
    if not cells or not all(math.isfinite(c) for c in cells):
        raise FrameError(f"segway cell voltage is not a number: {payload[:60]!r}")
    fields.update(kind=RecordKind.STATUS)
    fields["attributes"]["cell_voltages"] = cells


def _command_result(fields: dict, values: list[str], payload: str) -> None:
    kind = fields["attributes"]["type"]
    fields.update(kind=RecordKind.COMMAND_RESULT, command_result=f"{kind},{payload}".rstrip(","))


def _voice(fields: dict, values: list[str], payload: str) -> None:
    """V0: the prompt played (1 leaving the geofence, 2 find my scooter, 3 low battery)."""
    _command_result(fields, values, payload)
    fields["attributes"]["voice"] = _int(values, 0, "voice prompt")


def _versions(fields: dict, values: list[str], payload: str) -> None:
    """G0: IoT, controller, dashboard (and battery) firmware versions."""
    _command_result(fields, values, payload)
    if values and values[0]:
        fields["firmware"] = values[0]


def _identity(key: str) -> Callable[[dict, list[str], str], None]:
    """I0 (ICCID) and M0 (BLE MAC): one identifier kept as an attribute."""

    def handle(fields: dict, values: list[str], payload: str) -> None:
        _command_result(fields, values, payload)
        if values and values[0]:
            fields["attributes"][key] = values[0]

    return handle


def _secret(fields: dict, values: list[str], payload: str) -> None:
    """K0/K1 answer with the BLE key: acknowledged, but the key is not stored."""
    fields.update(kind=RecordKind.COMMAND_RESULT, command_result=fields["attributes"]["type"])


_HANDLERS: dict[str, Callable[[dict, list[str], str], None]] = {
    "Q0": _check_in,
    "H0": _heartbeat,
    "L0": _lock_result,
    "L1": _lock_result,
    "W0": _alert,
    "W1": _alert_cleared,
    "E0": _fault,
    "E1": _fault_cleared,
    "S6": _scooter_info,
    "S8": _batteries,
    "B1": _cells,
    "V0": _voice,
    "G0": _versions,
    "I0": _identity("iccid"),
    "M0": _identity("ble_mac"),
    "K0": _secret,
    "K1": _secret,
    **dict.fromkeys(_CONFIG_RESULTS, _command_result),
}


def _check_device_id(imei: str) -> None:
    if not re.fullmatch(r"\d{15}", imei):
        raise ValueError(f"a Segway device id is a 15-digit IMEI, not {imei!r}")


def server_frame(imei: str, body: str, *, vendor: str = VENDOR) -> bytes:
    """``0xFF 0xFF *HBCS,<vendor>,<imei>,<body>#\\n``: every frame the server sends."""
    _check_device_id(imei)
    if not body or any(ch in body for ch in "*#\r\n") or not body.isascii():
        raise ValueError(f"a Segway instruction is printable ASCII without '*' or '#': {body!r}")
    return SERVER_PREFIX + f"*HBCS,{vendor},{imei},{body}#\n".encode("ascii")


CODEC = SegwayCodec()
