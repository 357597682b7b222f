"""Starts the IoT side of one console: gateway, ingest, command audit, serial readers, simulator.

Demo mode listens on free ports of 127.0.0.1 (the configured ports are for real devices
and may be taken by another console or a Traccar on the same machine) and starts the
device simulator with the demo fleet's scooters and e-bikes (same IMEIs, protocols and
start positions), plus a simulated NMEA GPS on a pseudo-terminal that a SerialReader
reads; the GPS belongs to no vehicle, so it waits in the unknown-devices inbox. Live
mode listens on ``iot.ports`` of ``iot.gateway_host`` and reads the ``[[iot.serial]]``
devices of the settings file.

The runtime's helper tasks (ingest flushes, audit writes, one per serial port) run under
a child of the console's TaskOwner: supervised and reported like every worker (an
unplugged serial adapter shows as "serial <port> stopped: …, restarting in N s" and is
opened again with the supervisor's backoff), but stopped by the runtime itself: the serial
readers first (before the simulator takes its GPS pty away), the rest after devices and
gateway, because in-flight stores depend on them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from app.config import Settings
from app.integrations.iot.codecs import PROTOCOLS
from app.integrations.iot.gateway import DEFAULT_PORTS, GatewayConfig, IotGateway
from app.integrations.iot.profiles import vendor_for_protocol
from app.integrations.iot.serial_reader import PortUnavailable, SerialConfig, SerialReader
from app.integrations.iot.simulator import SimDeviceSpec
from app.integrations.iot.simulator.protocols import SPEAKERS
from app.models.database import Database
from app.models.enums import VehicleKind
from app.models.iot_devices import (
    ClaimCandidate,
    DeviceEntry,
    DeviceInfo,
    IotDeviceRepository,
    UnknownEntry,
)
from app.models.vehicles import VehicleFields
from app.services.iot.commands import IotCommandService
from app.services.iot.demo_devices import ThreadedDeviceSim
from app.services.iot.ingest import IotIngest
from app.services.iot.mqtt_runtime import MqttParts, start_mqtt
from app.services.tasks import TaskOwner
from app.services.telemetry.writer import TelemetryWriter
from app.services.vehicles.demo_fleet import demo_fleet
from app.services.vehicles.validation import luhn_complete

logger = logging.getLogger(__name__)

SIMULATED_PROTOCOLS = tuple(SPEAKERS)  # what the simulator speaks
# The simulated GPS's id: registered on no vehicle, so demo mode has an unknown device
# waiting in the inbox to be claimed (into a car, say, as a tracker for it).
DEMO_GPS_IMEI = luhn_complete("35999900000001")


@dataclass
class IotRuntime:
    """The running IoT parts; views reach them through ``AppContext.iot.current``."""

    gateway: IotGateway
    ingest: IotIngest
    commands: IotCommandService
    serial_readers: list[SerialReader] = field(default_factory=list)
    simulator: ThreadedDeviceSim | None = None
    tasks: TaskOwner = field(default_factory=TaskOwner)
    #: The serial readers' own child of ``tasks``: stopped before the simulator, whose
    #: GPS pty would otherwise vanish under a running reader ("port lost") at every quit.
    serial_tasks: TaskOwner = field(default_factory=TaskOwner)
    #: Devices over MQTT: the client, and in demo mode the broker and the ZIMO bikes.
    mqtt: MqttParts = field(default_factory=MqttParts)

    async def claim(
        self, unknown_id: int, vehicle: int | VehicleFields, *, vendor: str | None = None
    ) -> DeviceEntry:
        """Claim an inbox device (see ``IotIngest.claim``) and let it log in again now."""
        entry = await self.ingest.claim(unknown_id, vehicle, vendor=vendor)
        if not self.gateway.is_online(entry.device_id):
            self.gateway.disconnect(entry.device_id, "claimed into a vehicle: log in again")
        return entry

    def serial_reader(self, device_id: str) -> SerialReader | None:
        return next((r for r in self.serial_readers if r.config.device_id == device_id), None)

    def link_state(self, device_id: str, protocol: str | None, now: datetime) -> str:
        """What the device panel's "Online" row says for this device.

        A TCP device is online while it has a session; a serial one says its reader's
        status. An MQTT device has no connection of its own to the console, only the
        broker's: it is online while the broker is connected and it was heard within
        ``[iot.mqtt] online_within_s`` (a bike answering "Offline" one second after it
        reported, as it did before, told the dispatcher nothing).
        """
        reader = self.serial_reader(device_id)
        if reader is not None:
            return reader.status.value if reader.status else "—"
        client = self.mqtt.client
        if client is None or protocol is None or not client.handles(protocol):
            return "Online" if self.gateway.is_online(device_id) else "Offline"
        if not client.connected:
            return "Offline (MQTT broker not connected)"
        heard = self.ingest.heard(device_id)
        if heard is not None and now - heard.last_heard_at <= client.config.online_within:
            return "Online (via MQTT)"
        return "Offline (silent over MQTT)"

    async def aclose(self) -> None:
        """Serial readers first (the simulated GPS pty must outlive its reader), then the
        devices, the gateway (in-flight stores finish) and the remaining helpers."""
        await self.serial_tasks.shutdown()
        if self.simulator is not None:
            await self.simulator.stop()
        if self.mqtt.bikes is not None:
            await self.mqtt.bikes.stop()
        await self.gateway.close()
        self.commands.close()
        await self.tasks.shutdown()
        if self.simulator is not None:
            self.simulator.close()
        with contextlib.suppress(Exception):  # best effort: the database may be gone
            await self.ingest.flush()


async def start_iot(
    database: Database,
    settings: Settings,
    writer: TelemetryWriter,
    *,
    demo: bool,
    report_interval_s: float = 10.0,
    gps_interval_s: float = 5.0,
    demo_gps: bool = True,
    tasks: TaskOwner | None = None,
) -> IotRuntime:
    """Start everything; OSError when a gateway port cannot be bound (nothing left running).

    ``demo_gps`` False leaves the simulated GPS pty and its serial reader out (GUI tests).
    The helper tasks run under a child of ``tasks`` (an owner of their own without it).
    """
    ingest = IotIngest(database, writer)
    await ingest.refresh()
    if demo:
        ports = dict.fromkeys(DEFAULT_PORTS, 0)
        host = "127.0.0.1"
    else:
        ports = {p: port for p, port in settings.iot.ports.items() if p in PROTOCOLS}
        ignored = sorted(set(settings.iot.ports) - set(ports))
        if ignored:
            logger.error("iot.ports: unknown protocols ignored: %s", ", ".join(ignored))
        host = settings.iot.gateway_host
    helpers = tasks.child() if tasks else TaskOwner()
    gateway = IotGateway(GatewayConfig(ports=ports, host=host), ingest, spawn=helpers.spawn)
    try:
        await gateway.start()
    except BaseException:
        await helpers.shutdown()  # a port taken: no empty child left with the parent
        raise
    try:
        mqtt = await start_mqtt(
            settings,
            ingest,
            gateway.commands,
            helpers,
            demo=demo,
            report_interval_s=report_interval_s,
        )
    except BaseException:
        await gateway.close()
        await helpers.shutdown()
        raise
    commands = IotCommandService(database, gateway, ingest, mqtt.client)
    runtime = IotRuntime(
        gateway, ingest, commands, tasks=helpers, serial_tasks=helpers.child(), mqtt=mqtt
    )
    runtime.tasks.spawn(ingest.run, "iot-ingest", restart=True)
    runtime.tasks.spawn(commands.run, "iot-command-audit", restart=True)
    try:
        if demo:
            runtime.simulator = await _start_demo_devices(
                runtime, settings, report_interval_s, gps_interval_s if demo_gps else None
            )
            runtime.tasks.spawn(runtime.simulator.run, "iot-demo-devices", restart=True)
            configs = []
            if runtime.simulator.gps_path:
                configs.append(SerialConfig(runtime.simulator.gps_path, DEMO_GPS_IMEI))
        else:
            configs = [
                SerialConfig(s.port, s.device_id, protocol=s.protocol, baudrate=s.baud)
                for s in settings.iot.serial
            ]
        for config in configs:
            await database.run(
                ingest.repository.record_serial, config.device_id, config.port, config.baudrate
            )
            reader = SerialReader(config, ingest)
            runtime.serial_tasks.spawn(
                reader.run, f"serial {config.port}", restart=True, outages=(PortUnavailable,)
            )
            runtime.serial_readers.append(reader)
    except BaseException:
        await runtime.aclose()
        raise
    logger.info(
        "IoT gateway on %s (%s), %d serial device(s)%s",
        host,
        ", ".join(f"{p} {n}" for p, n in gateway.ports.items()),
        len(runtime.serial_readers),
        f", {len(runtime.simulator.devices)} simulated devices" if runtime.simulator else "",
    )
    if mqtt.client is not None:
        logger.info(
            "IoT over MQTT: %s%s",
            mqtt.client.config.url,
            f", {len(mqtt.bikes.bikes)} simulated ZIMO bikes" if mqtt.bikes else "",
        )
    return runtime


class IotHandle:
    """The IoT side of one process, built once; :attr:`current` is the running runtime.

    ``current`` is None before the gateway started, after it stopped, and while its
    supervisor waits to try a port again that could not be bound: views ask it each time
    instead of keeping the runtime.
    """

    def __init__(
        self, database: Database, settings: Settings, writer: TelemetryWriter | None, *, demo: bool
    ) -> None:
        self._database = database
        self._settings = settings
        self._writer = writer
        self._demo = demo
        self._devices = IotDeviceRepository(database)
        self.current: IotRuntime | None = None

    @property
    def commands(self) -> IotCommandService | None:
        return self.current.commands if self.current is not None else None

    async def device(self, vehicle_id: int) -> DeviceInfo | None:
        """The vehicle's device as stored (the IoT panel's header)."""
        return await self._database.run(self._devices.device, vehicle_id)

    async def unknown_devices(self) -> list[UnknownEntry]:
        """The inbox: from the running ingest (it holds sightings not written yet), else
        as stored."""
        if self.current is not None:
            return await self.current.ingest.unknown_devices()
        return await self._database.run(self._devices.list_unknown)

    async def claim_candidates(self) -> list[ClaimCandidate]:
        """Live vehicles without a device that are not Smartcar cars."""
        return await self._database.run(self._devices.claim_candidates)

    async def claim(self, unknown_id: int, vehicle_id: int) -> DeviceEntry:
        """Make an inbox device the vehicle's (ClaimError if it cannot be): through the
        running gateway, which lets the device log in again at once; with none here (a
        shared console: the collector runs the gateway) in the database alone, where the
        gateway's index refresh finds it (``IotIngest.refresh_interval_s``, a minute)."""
        if self.current is not None:
            return await self.current.claim(unknown_id, vehicle_id)
        return await self._database.run(
            partial(self._devices.claim, guess_vendor=vendor_for_protocol), unknown_id, vehicle_id
        )

    async def serve(self, tasks: TaskOwner | None = None) -> None:
        """Run the IoT side for the process's lifetime (spawn it with restart; cancel to
        stop). A port that cannot be bound raises, so the supervisor shows why and tries
        again with backoff while the console runs on without IoT rather than not at all.
        """
        if self._writer is None:
            raise RuntimeError("IoT gateway not started: this process stores no telemetry")
        runtime = await start_iot(
            self._database, self._settings, self._writer, demo=self._demo, tasks=tasks
        )
        self.current = runtime
        try:
            await asyncio.Event().wait()
        finally:
            self.current = None
            await runtime.aclose()


async def _start_demo_devices(
    runtime: IotRuntime, settings: Settings, report_interval_s: float, gps_interval_s: float | None
) -> ThreadedDeviceSim:
    """Simulate every demo scooter/e-bike registered in the database, where the demo put it."""
    specs = []
    starts: dict[str, tuple[float, float]] = {}
    for vehicle in demo_fleet(settings.demo):
        imei = vehicle.fields.imei
        entry = runtime.ingest.device(imei) if imei else None
        if entry is None or entry.protocol not in SIMULATED_PROTOCOLS:
            continue
        kind = "scooter" if vehicle.fields.kind == VehicleKind.SCOOTER.value else "ebike"
        start = (vehicle.latitude, vehicle.longitude)
        specs.append(
            SimDeviceSpec(entry.device_id, entry.protocol, kind, report_interval_s, None, start)
        )
        starts[entry.device_id] = start
    simulator = ThreadedDeviceSim(
        runtime.gateway.ports,
        specs,
        starts=starts,
        seed=settings.demo.seed,
        gps_interval=gps_interval_s,
    )
    await simulator.start()
    return simulator
