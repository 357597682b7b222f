"""Demo IoT runtime end to end over real TCP: simulator -> gateway -> ingest -> writer -> SQLite.

Also the NMEA GPS on a real pseudo-terminal read by the serial reader, lock commands
confirmed by the device and audited, and an unknown device claimed into a vehicle.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from sqlalchemy import func, select

from app.config import DemoSettings, Settings
from app.integrations.iot.simulator import SimDeviceSpec, start_device_simulator
from app.models.command_audit import CommandAudit
from app.models.database import Database
from app.models.enums import CommandState
from app.models.orm import IotDevice, TelemetrySample, VehicleState
from app.models.vehicles import VehicleFields, VehicleRepository
from app.services.iot.commands import IotCommandRefused
from app.services.iot.runtime import DEMO_GPS_IMEI, IotRuntime, start_iot
from app.services.telemetry.writer import TelemetryWriter
from app.services.vehicles.demo_fleet import demo_fleet, seed_if_empty
from tests.helpers.waiting import until

SETTINGS = Settings(demo=DemoSettings(cars=2, micromobility=8))


@dataclass
class Demo:
    db: Database
    runtime: IotRuntime
    iot_vehicles: dict[str, int]  # IMEI -> vehicle id


@pytest_asyncio.fixture
async def demo(db) -> AsyncIterator[Demo]:
    seed_if_empty(VehicleRepository(db), SETTINGS.demo)
    writer = TelemetryWriter(db, retry_initial_s=0.01)
    writer_task = asyncio.get_running_loop().create_task(writer.run())
    runtime = await start_iot(
        db, SETTINGS, writer, demo=True, report_interval_s=0.1, gps_interval_s=0.05
    )
    with db.session() as session:
        devices = {d.device_id: d.vehicle_id for d in session.scalars(select(IotDevice))}
    try:
        yield Demo(db, runtime, devices)
    finally:
        await runtime.aclose()
        writer_task.cancel()
        await asyncio.gather(writer_task, return_exceptions=True)


def states(db: Database) -> dict[int, VehicleState]:
    with db.session() as session:
        return {s.vehicle_id: s for s in session.scalars(select(VehicleState))}


def complete(state: VehicleState | None) -> bool:
    return state is not None and None not in (
        state.latitude,
        state.longitude,
        state.battery_pct,
        state.locked,
    )


@pytest.mark.asyncio
async def test_demo_devices_fill_vehicle_state_and_a_lock_is_confirmed_and_audited(demo):
    db, runtime = demo.db, demo.runtime
    fleet = {v.fields.imei: v for v in demo_fleet(SETTINGS.demo) if v.fields.imei}
    # every demo scooter and e-bike: ZIMO's over MQTT, the others over TCP
    assert runtime.mqtt.bikes is not None and runtime.mqtt.bikes.bikes
    assert set(runtime.simulator.devices) | set(runtime.mqtt.bikes.bikes) == set(fleet)
    assert {fleet[i].fields.iot_protocol for i in runtime.mqtt.bikes.bikes} == {"mqtt-zimo"}
    scooter_ids = [demo.iot_vehicles[imei] for imei in fleet]

    def all_reported() -> bool:
        current = states(db)
        return all(complete(current.get(v)) for v in scooter_ids)

    await until(all_reported, 15, "every demo IoT vehicle's position, battery and lock")
    current = states(db)
    for imei, vehicle in fleet.items():
        state = current[demo.iot_vehicles[imei]]
        assert abs(state.latitude - vehicle.latitude) < 0.01  # starts where the demo parks it
        assert abs(state.longitude - vehicle.longitude) < 0.01

    bikes = runtime.mqtt.bikes.bikes
    tcp = next(i for i in fleet if i in runtime.simulator.devices)
    zimo = next(iter(bikes))  # the demo's ZIMO e-bike publishes through the MQTT broker
    for imei in (tcp, zimo):
        device = runtime.simulator.devices[imei] if imei == tcp else bikes[imei]
        vehicle_id = demo.iot_vehicles[imei]
        action = "lock" if not device.vehicle.locked else "unlock"
        handle = await runtime.commands.send(vehicle_id, action, reason="test")
        assert await handle.wait(timeout=10) is CommandState.CONFIRMED
        assert device.vehicle.locked is (action == "lock")
        await until(lambda v=vehicle_id, a=action: states(db)[v].locked is (a == "lock"), 10)
        await runtime.commands.drain()
        [audit] = await db.run(CommandAudit(db).for_vehicle, vehicle_id)
        assert (audit.action, audit.channel, audit.state, audit.reason) == (
            action,
            "iot",
            "confirmed",
            "test",
        )
        assert audit.actor_user and audit.actor_host
        sent = [e for e in runtime.ingest.frames.entries(imei) if e.direction == "out"]
        assert sent[0].status.startswith("confirmed")
    await runtime.ingest.flush()
    with db.session() as session:
        address = dict(session.execute(select(IotDevice.device_id, IotDevice.address)).all())
    assert address[tcp].startswith("127.0.0.1:")
    assert address[zimo] == f"zimo/{zimo}/report"


@pytest.mark.asyncio
async def test_the_online_row_says_whether_each_kind_of_device_can_be_reached_now(demo):
    """TCP: a live session. MQTT: the broker is connected and the bike spoke lately (it
    used to say "Offline" for a bike heard a second ago, having no TCP session)."""
    runtime = demo.runtime
    zimo = next(iter(runtime.mqtt.bikes.bikes))
    tcp = next(iter(runtime.simulator.devices))
    await until(lambda: runtime.ingest.heard(zimo) is not None, 15, "a ZIMO report")
    await until(lambda: runtime.gateway.is_online(tcp), 15, "a TCP device's session")
    now = datetime.now(UTC)
    assert runtime.link_state(zimo, "mqtt-zimo", now) == "Online (via MQTT)"
    later = now + runtime.mqtt.client.config.online_within + timedelta(seconds=1)
    assert runtime.link_state(zimo, "mqtt-zimo", later) == "Offline (silent over MQTT)"
    assert runtime.link_state(tcp, runtime.simulator.devices[tcp].spec.protocol, now) == "Online"
    assert runtime.link_state("359999999999999", "gt06", now) == "Offline"


@pytest.mark.asyncio
async def test_the_demo_gps_on_a_pty_waits_in_the_inbox_then_tracks_the_car_it_is_claimed_into(
    demo,
):
    db, runtime = demo.db, demo.runtime
    reader = runtime.serial_reader(DEMO_GPS_IMEI)
    assert reader is not None and reader.config.protocol == "nmea"

    async def gps_in_inbox() -> list:
        return [u for u in await runtime.ingest.unknown_devices() if u.device_id == DEMO_GPS_IMEI]

    async with asyncio.timeout(10):
        while not (found := await gps_in_inbox()):
            await asyncio.sleep(0.05)
    assert found[0].protocol == "nmea" and found[0].address == f"serial:{reader.config.port}"
    car = next(v for v in await db.run(runtime.ingest.repository.claim_candidates))
    assert car.kind == "car"
    await runtime.claim(found[0].id, car.vehicle_id)
    # the demo car may already be parked at a position: wait for the GPS's own samples
    await until(lambda: iot_fixes(db, car.vehicle_id) > 0, 15, "GPS positions stored")
    # the reader counts a batch once the sink's store returns, a loop turn after the commit
    await until(lambda: reader.records_stored > 0, 5, "the reader counted what it stored")
    assert complete_position(states(db).get(car.vehicle_id))
    with pytest.raises(IotCommandRefused, match="cannot 'lock'"):
        await runtime.commands.send(car.vehicle_id, "lock")  # a GPS takes no commands


def iot_fixes(db: Database, vehicle_id: int) -> int:
    """Samples with a position that the IoT side stored for the vehicle."""
    with db.session() as session:
        query = select(func.count()).where(
            TelemetrySample.vehicle_id == vehicle_id,
            TelemetrySample.source == "iot",
            TelemetrySample.latitude.is_not(None),
        )
        return session.scalar(query)


def complete_position(state: VehicleState | None) -> bool:
    return state is not None and state.latitude is not None and state.longitude is not None


@pytest.mark.asyncio
async def test_an_unknown_device_waits_in_the_inbox_until_claimed_then_reports(demo):
    db, runtime = demo.db, demo.runtime
    stranger = "861111111111116"
    spare = await db.run(
        VehicleRepository(db).add,
        VehicleFields(name="New scooter", fleet_number="S-900", kind="scooter"),
    )
    sim = await start_device_simulator(
        runtime.gateway.ports,
        [SimDeviceSpec(stranger, "gt06", "ebike", 0.1, locked=True)],
        nmea_gps=False,
    )
    try:

        async def inbox() -> list:
            return [u for u in await runtime.ingest.unknown_devices() if u.device_id == stranger]

        found: list = []

        async def seen() -> bool:
            found[:] = await inbox()
            return bool(found)

        async with asyncio.timeout(10):
            while not await seen():
                await asyncio.sleep(0.05)
        assert found[0].protocol == "gt06" and found[0].address.startswith("127.0.0.1:")
        assert spare not in states(db)  # nothing stored for it yet

        entry = await runtime.claim(found[0].id, spare)
        assert entry.vendor == "Concox"
        await until(lambda: complete(states(db).get(spare)), 15, "the claimed device's data")
        assert states(db)[spare].locked is True
        assert await inbox() == []
    finally:
        await sim.stop()


@pytest.mark.asyncio
@pytest.mark.expect_log(
    "app.services.tasks", r"background task iot\-demo\-devices crashed", level="ERROR"
)
@pytest.mark.expect_log("app.services.tasks", r"background task iot\-demo\-devices restarts in")
@pytest.mark.expect_log("app.services.tasks", r"background task serial")
async def test_a_device_simulation_that_ends_by_itself_is_shown_down_and_restarted(demo):
    """The demo's simulator thread is supervised: down in the supervisor's state (the
    status bar's source), then a fresh simulation whose devices and GPS report again."""
    runtime = demo.runtime
    simulator, owner = runtime.simulator, runtime.tasks
    assert simulator is not None and "iot-demo-devices" in owner.running
    first = simulator.sim
    reader = runtime.serial_reader(DEMO_GPS_IMEI)
    assert reader is not None and reader.config.port == simulator.gps_path
    simulator._loop.call_soon_threadsafe(simulator._stop.set)  # its loop ends on its own
    await until(lambda: "iot-demo-devices" in owner.failures(), 10, "the simulation shown down")
    assert "the simulated devices stopped" in owner.failures()["iot-demo-devices"]
    await until(
        lambda: "iot-demo-devices" in owner.running and simulator.sim is not first,
        10,
        "a fresh simulation",
    )
    stored, frames = runtime.ingest.records_stored, reader.frames
    await until(
        lambda: runtime.ingest.records_stored > stored and reader.frames > frames,
        20,
        "device reports and GPS sentences from the restarted simulation",
    )
    assert owner.restarts >= 1
