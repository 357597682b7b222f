"""The telemetry writer on a real PostgreSQL: the COPY fast path stores readings exactly."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, select

from app.models.database import Database
from app.models.orm import TelemetrySample, Vehicle, VehicleState
from app.models.telemetry_reading import TelemetryReading
from app.models.telemetry_store import TelemetryStore
from app.models.vehicles import VehicleFields, VehicleRepository
from app.services.telemetry.writer import TelemetryWriter

T0 = datetime(2026, 3, 1, 8, 30, 15, 123456, tzinfo=UTC)
# Text COPY escapes these; each must come back byte for byte.
AWKWARD_RAW = 'tab\there, line\nbreak, back\\slash, \\N, "quoted", ünïcode ✓'


def _vehicles(db: Database, count: int) -> list[int]:
    fields = [VehicleFields(name=f"V{i}", fleet_number=f"V-{i}", kind="car") for i in range(count)]
    return VehicleRepository(db).add_many(fields)


def _readings(car: int, scooter: int) -> list[TelemetryReading]:
    berlin = timezone(timedelta(hours=1))
    return [
        TelemetryReading(
            vehicle_id=car,
            source="smartcar",
            recorded_at=T0,
            received_at=T0 + timedelta(seconds=2),
            lat=52.520008,
            lon=13.404954,
            fuel=41.3,
            range=0.1 + 0.2,  # not representable exactly: must survive as the same float
            odometer=123456.789,
            locked=False,
            doors={"frontLeft": "OPEN", 'rear "trunk"': "CLOSED"},
            tires_kpa={"frontLeft": 230.5, "backRight": 229.0},
            oil_life=77.0,
            charging=True,
            raw=AWKWARD_RAW,
        ),
        TelemetryReading(
            vehicle_id=car,
            source="smartcar",
            recorded_at=(T0 + timedelta(minutes=5)).astimezone(berlin),  # not UTC on input
            received_at=T0 + timedelta(minutes=5, seconds=1),
            locked=True,
        ),
        TelemetryReading(
            vehicle_id=scooter,
            source="iot",
            recorded_at=T0,
            received_at=T0,
            lat=-33.8688,
            lon=151.2093,
            speed=17.5,
            course=359.9,
            battery=88.0,
        ),
    ]


def _stored(db: Database) -> list[tuple[object, ...]]:
    with db.session() as session:
        samples = session.scalars(select(TelemetrySample).order_by(TelemetrySample.id)).all()
        return [
            (
                s.vehicle_id,
                s.source,
                s.recorded_at,
                s.received_at,
                s.latitude,
                s.longitude,
                s.speed_kmh,
                s.course_deg,
                s.fuel_pct,
                s.battery_pct,
                s.range_km,
                s.odometer_km,
                s.locked,
                s.doors,
                s.tires_kpa,
                s.oil_life_pct,
                s.charging,
                s.raw,
            )
            for s in samples
        ]


def _expected(r: TelemetryReading) -> tuple[object, ...]:
    return (
        r.vehicle_id,
        r.source,
        r.recorded_at.astimezone(UTC),
        r.received_at,
        r.lat,
        r.lon,
        r.speed,
        r.course,
        r.fuel,
        r.battery,
        r.range,
        r.odometer,
        r.locked,
        r.doors,
        r.tires_kpa,
        r.oil_life,
        r.charging,
        r.raw,
    )


@pytest.mark.asyncio
async def test_samples_written_through_the_writer_read_back_exactly(db):
    car, scooter = _vehicles(db, 2)
    readings = _readings(car, scooter)
    writer = TelemetryWriter(db)
    task = asyncio.get_running_loop().create_task(writer.run())
    try:
        writer.submit_many(readings)
        await writer.flush()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert writer.status().samples_written == 3
    assert _stored(db) == [_expected(r) for r in readings]
    with db.session() as session:
        state = session.get_one(VehicleState, car)
        assert (state.locked, state.fuel_pct, state.doors) == (True, 41.3, readings[0].doors)


@pytest.mark.expect_log(
    "app.models.telemetry_store", r"telemetry batch hit a constraint; storing it reading by read"
)
@pytest.mark.expect_log(
    "app.models.telemetry_store", r"telemetry: dropped a reading of unknown vehicle"
)
def test_a_vehicle_deleted_meanwhile_drops_only_its_readings(db):
    car, gone = _vehicles(db, 2)
    store = TelemetryStore(db)
    # A reading without values: no sample, but ``gone`` is now cached as existing.
    store.write_batch([TelemetryReading(gone, "iot", T0, T0)])
    with db.session() as session:  # deleted by another process (vehicle_state cascades)
        session.execute(delete(Vehicle).where(Vehicle.id == gone))
    later = [
        TelemetryReading(gone, "iot", T0 + timedelta(hours=1), T0 + timedelta(hours=1), speed=3.0),
        TelemetryReading(car, "iot", T0 + timedelta(hours=1), T0 + timedelta(hours=1), speed=9.0),
    ]
    outcome = store.write_batch(later)  # COPY hits the foreign key: retried one by one
    assert (outcome.stored, outcome.dropped_readings) == (1, 1)
    assert [row[:3] for row in _stored(db)] == [(car, "iot", T0 + timedelta(hours=1))]
