"""Live-mode start-up: gateway on the configured ports and host, serial devices from the
settings file (``[[iot.serial]]``) read from a real pseudo-terminal into the database."""

from __future__ import annotations

import asyncio
import os
import tty
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from app.config import IotSettings, SerialDeviceSettings, Settings
from app.integrations.iot.codecs.nmea import build_rmc
from app.models.database import Database, sqlite_url
from app.models.orm import IotDevice, VehicleState
from app.models.vehicles import VehicleFields, VehicleRepository
from app.services.iot.runtime import start_iot
from app.services.telemetry.writer import TelemetryWriter
from tests.helpers.waiting import until

TRACKER = "356938035643809"


def test_serial_device_settings_are_checked():
    entry = SerialDeviceSettings(port="COM3", device_id=TRACKER)
    assert (entry.protocol, entry.baud) == ("nmea", 9600)
    with pytest.raises(ValidationError, match="protocol"):
        SerialDeviceSettings(port="COM3", device_id=TRACKER, protocol="carrier-pigeon")
    with pytest.raises(ValidationError, match="port"):
        SerialDeviceSettings(port="", device_id=TRACKER)
    assert Settings().iot.serial == [] and Settings().iot.ports["omni"] == 5180


@pytest.mark.asyncio
@pytest.mark.expect_log(
    "app.services.iot.runtime",
    r"iot\.ports: unknown protocols ignored: carrier\-pigeon",
    level="ERROR",
)
async def test_live_mode_listens_where_configured_and_reads_the_configured_serial_gps(tmp_path):
    db = Database(sqlite_url(tmp_path / "fleet.sqlite"))
    db.migrate()
    vehicle_id = VehicleRepository(db).add(
        VehicleFields(
            name="Van",
            fleet_number="V-1",
            kind="car",
            imei=TRACKER,
            connection_type="iot",
            iot_vendor="Teltonika",
            iot_protocol="nmea",
        )
    )
    master, slave = os.openpty()
    tty.setraw(slave)
    settings = Settings(
        iot=IotSettings(
            gateway_host="127.0.0.1",
            ports={"omni": 0, "gt06": 0, "carrier-pigeon": 1},  # unknown ones are skipped
            serial=[SerialDeviceSettings(port=os.ttyname(slave), device_id=TRACKER, baud=4800)],
        )
    )
    writer = TelemetryWriter(db, retry_initial_s=0.01)
    writer_task = asyncio.get_running_loop().create_task(writer.run())
    runtime = await start_iot(db, settings, writer, demo=False)
    try:
        assert set(runtime.gateway.ports) == {"omni", "gt06"}
        assert runtime.simulator is None
        reader = runtime.serial_reader(TRACKER)
        assert reader.config.baudrate == 4800
        with db.session() as session:
            device = session.scalars(select(IotDevice)).one()
            assert (device.transport, device.serial_port) == ("serial", os.ttyname(slave))
        now = datetime.now(UTC).replace(microsecond=0)

        def stored() -> VehicleState | None:
            with db.session() as session:
                return session.get(VehicleState, vehicle_id)

        for n in range(100):  # a GPS sentence every 50 ms until one is stored
            os.write(master, build_rmc(52.5, 13.4, 30.0, 90.0, now + timedelta(seconds=n)))
            state = stored()
            if state is not None and state.latitude is not None:
                break
            await asyncio.sleep(0.05)
        await until(lambda: stored() is not None and stored().latitude is not None, 5, "a fix")
        state = stored()
        assert abs(state.latitude - 52.5) < 1e-4 and abs(state.longitude - 13.4) < 1e-4
        assert abs(state.speed_kmh - 30.0) < 0.1
    finally:
        await runtime.aclose()
        writer_task.cancel()
        await asyncio.gather(writer_task, return_exceptions=True)
        os.close(master)
        os.close(slave)
        db.close()
