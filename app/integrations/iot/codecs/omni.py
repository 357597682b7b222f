"""Omni IoT lock protocol (Traccar ``xrb28``): ``*SCOR,OM,<imei>,<type>,...#`` text frames.

Frames are ASCII, start with ``*`` and end with ``#`` (devices usually add CR/LF). There
is no checksum and no length field, so "strict" has nothing to verify beyond the shape:
``checksum_ok`` is always True. Server frames carry a ``0xFF 0xFF`` prefix and a header
whose last letter is ``S`` instead of the device's ``R`` (``SCOR`` -> ``SCOS``).

Lock and unlock follow the lock's two-step handshake (reference section 1.1, "V2.1.8"):
the server asks for an operation key with ``R0,<op>,...``; the lock answers
``R0,<op>,<key>,<user>,<ts>`` and the server then sends ``L0,<key>,<user>,<ts>`` (unlock)
or ``L1,<key>`` (lock). The R0 reply names the operation itself, so the decoder builds
that second step as its answer without remembering which command is pending; the
``sequence`` of ``encode_command`` travels as the user id and comes back in the replies.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime

from app.integrations.iot.codecs.framing import StreamFramer
from app.integrations.iot.codecs.nmea import format_ddmm
from app.integrations.iot.device_ids import check_imei
from app.integrations.iot.records import (
    DecodeResult,
    DeviceRecord,
    FrameError,
    LockState,
    RecordKind,
)

logger = logging.getLogger(__name__)

NAME = "omni"
SERVER_PREFIX = b"\xff\xff"
_KEY_VALIDITY_S = 20  # how long the operation key the lock hands out stays valid
_FRAME_RE = re.compile(
    r"\*([A-Z]{3})R,([A-Z0-9]{2}),([^,]*),(?:(\d{12}),)?([A-Z][0-9A-Za-z]),?(.*)#"
)
_D0_RE = re.compile(
    r"[01],(\d{2})(\d{2})(\d{2})(?:\.\d+)?,([AV]),(\d{2})(\d{2}\.\d+),([NS]),(\d{2,3})(\d{2}\.\d+),"
    r"([EW]),(\d+),(\d+(?:\.\d+)?),(\d{2})(\d{2})(\d{2}),(-?\d+(?:\.\d+)?),[A-Z]?,[A-Z]?"
)
_ACKED_TYPES = frozenset({"L0", "L1", "W0", "E1"})
_RESULT_TYPES = frozenset(
    {"R0", "L0", "L1", "S4", "S5", "S6", "S7", "S8", "V0", "G0", "K0", "I0", "M0"}
)
_W0_ALARMS = {"1": "movement", "2": "fallDown", "3": "lowBattery"}
# Segway's IoT uses the same text shape with header HBCR and vendor NB (codecs/segway.py
# owns it). Traccar's xrb28 tests also carry ``*HBCR,NG`` frames, which stay Omni's.
SEGWAY_HEADER = ("HBC", "NB")


class OmniFramer(StreamFramer):
    """Cuts ``*...#`` frames out of a TCP stream.

    A frame starts at the last ``*`` before its ``#``: fields never contain ``*``, so
    a partial frame or line noise before a real frame is dropped, which is how the
    stream resynchronises after garbage. Segway's ``*HBCR,...#`` frames share this shape,
    so its codec reuses the framer under its own ``label``.
    """

    label = "omni"

    def _cut(self) -> bytes | None:
        end = self._buf.find(b"#")
        if end < 0:
            start = self._buf.rfind(b"*")
            if start < 0:
                self._buf.clear()
            else:
                del self._buf[:start]
                self._drop_unfinished(f"{self.label} frame", "'#'")
            return None
        start = self._buf.rfind(b"*", 0, end)
        if start < 0:
            del self._buf[: end + 1]
            return b""
        if end + 1 - start > self._max:
            del self._buf[: end + 1]
            raise FrameError(f"{self.label} frame of {end + 1 - start} bytes exceeds {self._max}")
        frame = bytes(self._buf[start : end + 1])
        del self._buf[: end + 1]
        return frame


def _coordinate(degrees: str, minutes: str, hemisphere: str) -> float:
    value = int(degrees) + float(minutes) / 60
    return -value if hemisphere in "SW" else value


def _int(values: list[str], index: int, what: str) -> int | None:
    """The field at ``index`` as int, None if absent or empty; FrameError if not a number."""
    if index >= len(values) or values[index] == "":
        return None
    try:
        return int(values[index])
    except ValueError:
        raise FrameError(f"omni {what} is not a number: {values[index]!r}") from None


def _pct(value: int | None) -> float | None:
    return float(value) if value is not None and 0 <= value <= 100 else None


class OmniCodec:
    """Omni lock codec: framing, decoding, acknowledgements and commands."""

    name = NAME

    def __init__(self, vendor: str = "OM", clock: Callable[[], float] = time.time) -> None:
        self._vendor = vendor
        self._clock = clock

    def framer(self, max_frame: int = 4096) -> OmniFramer:
        return OmniFramer(max_frame)

    def decode(
        self, frame: bytes, *, device_id: str | None = None, strict: bool = True
    ) -> DecodeResult:
        text = frame.decode("latin-1").strip("\r\n")
        match = _FRAME_RE.fullmatch(text)
        if match is None:
            raise FrameError(f"not an Omni frame: {text[:60]!r}")
        prefix, vendor, imei, dev_time, kind, payload = match.groups()
        if (prefix, vendor) == SEGWAY_HEADER:
            raise FrameError(f"looks like Segway (*HBCR,NB), not Omni: {text[:60]!r}")
        check_imei(imei, NAME)  # the id group is loose so a bad id gets this clear message
        values = payload.split(",") if payload else []
        base = {"protocol": NAME, "device_id": imei, "raw": bytes(frame)}
        ack = b""
        if kind in _ACKED_TYPES:
            time_part = f"{dev_time}," if dev_time else ""
            ack = _server_frame(f"{prefix}S", vendor, imei, f"{time_part}{kind}")
        if kind in ("D0", "D1"):
            return DecodeResult((self._position(payload, base),), ack)
        if kind == "R0":
            ack = self._follow_up(prefix, vendor, imei, values)
        record = self._non_position(kind, payload, values, base, dev_time)
        return DecodeResult((record,) if record else (), ack)

    def _position(self, payload: str, base: dict) -> DeviceRecord:
        match = _D0_RE.fullmatch(payload)
        if match is None:
            raise FrameError(f"malformed Omni position: {payload[:80]!r}")
        hh, mi, ss, valid, lad, lam, lah, lod, lom, loh, sats, hdop, dd, mo, yy, alt = (
            match.groups()
        )
        try:
            when = datetime(2000 + int(yy), int(mo), int(dd), int(hh), int(mi), int(ss), tzinfo=UTC)
        except ValueError:
            raise FrameError(f"impossible date/time in Omni position: {payload[:80]!r}") from None
        lat, lon = _coordinate(lad, lam, lah), _coordinate(lod, lom, loh)
        ok = valid == "A" and abs(lat) <= 90 and abs(lon) <= 180
        return DeviceRecord(
            **base,
            kind=RecordKind.POSITION,
            fix_time=when,
            valid_fix=ok,
            latitude=lat,
            longitude=lon,
            altitude_m=float(alt),
            satellites=int(sats),
            attributes={"hdop": float(hdop)},
        )

    def _follow_up(self, prefix: str, vendor: str, imei: str, values: list[str]) -> bytes:
        """The L0/L1 that completes a lock/unlock once the lock has handed out its key."""
        if len(values) < 4 or values[0] not in ("0", "1"):
            return b""
        if not all(re.fullmatch(r"\d{1,12}", value) for value in values[1:4]):
            return b""
        key, user, stamp = values[1], values[2], values[3]
        body = f"L0,{key},{user},{stamp}" if values[0] == "0" else f"L1,{key}"
        return _server_frame(f"{prefix}S", vendor, imei, body)

    def _non_position(
        self, kind: str, payload: str, values: list[str], base: dict, dev_time: str | None
    ) -> DeviceRecord | None:
        fields: dict = {"attributes": {"type": kind}}
        if dev_time:
            fields["fix_time"] = _device_time(dev_time)
        if kind == "Q0":
            fields.update(kind=RecordKind.LOGIN, battery_pct=_pct(_int(values, 1, "battery")))
            _volts_rssi(fields["attributes"], values, 0, 2)
        elif kind == "H0":
            lock = _int(values, 0, "lock state")
            fields.update(kind=RecordKind.STATUS, battery_pct=_pct(_int(values, 3, "battery")))
            if lock is not None:
                fields["lock_state"] = LockState.LOCKED if lock > 0 else LockState.UNLOCKED
            _volts_rssi(fields["attributes"], values, 1, 2)
        elif kind == "W0":
            alarm = _W0_ALARMS.get(values[0] if values else "")
            fields.update(kind=RecordKind.ALARM, alarms=(alarm,) if alarm else ())
        elif kind == "E0":
            fields.update(kind=RecordKind.ALARM, alarms=("fault",))
            fields["attributes"]["error"] = _int(values, 0, "fault code")
        elif kind in _RESULT_TYPES:
            fields.update(kind=RecordKind.COMMAND_RESULT, command_result=f"{kind},{payload}")
            status = values[0] if values else ""
            if kind in ("L0", "L1") and status == "0":
                fields["lock_state"] = LockState.UNLOCKED if kind == "L0" else LockState.LOCKED
        elif kind == "S1":
            fields.update(kind=RecordKind.STATUS)
            fields["attributes"]["event"] = _int(values, 0, "event")
        else:
            logger.debug("omni: %s frame type %s carries nothing we store", base["device_id"], kind)
            fields.update(kind=RecordKind.OTHER)
        return DeviceRecord(**base, **fields)

    def encode_command(self, device_id: str, action: str, *, sequence: int = 0) -> bytes:
        """``unlock``/``lock`` start the R0 key handshake; ``locate`` asks for one fix (D0);
        ``alarm`` rings the lock (S8, from public server hints, unverified on hardware)."""
        stamp = int(self._clock())
        user = sequence % 10_000
        bodies = {
            "unlock": f"R0,0,{_KEY_VALIDITY_S},{user},{stamp}",
            "lock": f"R0,1,{_KEY_VALIDITY_S},{user},{stamp}",
            "locate": "D0",
            "alarm": "S8,2,0",
        }
        if action not in bodies:
            raise ValueError(f"omni does not support {action!r}; supported: {', '.join(bodies)}")
        return encode_custom(device_id, bodies[action], vendor=self._vendor)


def _volts_rssi(attributes: dict, values: list[str], volt_at: int, rssi_at: int) -> None:
    volts = _int(values, volt_at, "voltage")
    if volts is not None:
        attributes["battery_voltage"] = volts / 100
    rssi = _int(values, rssi_at, "rssi")
    if rssi is not None:
        attributes["rssi"] = rssi


def _device_time(value: str) -> datetime:
    try:
        return datetime.strptime(value, "%y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        raise FrameError(f"impossible Omni device time {value!r}") from None


def _check_imei(imei: str) -> None:
    if not re.fullmatch(r"\d{15}", imei):
        raise ValueError(f"an Omni device id is a 15-digit IMEI, not {imei!r}")


def _server_frame(header: str, vendor: str, imei: str, body: str) -> bytes:
    return SERVER_PREFIX + f"*{header},{vendor},{imei},{body}#\n".encode("ascii")


def encode_custom(device_id: str, data: str, *, vendor: str = "OM") -> bytes:
    """A server frame with any instruction, e.g. ``D1,300`` (track every 300 s)."""
    _check_imei(device_id)
    if not data or any(ch in data for ch in "*#\r\n") or not data.isascii():
        raise ValueError(f"an Omni instruction is printable ASCII without '*' or '#': {data!r}")
    return _server_frame("SCOS", vendor, device_id, data)


# -- device side: what a lock sends, for the device simulator ---------------------------


def build_frame(imei: str, kind: str, *params: object, vendor: str = "OM") -> bytes:
    """One device frame ``*SCOR,<vendor>,<imei>,<kind>,<params>#\\r\\n``."""
    _check_imei(imei)
    body = ",".join([kind, *(str(p) for p in params)])
    return f"*SCOR,{vendor},{imei},{body}#\r\n".encode("ascii")


def build_position_frame(
    imei: str,
    lat: float,
    lon: float,
    speed_kmh: float,
    course: float,
    battery_pct: float,
    locked: bool,
    when: datetime,
) -> bytes:
    """An H0 heartbeat (lock, battery) followed by a D0 fix, as a lock reports them.

    Omni's D0 has no speed or course field, so ``speed_kmh`` and ``course`` cannot
    travel; they are accepted so all simulators share one signature.
    """
    del speed_kmh, course  # not representable in this protocol (see docstring)
    when = when.astimezone(UTC)
    volts = int(340 + 80 * max(0.0, min(battery_pct, 100.0)) / 100)
    heartbeat = build_frame(imei, "H0", int(locked), volts, 28, round(battery_pct))
    position = build_frame(
        imei,
        "D0",
        0,
        when.strftime("%H%M%S.00"),
        "A",
        format_ddmm(lat, 2),
        "N" if lat >= 0 else "S",
        format_ddmm(lon, 3),
        "E" if lon >= 0 else "W",
        9,
        "0.9",
        when.strftime("%d%m%y"),
        "30.0",
        "M",
        "A",
    )
    return heartbeat + position


def parse_server_frame(frame: bytes) -> tuple[str, str, list[str]]:
    """What a server frame asks of a lock: (imei, instruction, parameters).

    The device simulator uses this to answer commands the way a real lock does.
    """
    text = frame.removeprefix(SERVER_PREFIX).decode("latin-1").strip("\r\n")
    match = re.fullmatch(r"\*[A-Z]{3}S,[A-Z0-9]{2},(\d{15}),([A-Z][0-9A-Za-z])(?:,(.*))?#", text)
    if match is None:
        raise FrameError(f"not an Omni server frame: {text[:60]!r}")
    imei, kind, params = match.groups()
    return imei, kind, params.split(",") if params else []


CODEC = OmniCodec()
