"""A simulated OKAI ZK scooter over real TCP to the real gateway, stored in real SQLite;
lock, unlock and a speed limit sent back and confirmed."""

from __future__ import annotations

import asyncio

import pytest

from app.integrations.iot.gateway import GatewayConfig, IotGateway
from app.integrations.iot.profiles import get_profile, resolve_protocol
from app.integrations.iot.simulator import SimDeviceSpec, start_device_simulator
from app.models.database import Database, sqlite_url
from app.models.enums import CommandState
from app.models.orm import VehicleState
from app.models.vehicles import VehicleFields, VehicleRepository
from app.services.iot.ingest import IotIngest
from app.services.telemetry.writer import TelemetryWriter
from tests.helpers.waiting import until

SCOOTER = "861234567890128"


@pytest.mark.asyncio
async def test_okai_scooter_is_stored_and_obeys_lock_unlock_and_speed_limit(tmp_path) -> None:
    db = Database(sqlite_url(tmp_path / "fleet.sqlite"))
    db.migrate()
    protocol = resolve_protocol(get_profile("OKAI"))
    assert protocol == "okai"
    vehicle_id = VehicleRepository(db).add(
        VehicleFields(
            name="OKAI ES400",
            fleet_number="S-1",
            kind="scooter",
            imei=SCOOTER,
            connection_type="iot",
            iot_vendor="OKAI",
            iot_protocol=protocol,
        )
    )
    writer = TelemetryWriter(db, retry_initial_s=0.01)
    ingest = IotIngest(db, writer, flush_interval_s=0.05)
    await ingest.refresh()
    loop = asyncio.get_running_loop()
    tasks = [loop.create_task(writer.run()), loop.create_task(ingest.run())]

    def stored() -> VehicleState | None:
        with db.session() as session:
            return session.get(VehicleState, vehicle_id)

    spec = SimDeviceSpec(SCOOTER, "okai", "scooter", report_interval=0.05, locked=True)
    try:
        config = GatewayConfig(ports={"okai": 0}, host="127.0.0.1")
        async with IotGateway(config, ingest) as gateway:
            sim = await start_device_simulator(gateway.ports, [spec], nmea_gps=False)
            try:
                await until(lambda: (s := stored()) is not None and s.locked is True, 10, "a fix")
                state = stored()
                assert 52.3 < state.latitude < 52.7 and 13.2 < state.longitude < 13.6
                assert state.battery_pct is not None
                device = sim.devices[SCOOTER]
                for action, locked in (("unlock", False), ("lock", True)):
                    handle = await gateway.send_command(SCOOTER, action)
                    assert await handle.wait(timeout=10) is CommandState.CONFIRMED, handle
                    assert device.vehicle.locked is locked
                    await until(lambda locked=locked: stored().locked is locked, 10, action)
                handle = await gateway.send_command(SCOOTER, "speed_limit:15")
                assert await handle.wait(timeout=10) is CommandState.CONFIRMED, handle
                assert device.commands_obeyed[-3:] == ["unlock", "lock", "speed_limit:15"]
                refused = await gateway.send_command(SCOOTER, "alarm")
                assert await refused.wait(timeout=10) is CommandState.FAILED
                assert "okai does not support 'alarm'" in refused.detail
            finally:
                await sim.stop()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        db.close()
