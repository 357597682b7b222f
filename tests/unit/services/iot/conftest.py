"""Two IoT scooters in the test's database (``db``, tests/conftest.py), a running writer
and the ingest."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest_asyncio

from app.integrations.iot.records import DeviceRecord, LockState, RecordKind
from app.models.database import Database
from app.models.vehicles import VehicleFields, VehicleRepository
from app.services.iot.ingest import IotIngest
from app.services.telemetry.writer import TelemetryWriter

IMEI_A = "860000000000018"
IMEI_B = "860000000000026"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class Rig:
    db: Database
    writer: TelemetryWriter
    ingest: IotIngest
    vehicles: dict[str, int]  # IMEI -> vehicle id (plus "spare": a vehicle without device)


def scooter(n: int, imei: str | None, protocol: str = "omni") -> VehicleFields:
    return VehicleFields(
        name=f"Scooter {n}",
        fleet_number=f"S-{n:03d}",
        kind="scooter",
        imei=imei,
        connection_type="iot" if imei else "none",
        iot_vendor="Omni" if imei else None,
        iot_protocol=protocol if imei else None,
    )


@pytest_asyncio.fixture
async def rig(db) -> AsyncIterator[Rig]:
    ids = VehicleRepository(db).add_many(
        [scooter(1, IMEI_A), scooter(2, IMEI_B, "gl200"), scooter(3, None)]
    )
    writer = TelemetryWriter(db, retry_initial_s=0.01)
    ingest = IotIngest(db, writer, flush_interval_s=0.02)
    await ingest.refresh()
    loop = asyncio.get_running_loop()
    tasks = [loop.create_task(writer.run()), loop.create_task(ingest.run())]
    yield Rig(db, writer, ingest, {IMEI_A: ids[0], IMEI_B: ids[1], "spare": ids[2]})
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def position(
    device_id: str = IMEI_A, offset_s: int = 0, *, protocol: str = "omni", **values: object
) -> DeviceRecord:
    """A valid Omni-style fix ``offset_s`` seconds after T0."""
    base: dict[str, object] = {
        "valid_fix": True,
        "latitude": 52.52,
        "longitude": 13.405,
        "speed_kmh": 12.0,
        "course_deg": 90.0,
        "battery_pct": 80.0,
        "lock_state": LockState.UNLOCKED,
        "odometer_km": 123.4,
    }
    base.update(values)
    return DeviceRecord(
        protocol=protocol,
        kind=RecordKind.POSITION,
        device_id=device_id,
        raw=f"*SCOR,OM,{device_id},D0,{offset_s}#".encode(),
        fix_time=T0 + timedelta(seconds=offset_s),
        **base,  # type: ignore[arg-type]
    )
