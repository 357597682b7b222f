from datetime import UTC, datetime, timedelta

import pytest

from app.config import AlertSettings, Settings
from app.models.database import Database
from app.models.telemetry_reading import TelemetryReading
from app.models.telemetry_store import TelemetryStore
from app.models.vehicles import VehicleFields, VehicleRepository
from app.services.alerts.service import AlertService

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def store(db: Database, vehicle_id: int, at: datetime, **values) -> None:
    reading = TelemetryReading(
        vehicle_id=vehicle_id, source="smartcar", recorded_at=at, received_at=at, **values
    )
    TelemetryStore(db).write_batch([reading], [])


@pytest.mark.asyncio
async def test_alerts_persist_dedupe_acknowledge_and_clear(db):
    [car, other] = VehicleRepository(db).add_many(
        [VehicleFields(name=f"Car {i}", fleet_number=f"C-{i}", kind="car") for i in range(2)]
    )
    clock = Clock()
    settings = Settings(alerts=AlertSettings(clear_after_s=60, unlocked_grace_s=0))
    service = AlertService(db, settings, clock=clock)
    heard = []
    service.changes.subscribe(lambda: heard.append(1))
    store(db, car, T0 - timedelta(minutes=10), locked=True)  # seen locked once
    store(db, car, T0, fuel=8.0, locked=False)
    store(db, other, T0, fuel=80.0, locked=True)
    changes = await service.evaluate([car, other])
    assert {a.kind for a in changes.new} == {"low_fuel", "unlocked_no_rental"} and heard
    clock.now = T0 + timedelta(seconds=30)
    again = await service.evaluate(None)
    assert not again.new and len(again.updated) == 2
    inbox = await service.inbox()
    assert [r.kind for r in inbox] == ["unlocked_no_rental", "low_fuel"]  # critical first
    assert inbox[0].last_seen == clock.now and inbox[0].first_seen == T0
    assert await service.acknowledge([inbox[0].id], "dispatcher") == 1
    assert await service.inbox(include_acknowledged=False) == [inbox[1]]
    assert await db.run(service.repository.vehicles_with_open_alerts) == {car: "critical"}
    store(db, car, T0 + timedelta(seconds=40), fuel=60.0, locked=True)
    clock.now = T0 + timedelta(seconds=100)
    cleared = await service.evaluate([car])
    assert len(cleared.cleared) == 2
    assert await service.inbox() == []
    assert len(await service.inbox(include_cleared=True)) == 2
