"""The device side of the binary protocols (Teltonika, GT06), as the simulator needs it."""

from __future__ import annotations

from app.integrations.iot.codecs import gt06, gt06_build, teltonika, teltonika_build
from app.integrations.iot.records import FrameError, Framer
from app.integrations.iot.simulator.speakers import Reaction
from app.integrations.iot.simulator.vehicle import SimVehicle

_TELTONIKA_ACTIONS = {"sclockctrl 1": "lock", "sclockctrl 0": "unlock", "getgps": "locate"}
_GT06_ACTIONS = {"Relay,1#": "lock", "Relay,0#": "unlock", "WHERE#": "locate"}


class TeltonikaServerFramer:
    """What a Teltonika device reads: one ``01``/``00`` byte after its IMEI, then 4-byte
    record counts and Codec 12 packets (``00000000`` + length + body + CRC).

    A record count is never zero for a packet the server accepted, so four zero bytes
    always start a Codec 12 packet.
    """

    def __init__(self) -> None:
        self._buf = b""
        self._greeted = False

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        frames = []
        while self._buf:
            if not self._greeted:
                size = 1
                self._greeted = True
            elif self._buf[:4] == b"\x00\x00\x00\x00":
                if len(self._buf) < 8:
                    break
                size = 12 + int.from_bytes(self._buf[4:8], "big")
            else:
                size = 4
            if len(self._buf) < size:
                break
            frames.append(self._buf[:size])
            self._buf = self._buf[size:]
        return frames


class TeltonikaSpeaker:
    """A Teltonika TST100 on a scooter: IMEI handshake, Codec 8E records, Codec 12 commands."""

    def __init__(self, imei: str):
        self.imei = imei
        self.ready = False  # data only after the server accepted the IMEI

    def framer(self) -> Framer:
        return TeltonikaServerFramer()

    def hello(self, vehicle: SimVehicle) -> bytes:
        return teltonika_build.build_imei_handshake(self.imei)

    def report(self, vehicle: SimVehicle) -> bytes:
        sample = teltonika_build.AvlSample(
            vehicle.now(),
            vehicle.latitude,
            vehicle.longitude,
            vehicle.speed_kmh,
            vehicle.course_deg,
            vehicle.battery_pct,
            vehicle.locked,
            vehicle.odometer_km,
            vehicle.charging,
        )
        return teltonika_build.build_avl_packet([sample])

    def on_server_frame(self, vehicle: SimVehicle, frame: bytes) -> Reaction:
        if len(frame) == 1:
            if frame != teltonika.IMEI_ACCEPT:
                raise FrameError("the server rejected our IMEI")
            self.ready = True
            return Reaction(acked=True)
        if len(frame) == 4:
            return Reaction(acked=True)
        # Codec 12 is symmetric: the server codec reads the command text for us
        records = teltonika.CODEC.decode(frame, device_id=self.imei).records
        text = (records[0].command_result or "") if records else ""
        action = _TELTONIKA_ACTIONS.get(text)
        if action in ("lock", "unlock"):
            vehicle.locked = action == "lock"
        answer = teltonika_build.build_command_response(f"{text}: OK" if action else "Unknown")
        return Reaction(answer + self.report(vehicle) if action else answer, action=action)


class Gt06Speaker:
    """A GT06 tracker on an e-bike: login, location + status heartbeat, relay commands."""

    def __init__(self, imei: str):
        self.imei = imei
        self.ready = False  # data only after the login was acknowledged
        self._serial = 0

    def _next(self) -> int:
        self._serial = (self._serial + 1) & 0xFFFF
        return self._serial

    def framer(self) -> Framer:
        return gt06.CODEC.framer()

    def hello(self, vehicle: SimVehicle) -> bytes:
        return gt06_build.build_login(self.imei, self._next())

    def report(self, vehicle: SimVehicle) -> bytes:
        location = gt06_build.build_location(
            vehicle.now(),
            vehicle.latitude,
            vehicle.longitude,
            vehicle.speed_kmh,
            vehicle.course_deg,
            serial=self._next(),
            odometer_km=vehicle.odometer_km,
        )
        status = gt06_build.build_heartbeat(
            self._next(),
            voltage_level=round(vehicle.battery_pct * 6 / 100),
            blocked=vehicle.locked,
            charging=vehicle.charging,
        )
        return location + status

    def on_server_frame(self, vehicle: SimVehicle, frame: bytes) -> Reaction:
        start = 4 if frame[:2] == gt06.LONG_START else 3
        msg_type = frame[start]
        if msg_type != 0x80:  # an echo ACK of login or data
            if msg_type == 0x01:
                self.ready = True
            return Reaction(acked=True)
        size = frame[start + 1]
        text = frame[start + 6 : start + 2 + size].decode("ascii", "replace")
        serial = int.from_bytes(frame[-6:-4], "big")
        action = _GT06_ACTIONS.get(text)
        if action in ("lock", "unlock"):
            vehicle.locked = action == "lock"
        answer = gt06_build.build_command_reply(f"{text[:-1]} OK" if action else "Unknown", serial)
        return Reaction(answer + self.report(vehicle) if action else answer, action=action)
