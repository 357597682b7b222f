"""Normalised records that every IoT protocol codec produces.

Each protocol speaks its own wire format; everything above the codecs (the gateway, the
telemetry store, the views) sees only these shapes, so a scooter on Omni and a car
tracker on GT06 are stored and shown alike. Units are metric: km/h, degrees, km, %.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


class LockState(enum.StrEnum):
    """Lock state as far as the device reports it."""

    LOCKED = "locked"
    UNLOCKED = "unlocked"
    UNKNOWN = "unknown"


class RecordKind(enum.StrEnum):
    """What a decoded frame carried."""

    LOGIN = "login"  # identifies the device on this connection (IMEI handshake, GT06 login)
    POSITION = "position"  # a fix (valid or not) with optional readings
    STATUS = "status"  # readings without a position (heartbeat, battery, lock)
    ALARM = "alarm"
    COMMAND_RESULT = "command_result"  # the device answered a command
    OTHER = "other"  # well-formed but carries nothing we store


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    """One normalised reading from one frame.

    ``raw`` keeps the frame exactly as received so troubleshooting never depends on
    our decoder being right. ``checksum_ok`` is False only in lenient mode, where a
    frame with a bad checksum is still decoded but marked.
    """

    protocol: str
    kind: RecordKind
    device_id: str | None
    raw: bytes
    fix_time: datetime | None = None  # UTC, the device's own time of the reading
    valid_fix: bool = False
    latitude: float | None = None
    longitude: float | None = None
    speed_kmh: float | None = None
    course_deg: float | None = None
    altitude_m: float | None = None
    satellites: int | None = None
    battery_pct: float | None = None
    lock_state: LockState = LockState.UNKNOWN
    charging: bool | None = None  # energy flowing into the vehicle's battery; None: not said
    odometer_km: float | None = None
    alarms: tuple[str, ...] = ()
    firmware: str | None = None
    command_result: str | None = None
    checksum_ok: bool = True
    attributes: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DecodeResult:
    """What decoding one frame gives: records to store and the bytes to answer with.

    The gateway sends ``ack`` only after the records are stored, so a device never
    deletes a reading from its buffer that we have not kept.
    """

    records: tuple[DeviceRecord, ...]
    ack: bytes = b""


class FrameError(ValueError):
    """A frame that cannot be decoded (bad checksum in strict mode, wrong shape, garbage).

    The message says what was wrong in words an operator's troubleshooting log can show.
    """


class Framer(Protocol):
    """Splits a byte stream into whole frames.

    ``feed`` returns the complete frames found so far and keeps the remainder. Garbage
    between frames is skipped (resynchronisation); a frame longer than ``max_frame`` raises
    FrameError so the connection can be cut. ``buffered`` lets the gateway time a frame
    left unfinished, also when it arrived in the same read as a complete one.
    """

    def feed(self, data: bytes) -> list[bytes]: ...

    @property
    def buffered(self) -> int:
        """Bytes kept back as the start of a frame not complete yet (0 between frames)."""
        ...


class Codec(Protocol):
    """One wire protocol: framing, decoding and command encoding, no IO."""

    name: str

    def framer(self, max_frame: int = 4096) -> Framer: ...

    def decode(
        self, frame: bytes, *, device_id: str | None = None, strict: bool = True
    ) -> DecodeResult:
        """Decode one whole frame.

        ``device_id`` is the identity learnt from an earlier login frame on the same
        connection, for protocols whose data frames do not repeat it (Teltonika, GT06).
        """
        ...

    def encode_command(self, device_id: str, action: str, *, sequence: int = 0) -> bytes:
        """Encode ``lock``, ``unlock``, ``locate`` or ``alarm``; ValueError if unsupported."""
        ...
