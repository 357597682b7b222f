"""A charging EV polled from the real simulator becomes Charging in the database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from app.config import Settings
from app.integrations.smartcar.scopes import OPTIONAL_SCOPES, REQUIRED_SCOPES
from app.models.orm import SmartcarConnection, Vehicle
from app.models.telemetry_queries import TelemetryQueries
from app.models.vehicles import VehicleRepository
from app.services.alerts.service import AlertService
from tests.integration.services.telemetry.test_cron import BMW, FORD, TESLA, first_cycle

GRANTED = [*REQUIRED_SCOPES, *OPTIONAL_SCOPES]  # what Connect grants when the owner keeps all


async def _linked(rig, vin: str, powertrain: str, scopes: list[str]) -> tuple[int, int]:
    vehicle_id, connection_id = await rig.connect_car(vin)

    def save() -> None:
        with rig.db.session() as s:
            s.execute(update(Vehicle).where(Vehicle.id == vehicle_id).values(powertrain=powertrain))
            s.execute(
                update(SmartcarConnection)
                .where(SmartcarConnection.id == connection_id)
                .values(granted_scopes=scopes)
            )

    await rig.db.run(save)
    return vehicle_id, connection_id


@pytest.mark.asyncio
async def test_a_charging_ev_is_polled_as_charging_and_its_status_follows(rig):
    tesla, _ = await _linked(rig, TESLA, "bev", GRANTED)
    bmw, _ = await _linked(rig, BMW, "bev", list(REQUIRED_SCOPES))  # read_charge refused
    ford, _ = await _linked(rig, FORD, "ice", GRANTED)
    for vin in (TESLA, BMW):
        rig.sim.state.by_vin[vin].battery_fraction = 0.5  # below the 90 % charge limit
        await rig.sim_state(vin, activity="charging")
    cron = rig.cron()
    await first_cycle(rig, cron)
    # One batch per car; /charge only where the car can charge and the owner allowed it.
    assert "/charge" in cron.vehicle_status(tesla).paths
    assert "/charge" not in cron.vehicle_status(bmw).paths
    assert "/charge" not in cron.vehicle_status(ford).paths
    queries = TelemetryQueries(rig.db)
    assert (await rig.db.run(queries.latest, tesla)).get("charging") is True
    assert (await rig.db.run(queries.latest, bmw)).get("charging") is None

    service = AlertService(
        rig.db, Settings(), clock=lambda: datetime.fromtimestamp(rig.clock(), UTC)
    )
    await service.evaluate(None)
    repo = VehicleRepository(rig.db)
    assert repo.row(tesla).status == "charging"
    assert repo.row(bmw).status == "available"

    await rig.sim_state(TESLA, activity="parked")  # unplugged: NOT_CHARGING
    rig.clock.advance(5)
    await cron.poll_now(tesla)
    await rig.writer.flush()
    assert (await rig.db.run(queries.latest, tesla)).get("charging") is False
    await service.evaluate(None)
    assert repo.row(tesla).status == "available"
