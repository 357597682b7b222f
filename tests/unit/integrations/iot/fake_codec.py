"""A tiny line-based protocol implementing the Codec contract, for gateway tests.

It keeps the gateway tests independent of the real codecs (written in parallel) and makes
every frame easy to read in a failing assertion:

device -> server: ``ID,<imei>`` (login), ``POS,<lat>,<lon>,<lock>``, ``ST,<lock>``,
``RES,<ok|fail>,<text>``, ``HB`` (heartbeat, no record); ``<lock>`` is L, U or -.
server -> device: ``OK`` after login, ``ACK,<type>`` after data, ``CMD,<seq>,<action>``.
"""

from __future__ import annotations

from app.integrations.iot.records import (
    DecodeResult,
    DeviceRecord,
    FrameError,
    LockState,
    RecordKind,
)

_LOCKS = {"L": LockState.LOCKED, "U": LockState.UNLOCKED, "-": LockState.UNKNOWN}


class LineFramer:
    """Splits on ``\\n``; a line longer than ``max_frame`` is a FrameError."""

    __slots__ = ("_buf", "_max")

    def __init__(self, max_frame: int):
        self._buf = b""
        self._max = max_frame

    @property
    def buffered(self) -> int:
        """Bytes of an unfinished frame held back (the gateway's slow-sender timer)."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        *frames, self._buf = self._buf.split(b"\n")
        if len(self._buf) > self._max or any(len(f) > self._max for f in frames):
            raise FrameError(f"line longer than {self._max} bytes")
        return [f for f in frames if f]


class LineCodec:
    name = "line"

    def framer(self, max_frame: int = 4096) -> LineFramer:
        return LineFramer(max_frame)

    def decode(
        self, frame: bytes, *, device_id: str | None = None, strict: bool = True
    ) -> DecodeResult:
        try:
            fields = frame.decode("ascii").strip().split(",")
        except UnicodeDecodeError:
            raise FrameError("not ASCII") from None
        kind = fields[0]
        try:
            if kind == "ID" and len(fields) == 2 and fields[1].isdigit():
                rec = DeviceRecord("line", RecordKind.LOGIN, fields[1], frame)
                return DecodeResult((rec,), b"OK\n")
            if kind == "HB" and len(fields) == 1:
                return DecodeResult((), b"ACK,HB\n")
            if kind == "POS" and len(fields) == 4:
                rec = DeviceRecord(
                    "line",
                    RecordKind.POSITION,
                    device_id,
                    frame,
                    valid_fix=True,
                    latitude=float(fields[1]),
                    longitude=float(fields[2]),
                    lock_state=_LOCKS[fields[3]],
                )
                return DecodeResult((rec,), b"ACK,POS\n")
            if kind == "ST" and len(fields) == 2:
                rec = DeviceRecord(
                    "line", RecordKind.STATUS, device_id, frame, lock_state=_LOCKS[fields[1]]
                )
                return DecodeResult((rec,), b"ACK,ST\n")
            if kind == "RES" and len(fields) == 3 and fields[1] in ("ok", "fail"):
                rec = DeviceRecord(
                    "line",
                    RecordKind.COMMAND_RESULT,
                    device_id,
                    frame,
                    command_result=fields[2],
                    attributes={"success": fields[1] == "ok"},
                )
                return DecodeResult((rec,), b"ACK,RES\n")
        except (ValueError, KeyError):
            pass
        raise FrameError(f"bad line frame {frame[:40]!r}")

    def encode_command(self, device_id: str, action: str, *, sequence: int = 0) -> bytes:
        if action not in ("lock", "unlock", "locate"):
            raise ValueError(f"line protocol cannot {action!r}")
        return f"CMD,{sequence},{action}\n".encode()


CODEC = LineCodec()
