"""One simulated device on TCP: connect, log in, report, obey commands, reconnect.

Each device is one asyncio task with its own socket, so a simulated fleet exercises the
gateway exactly like real hardware would, including reconnect storms when the gateway
restarts (exponential backoff with jitter, as device firmware does).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from dataclasses import dataclass
from typing import ClassVar

from app.integrations.iot.codecs import get_codec
from app.integrations.iot.simulator.protocols import make_speaker
from app.integrations.iot.simulator.speakers import Speaker
from app.integrations.iot.simulator.vehicle import CITY_CENTRE, SimVehicle

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SimDeviceSpec:
    """What to simulate: which id, protocol and vehicle, and how often it reports."""

    device_id: str
    protocol: str  # one of simulator.protocols.SPEAKERS
    kind: str = "scooter"  # scooter | ebike
    report_interval: float = 10.0
    locked: bool | None = None  # initial lock state; None = random
    centre: tuple[float, float] = CITY_CENTRE


class SimDevice:
    """Runs one spec against the gateway port of its protocol until cancelled."""

    #: Decode every frame written with the console's own codec and count its records in
    #: ``records_sent``: the soak benchmark compares that with what the console stored
    #: (a report may carry two records, a command answer one more). Off by default, as
    #: it doubles the simulator's work.
    count_records: ClassVar[bool] = False

    def __init__(
        self,
        spec: SimDeviceSpec,
        host: str,
        port: int,
        rng: random.Random,
        *,
        reconnect_initial: float = 0.2,
        reconnect_max: float = 10.0,
    ):
        self.spec = spec
        self.host, self.port = host, port
        self.rng = rng
        self.reconnect_initial, self.reconnect_max = reconnect_initial, reconnect_max
        self.vehicle = SimVehicle.spawn(spec.device_id, spec.kind, rng, spec.centre)
        if spec.locked is not None:
            self.vehicle.locked = spec.locked
        self.connected = asyncio.Event()
        self.connections = self.reports_sent = self.acks_received = self.records_sent = 0
        self.commands_obeyed: list[str] = []

    async def run(self) -> None:
        delay = self.reconnect_initial
        while True:
            try:
                reader, writer = await asyncio.open_connection(self.host, self.port)
            except OSError as exc:
                logger.debug("%s: gateway unreachable (%s)", self.spec.device_id, exc)
                await asyncio.sleep(delay * self.rng.uniform(0.8, 1.2))
                delay = min(delay * 2, self.reconnect_max)
                continue
            delay = self.reconnect_initial
            self.connections += 1
            try:
                await self._session(reader, writer)
            except (OSError, ValueError) as exc:  # FrameError is a ValueError: odd server bytes
                logger.debug("%s: connection ended (%s)", self.spec.device_id, exc)
            finally:
                self.connected.clear()
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
            await asyncio.sleep(delay * self.rng.uniform(0.8, 1.2))

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        speaker = make_speaker(self.spec.protocol, self.spec.device_id)
        framer = speaker.framer()
        self._write(writer, speaker.hello(self.vehicle))
        self.connected.set()
        reporter = asyncio.create_task(self._report_loop(speaker, writer))
        try:
            while data := await reader.read(4096):
                for frame in framer.feed(data):
                    reaction = speaker.on_server_frame(self.vehicle, frame)
                    self.acks_received += reaction.acked
                    if reaction.action:
                        self.commands_obeyed.append(reaction.action)
                    if reaction.reply:
                        self._write(writer, reaction.reply)
                await writer.drain()
        finally:
            reporter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reporter

    async def _report_loop(self, speaker: Speaker, writer: asyncio.StreamWriter) -> None:
        interval = self.spec.report_interval
        while True:
            await asyncio.sleep(interval * self.rng.uniform(0.9, 1.1))
            self.vehicle.step(interval)
            if speaker.ready:
                self._write(writer, speaker.report(self.vehicle))
                self.reports_sent += 1
                await writer.drain()

    def _write(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        writer.write(data)
        if self.count_records:
            codec = get_codec(self.spec.protocol)
            device_id = self.spec.device_id
            self.records_sent += sum(
                len(codec.decode(frame, device_id=device_id).records)
                for frame in codec.framer().feed(data)
            )
