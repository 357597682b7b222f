"""The device side of the text protocols (Omni, Queclink, OKAI, Segway), as the simulator needs it.

A ``Speaker`` turns the simulated vehicle into the frames a real device of that vendor
sends (login, periodic reports, command answers) and reads what the server sends back
(ACKs and commands). The frame layouts come from the codec modules' device-side builders
so the simulator and the decoders agree by construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from app.integrations.iot.codecs import gl200, okai_build, omni, segway, segway_build
from app.integrations.iot.records import Framer
from app.integrations.iot.simulator.vehicle import SimVehicle


@dataclass(frozen=True, slots=True)
class Reaction:
    """What the device does about one server frame."""

    reply: bytes = b""
    acked: bool = False  # the frame was an ACK of something we sent
    action: str | None = None  # the command the device carried out


class Speaker(Protocol):
    """One vendor's device behaviour. ``ready`` is False until the login was accepted."""

    ready: bool

    def framer(self) -> Framer: ...

    def hello(self, vehicle: SimVehicle) -> bytes: ...

    def report(self, vehicle: SimVehicle) -> bytes: ...

    def on_server_frame(self, vehicle: SimVehicle, frame: bytes) -> Reaction: ...


class DelimiterFramer:
    """Splits a server stream on a one-byte terminator (Queclink ``$``)."""

    def __init__(self, terminator: bytes, max_frame: int = 4096):
        self._end, self._max, self._buf = terminator, max_frame, b""

    def feed(self, data: bytes) -> list[bytes]:
        *frames, self._buf = (self._buf + data).split(self._end)
        self._buf = self._buf[-self._max :]
        return [f + self._end for f in frames if f.strip()]

    @property
    def buffered(self) -> int:
        return len(self._buf)


class OmniSpeaker:
    """An Omni IoT lock: ``Q0`` sign-in, ``H0`` + ``D0`` reports, R0 key handshake."""

    def __init__(self, imei: str):
        self.imei = imei
        self.ready = True  # Q0 is not acknowledged by the server
        self._key = 0

    def framer(self) -> Framer:
        return omni.OmniFramer()

    def hello(self, vehicle: SimVehicle) -> bytes:
        volts = int(340 + 0.8 * vehicle.battery_pct)
        return omni.build_frame(self.imei, "Q0", volts, round(vehicle.battery_pct), 28)

    def report(self, vehicle: SimVehicle) -> bytes:
        return omni.build_position_frame(
            self.imei,
            vehicle.latitude,
            vehicle.longitude,
            vehicle.speed_kmh,
            vehicle.course_deg,
            vehicle.battery_pct,
            vehicle.locked,
            vehicle.now(),
        )

    def on_server_frame(self, vehicle: SimVehicle, frame: bytes) -> Reaction:
        _imei, kind, params = omni.parse_server_frame(frame)
        if kind == "R0" and len(params) >= 4:  # key request: hand out a fresh key
            self._key = (self._key + 17) % 100_000 or 1
            op, user, stamp = params[0], params[2], params[3]
            return Reaction(omni.build_frame(self.imei, "R0", op, self._key, user, stamp))
        if kind in ("L0", "L1") and params:  # the operation itself, with our key
            vehicle.locked = kind == "L1"
            done_at = int(vehicle.now().timestamp())
            answer = (
                omni.build_frame(self.imei, "L0", 0, 0, done_at)
                if kind == "L0"
                else omni.build_frame(self.imei, "L1", 0, 0, done_at, 1)
            )
            return Reaction(
                answer + self.report(vehicle), action="unlock" if kind == "L0" else "lock"
            )
        if kind == "D0":
            return Reaction(self.report(vehicle), action="locate")
        return Reaction(acked=True)  # echo ACKs (L0/L1/W0 without parameters, Re)


class Gl200Speaker:
    """A Queclink-style (OKAI) tracker: GTFRI reports, GTHBD heartbeats, AT+GTOUT lock relay."""

    def __init__(self, imei: str):
        self.imei = imei
        self.ready = True  # Queclink has no login; every report carries the IMEI
        self._count = 0

    def framer(self) -> Framer:
        return DelimiterFramer(b"$")

    def _next(self) -> int:
        self._count = (self._count + 1) & 0xFFFF
        return self._count

    def hello(self, vehicle: SimVehicle) -> bytes:
        return gl200.build_heartbeat(self.imei, vehicle.now(), count=self._next())

    def report(self, vehicle: SimVehicle) -> bytes:
        return gl200.build_position_frame(
            self.imei,
            vehicle.latitude,
            vehicle.longitude,
            vehicle.speed_kmh,
            vehicle.course_deg,
            vehicle.battery_pct,
            vehicle.locked,
            vehicle.now(),
            count=self._next(),
            odometer_km=vehicle.odometer_km,
        )

    def on_server_frame(self, vehicle: SimVehicle, frame: bytes) -> Reaction:
        if frame.startswith(b"+SACK:"):
            return Reaction(acked=True)
        command, params, serial = gl200.parse_command(frame)
        when = vehicle.now()
        answer = gl200.build_command_ack(self.imei, command, serial, when, count=self._next())
        if command == "OUT" and params[:1] in (["0"], ["1"]):
            vehicle.locked = params[0] == "1"
            return Reaction(
                answer + self.report(vehicle), action="lock" if vehicle.locked else "unlock"
            )
        if command == "RTO":
            return Reaction(answer + self.report(vehicle), action="locate")
        return Reaction(answer)


class OkaiSpeaker(Gl200Speaker):
    """An OKAI ZK scooter IoT: Queclink heartbeats and answers, OKAI GTFRI reports (with
    VIN, QR code, ECU lock and charging), and ``AT+GTRTO`` lock/unlock/locate/speed limit."""

    def __init__(self, imei: str):
        super().__init__(imei)
        self.speed_limit_kmh: int | None = None

    def report(self, vehicle: SimVehicle) -> bytes:
        return okai_build.build_position_frame(
            self.imei,
            vehicle.latitude,
            vehicle.longitude,
            vehicle.speed_kmh,
            vehicle.course_deg,
            vehicle.battery_pct,
            vehicle.locked,
            vehicle.charging,
            vehicle.now(),
            count=self._next(),
            vin=f"OKAI{self.imei[-13:]}",
            qr_code=f"QR{self.imei[-6:]}",
        )

    def on_server_frame(self, vehicle: SimVehicle, frame: bytes) -> Reaction:
        if frame.startswith(b"+SACK:"):
            return Reaction(acked=True)
        command, params, serial = gl200.parse_command(frame)
        answer = gl200.build_command_ack(
            self.imei, command, serial, vehicle.now(), count=self._next()
        )
        sub = params[0] if command == "RTO" and params else ""
        if sub in ("LOCK", "UNLOCK"):
            vehicle.locked = sub == "LOCK"
            return Reaction(answer + self.report(vehicle), action=sub.lower())
        if sub == "QUERY":
            return Reaction(answer + self.report(vehicle), action="locate")
        if sub == "SPEED" and len(params) > 1 and params[1].isdigit():
            self.speed_limit_kmh = int(params[1])
            return Reaction(answer, action=f"speed_limit:{params[1]}")
        return Reaction(answer)


class SegwaySpeaker:
    """A Segway IoT module: Q0 check-in, H0/D0/S6/S8 reports, the R0 operation-key exchange,
    D0 locate and the V0 "find my scooter" prompt. It carries two battery packs."""

    def __init__(self, imei: str):
        self.imei = imei
        self.ready = True  # Q0 is not acknowledged by the server
        self._key = 0
        self._user = "0"

    def framer(self) -> Framer:
        return segway.SegwayFramer()

    def hello(self, vehicle: SimVehicle) -> bytes:
        volts = segway_build.iot_centivolts(vehicle.battery_pct)
        pct = round(vehicle.battery_pct)
        return segway_build.build_frame(self.imei, "Q0", volts, pct, 24, "26201", "V144")

    def report(self, vehicle: SimVehicle) -> bytes:
        return segway_build.build_report(
            self.imei,
            vehicle.latitude,
            vehicle.longitude,
            vehicle.speed_kmh,
            vehicle.battery_pct,
            vehicle.locked,
            vehicle.now(),
            odometer_km=vehicle.odometer_km,
            charging=vehicle.charging,
            second_battery_pct=min(100.0, vehicle.battery_pct + 4),
        )

    def on_server_frame(self, vehicle: SimVehicle, frame: bytes) -> Reaction:
        _imei, kind, params = segway_build.parse_server_frame(frame)
        build = segway_build.build_frame
        if kind == "R0" and len(params) >= 4:  # key request: hand out a fresh key
            self._key = (self._key + 17) % 100_000 or 1
            op, self._user, stamp = params[0], params[2], params[3]
            return Reaction(build(self.imei, "R0", op, self._key, self._user, stamp))
        if kind in ("L0", "L1") and params:  # the operation itself, with our key
            if params[0] != str(self._key):
                return Reaction(build(self.imei, kind, 2, self._user, 0))  # key wrong
            vehicle.locked = kind == "L1"
            done_at = int(vehicle.now().timestamp())
            answer = build(self.imei, kind, 0, self._user, done_at, *([1] if kind == "L1" else []))
            return Reaction(
                answer + self.report(vehicle), action="unlock" if kind == "L0" else "lock"
            )
        if kind == "D0":
            return Reaction(self.report(vehicle), action="locate")
        if kind == "V0" and params:
            return Reaction(build(self.imei, "V0", params[0]), action="alarm")
        return Reaction(acked=True)  # echoed ACKs: L0/L1/W0/W1/E0/E1 without parameters
