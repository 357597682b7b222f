"""A simulated Segway scooter -> the real gateway over TCP -> ingest -> SQLite, and back:
lock, unlock (the R0 operation-key exchange) and the find-my-scooter alarm confirmed."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from app.integrations.iot.gateway import GatewayConfig, IotGateway
from app.integrations.iot.simulator import start_device_simulator
from app.integrations.iot.simulator.device import SimDeviceSpec
from app.models.enums import CommandState
from app.models.orm import TelemetrySample, VehicleState
from app.models.vehicles import VehicleFields, VehicleRepository
from app.services.iot.ingest import IotIngest
from app.services.telemetry.writer import TelemetryWriter
from tests.helpers.waiting import until

IMEI = "861230000000057"


def scooter_fields() -> VehicleFields:
    return VehicleFields(
        name="Segway Max",
        fleet_number="SG-001",
        kind="scooter",
        imei=IMEI,
        connection_type="iot",
        iot_vendor="Segway",
        iot_protocol="segway",
    )


@pytest.mark.asyncio
async def test_segway_scooter_is_stored_and_obeys_lock_unlock_and_alarm(db) -> None:
    vehicle_id = VehicleRepository(db).add(scooter_fields())
    writer = TelemetryWriter(db, retry_initial_s=0.01)
    ingest = IotIngest(db, writer, flush_interval_s=0.02)
    await ingest.refresh()

    def state() -> VehicleState | None:
        with db.session() as session:
            return session.get(VehicleState, vehicle_id)

    loop = asyncio.get_running_loop()
    tasks = [loop.create_task(writer.run()), loop.create_task(ingest.run())]
    cfg = GatewayConfig(ports={"segway": 0}, host="127.0.0.1")
    spec = SimDeviceSpec(IMEI, "segway", "scooter", report_interval=0.05, locked=True)
    try:
        async with IotGateway(cfg, ingest) as gateway:
            sim = await start_device_simulator(gateway.ports, [spec], nmea_gps=False)
            try:
                await until(
                    lambda: (s := state()) is not None and s.latitude is not None and s.locked,
                    10,
                    "a stored Segway fix with the lock state",
                )
                current = state()
                assert current is not None
                assert 52.3 < current.latitude < 52.7 and 13.2 < current.longitude < 13.6
                assert current.battery_pct is not None and 0 < current.battery_pct <= 100
                with db.session() as session:
                    raws = session.scalars(select(TelemetrySample.raw)).all()
                assert raws and all(raw.startswith(f"*HBCR,NB,{IMEI},") for raw in raws)

                device = sim.devices[IMEI]
                for action, locked in (("unlock", False), ("lock", True)):
                    handle = await gateway.send_command(IMEI, action)
                    assert await handle.wait(timeout=10) is CommandState.CONFIRMED, handle
                    assert device.vehicle.locked is locked
                    assert device.commands_obeyed[-1] == action
                    await until(lambda locked=locked: state().locked is locked, 10, action)

                alarm = await gateway.send_command(IMEI, "alarm")
                assert await alarm.wait(timeout=10) is CommandState.CONFIRMED, alarm
                assert device.commands_obeyed[-1] == "alarm"
            finally:
                await sim.stop()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
