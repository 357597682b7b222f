"""The device side of JT/T 808, as the simulator needs it: a terminal on a scooter."""

from __future__ import annotations

from app.integrations.iot.codecs import jt808, jt808_build
from app.integrations.iot.records import FrameError, Framer
from app.integrations.iot.simulator.speakers import Reaction
from app.integrations.iot.simulator.vehicle import SimVehicle

_CONTROL_ACTIONS = {0xF0: "lock", 0xF1: "unlock"}


class Jt808Speaker:
    """Registers (0x0100), authenticates with the code the 0x8100 gave, then reports 0x0200.

    Commands: 0x8105 control word 0xF0/0xF1 cuts or restores the circuit (our lock), and
    0x8201 asks for a position; each is answered with 0x0001 and a fresh 0x0200.
    """

    def __init__(self, device_id: str):
        self.device_id = device_id
        self.ready = False  # reports only after the platform accepted the authentication
        self._serial = 0

    def _next(self) -> int:
        self._serial = (self._serial + 1) & 0xFFFF
        return self._serial

    def framer(self) -> Framer:
        return jt808.CODEC.framer()

    def hello(self, vehicle: SimVehicle) -> bytes:
        return jt808_build.build_register(self.device_id, self._next())

    def report(self, vehicle: SimVehicle) -> bytes:
        fix = jt808_build.Fix(
            vehicle.now(),
            vehicle.latitude,
            vehicle.longitude,
            vehicle.speed_kmh,
            vehicle.course_deg,
            blocked=vehicle.locked,
            charging=vehicle.charging,
            odometer_km=vehicle.odometer_km,
            battery_pct=round(vehicle.battery_pct),
            satellites=9,
        )
        return jt808_build.build_location(self.device_id, fix, self._next())

    def on_server_frame(self, vehicle: SimVehicle, frame: bytes) -> Reaction:
        message = jt808.unescape(frame[1:-1])
        if jt808.xor(message[:-1]) != message[-1]:
            raise FrameError("platform frame with a bad XOR checksum")
        header = jt808.Header(message)
        body = message[header.body_at : -1]
        if header.msg_id == jt808.MSG_REGISTER_RESPONSE:
            code = body[3:].decode("ascii")
            return Reaction(jt808_build.build_auth(self.device_id, code, self._next()), acked=True)
        if header.msg_id == jt808.MSG_GENERAL_RESPONSE:
            if body[2:4] == jt808.MSG_AUTH.to_bytes(2, "big"):
                self.ready = True
            return Reaction(acked=True)
        action = None
        if header.msg_id == jt808.MSG_TERMINAL_CONTROL and body:
            action = _CONTROL_ACTIONS.get(body[0])
        elif header.msg_id == jt808.MSG_POSITION_QUERY:
            action = "locate"
        if action in ("lock", "unlock"):
            vehicle.locked = action == "lock"
        answer = jt808_build.build_terminal_response(
            self.device_id, header.serial, header.msg_id, self._next(), result=0 if action else 3
        )
        return Reaction(answer + self.report(vehicle) if action else answer, action=action)
