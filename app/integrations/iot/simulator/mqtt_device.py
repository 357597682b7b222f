"""Simulated ZIMO e-bikes on MQTT: each its own broker connection, like the hardware.

A bike publishes a report (flespi parameter names, see ``app.integrations.iot.mqtt.zimo``)
on ``zimo/{imei}/report`` every ``interval`` seconds and listens on its command topic:
lock / unlock change its lock, and every command is answered with a report at once
(locate: where it is; buzzer: ``buzzer.alarm.status`` true). A bike whose broker went
away reconnects with backoff and carries on, as a real one would.

``timestamp`` carries microseconds (flespi's Unix time with the fraction), so every
report has its own fix time and the benchmark reads latency from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import aiomqtt

from app.integrations.iot.mqtt.zimo import ZIMO
from app.integrations.iot.simulator.vehicle import CITY_CENTRE, SimVehicle

logger = logging.getLogger(__name__)

RECONNECT_FIRST_S = 0.2
RECONNECT_MAX_S = 5.0


@dataclass(frozen=True, slots=True)
class SimBikeSpec:
    """One simulated bike; ``start`` None parks it at random near the city centre."""

    imei: str
    interval: float = 10.0
    start: tuple[float, float] | None = None


def zimo_report(vehicle: SimVehicle, seqnum: int, *, buzzer: bool = False) -> dict[str, object]:
    """What a ZIMO device reports, in the parameter names flespi lists for ``zimo``."""
    return {
        "ident": vehicle.device_id,
        "timestamp": time.time(),
        "position.latitude": round(vehicle.latitude, 6),
        "position.longitude": round(vehicle.longitude, 6),
        "position.speed": round(vehicle.speed_kmh, 1),
        "position.direction": round(vehicle.course_deg),
        "position.satellites": 9,
        "position.valid": True,
        "battery.level": round(vehicle.battery_pct),
        "battery.charging.status": vehicle.charging,
        "lock.status": vehicle.locked,
        "vehicle.mileage": round(vehicle.odometer_km, 2),
        "buzzer.alarm.status": buzzer,
        "ecu.software.version.enum": 12,
        "event.seqnum": seqnum,
    }


@dataclass
class SimZimoBike:
    """One bike's state and its broker session (``run`` until cancelled)."""

    spec: SimBikeSpec
    vehicle: SimVehicle
    host: str
    port: int
    published: int = 0
    commands: list[str] = field(default_factory=list)
    connected: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        delay = RECONNECT_FIRST_S
        while True:
            try:
                await self._session()
            except aiomqtt.MqttError as exc:
                self.connected.clear()
                logger.debug("simulated bike %s: broker lost (%s)", self.spec.imei, exc)
                await asyncio.sleep(delay * (0.5 + self.vehicle.rng.random()))
                delay = min(RECONNECT_MAX_S, delay * 2)
            else:
                return

    async def _session(self) -> None:
        imei = self.spec.imei
        command_topic = ZIMO.command_topic
        assert command_topic is not None
        async with aiomqtt.Client(self.host, self.port, identifier=f"zimo-{imei}") as client:
            await client.subscribe(command_topic.replace("{ident}", imei), qos=1)
            self.connected.set()
            report = ZIMO.report_topic.replace("{ident}", imei)
            listen = asyncio.ensure_future(self._listen(client, report))
            try:
                # Devices do not all report on the same tick: spread the first report.
                await asyncio.sleep(self.spec.interval * self.vehicle.rng.random())
                while not listen.done():
                    await self._publish(client, report)
                    await asyncio.wait([listen], timeout=self.spec.interval)
                    self.vehicle.step(self.spec.interval)
                listen.result()  # the broker went away: MqttError
            finally:
                listen.cancel()
                with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                    await listen

    async def _listen(self, client: aiomqtt.Client, report: str) -> None:
        async for message in client.messages:
            try:
                command = json.loads(bytes(message.payload)).get("command")
            except (TypeError, ValueError, AttributeError):
                continue
            self.commands.append(str(command))
            if command in ("lock", "unlock"):
                self.vehicle.locked = command == "lock"
            await self._publish(client, report, buzzer=command == "buzzer")

    async def _publish(self, client: aiomqtt.Client, topic: str, *, buzzer: bool = False) -> None:
        payload = json.dumps(zimo_report(self.vehicle, self.published, buzzer=buzzer))
        await client.publish(topic, payload, qos=1)
        self.published += 1


class SimZimoFleet:
    """Many bikes on one loop; ``start`` connects them all, ``stop`` ends them."""

    def __init__(
        self, host: str, port: int, specs: Sequence[SimBikeSpec], *, seed: int = 0
    ) -> None:
        rng = random.Random(seed)
        self.bikes: dict[str, SimZimoBike] = {}
        for spec in specs:
            vehicle = SimVehicle.spawn(spec.imei, "ebike", random.Random(rng.random()), CITY_CENTRE)
            if spec.start is not None:
                vehicle.latitude, vehicle.longitude = spec.start
            self.bikes[spec.imei] = SimZimoBike(spec, vehicle, host, port)
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def published(self) -> int:
        return sum(b.published for b in self.bikes.values())

    async def start(self, timeout: float = 60.0) -> None:
        """Start every bike and wait until each is connected."""
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(bike.run(), name=f"zimo-{imei}") for imei, bike in self.bikes.items()
        ]
        waits = [bike.connected.wait() for bike in self.bikes.values()]
        await asyncio.wait_for(asyncio.gather(*waits), timeout)

    async def run(self) -> None:
        """Run until cancelled (a supervised worker); raise if a bike's task failed."""
        if not self._tasks:
            await self.start()
        try:
            done, _ = await asyncio.wait(self._tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()
            raise RuntimeError("the simulated ZIMO bikes stopped")
        finally:
            await self.stop()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
