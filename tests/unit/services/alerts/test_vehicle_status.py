"""Vehicle status follows reality (issue #13 item 5) and Smartcar cars are not falsely
"silent" under the default budget (item 6): the alert service on a real SQLite file."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from app.config import Settings, TelemetrySettings
from app.models.database import Database
from app.models.orm import SmartcarConnection
from app.models.vehicles import VehicleFields, VehicleRepository
from app.services.alerts.service import AlertService
from app.services.vehicles import status as vehicle_status
from app.services.vehicles.validation import luhn_complete
from tests.helpers.rentals import open_rental
from tests.unit.services.alerts.test_alert_service import Clock, store

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def status_of(db: Database, vehicle_id: int) -> str:
    row = VehicleRepository(db).row(vehicle_id)
    assert row is not None
    return row.status


def scooter(i: int) -> VehicleFields:
    return VehicleFields(
        name=f"Scooter {i}",
        fleet_number=f"S-{i}",
        kind="scooter",
        imei=luhn_complete(f"86000000000{i:03d}"),
        connection_type="iot",
        iot_vendor="OKAI",
        iot_protocol="gl200",
    )


@pytest.mark.asyncio
async def test_status_follows_rental_telemetry_age_level_and_operator_hold(db):
    repo = VehicleRepository(db)
    rented, silent, flat, held = repo.add_many([scooter(i) for i in range(4)])
    clock = Clock()
    service = AlertService(db, Settings(), clock=clock)
    changed: list[set[int]] = []
    service.status_changes.subscribe(lambda ids: changed.append(set(ids)))
    for vehicle in (rented, silent, held):
        store(db, vehicle, T0, battery=80.0, locked=True)
    store(db, flat, T0, battery=12.0, locked=True)
    open_rental(db, rented)
    repo.update(held, replace(scooter(3), status="maintenance"))
    await service.evaluate(None)
    assert status_of(db, rented) == "in_use"
    assert status_of(db, flat) == "discharged"  # below [status] discharged_below_pct (15)
    assert status_of(db, silent) == "available"
    assert status_of(db, held) == "maintenance"
    assert changed == [{rented, flat}]
    await service.evaluate(None)
    assert changed == [{rented, flat}]  # nothing changed: nothing written, nobody told
    clock.now = T0 + timedelta(seconds=121)  # device interval 60 s, one interval of grace
    await service.evaluate(None)
    assert status_of(db, silent) == "offline" and status_of(db, held) == "maintenance"
    assert changed[-1] == {silent, flat}  # the flat scooter went quiet too
    repo.update(held, scooter(3))  # the operator clears the hold in Edit Vehicle
    await service.evaluate([held])
    assert status_of(db, held) == "offline"


def _smartcar_car(db: Database) -> int:
    [car] = VehicleRepository(db).add_many(
        [VehicleFields(name="Car", fleet_number="C-1", kind="car", connection_type="smartcar")]
    )
    with db.session() as s:
        s.add(
            SmartcarConnection(
                vehicle_id=car,
                smartcar_vehicle_id="sc-1",
                status="active",
                budget_month="2026-03",
                requests_this_month=7,
            )
        )
    return car


@pytest.mark.asyncio
async def test_smartcar_car_polled_within_budget_is_neither_silent_nor_offline(db):
    car = _smartcar_car(db)
    clock = Clock()
    service = AlertService(db, Settings(), clock=clock)
    store(db, car, T0, fuel=60.0, locked=True)
    # Default budget (500 a month, 7 paths a poll): the cron paces polls ~11.5 h apart.
    expected = vehicle_status.smartcar_interval_s(TelemetrySettings(), 7, "2026-03", T0)
    assert expected > 10 * 3600
    clock.now = T0 + timedelta(hours=2)  # the old rule (3 x 300 s) said "silent" after 15 min
    changes = await service.evaluate(None)
    assert "silent" not in {a.kind for a in changes.new}
    assert status_of(db, car) == "available"
    clock.now = T0 + timedelta(seconds=vehicle_status.overdue_after_s(expected) + 60)
    changes = await service.evaluate(None)
    assert "silent" in {a.kind for a in changes.new}
    assert status_of(db, car) == "offline"


def test_derive_precedence():
    now = T0
    stale = T0 - timedelta(hours=1)
    derive = vehicle_status.derive
    facts = vehicle_status.StatusFacts
    assert derive(facts("not_ready", in_rental=True), now, 15) == "not_ready"
    assert (
        derive(
            facts("offline", in_rental=True, last_heard_at=stale, expected_interval_s=60), now, 15
        )
        == "in_use"
    )
    assert (
        derive(
            facts("available", last_heard_at=stale, expected_interval_s=60, charging=True), now, 15
        )
        == "offline"
    )
    assert (
        derive(
            facts(
                "available",
                last_heard_at=now,
                expected_interval_s=60,
                charging=True,
                charging_at=now,
                level_pct=5,
            ),
            now,
            15,
        )
        == "charging"
    )
    assert derive(facts("in_use", level_pct=14.9), now, 15) == "discharged"
    assert derive(facts("discharged", level_pct=15.0), now, 15) == "available"
    assert derive(facts("available"), now, 15) == "available"  # no interval: never offline


@pytest.mark.asyncio
async def test_a_restarted_console_waits_one_limit_before_calling_anyone_offline(db):
    [old] = VehicleRepository(db).add_many([scooter(0)])
    store(db, old, T0 - timedelta(hours=3), battery=80.0)  # heard before the restart
    clock = Clock()
    service = AlertService(db, Settings(), clock=clock)  # started listening at T0
    changes = await service.evaluate(None)
    assert status_of(db, old) == "available" and not changes.new
    clock.now = T0 + timedelta(seconds=121)  # 60 s device interval, one of grace
    changes = await service.evaluate(None)
    assert status_of(db, old) == "offline" and {a.kind for a in changes.new} == {"silent"}


@pytest.mark.asyncio
async def test_a_fresh_charging_flag_makes_the_vehicle_charging_and_a_stale_one_does_not(db):
    [docked] = VehicleRepository(db).add_many([scooter(0)])
    clock = Clock()
    service = AlertService(db, Settings(), clock=clock)
    store(db, docked, T0, battery=10.0, charging=True)  # low, but charging wins
    await service.evaluate(None)
    assert status_of(db, docked) == "charging"
    clock.now = T0 + timedelta(seconds=100)
    store(db, docked, clock.now, battery=11.0)  # a report without the flag: flag still fresh
    await service.evaluate(None)
    assert status_of(db, docked) == "charging"
    clock.now = T0 + timedelta(seconds=200)  # the flag is now older than the Offline limit
    store(db, docked, clock.now, battery=12.0)
    await service.evaluate(None)
    assert status_of(db, docked) == "discharged"
    store(db, docked, clock.now, battery=30.0, charging=True)
    await service.evaluate(None)
    assert status_of(db, docked) == "charging"
    clock.now = T0 + timedelta(seconds=210)
    store(db, docked, clock.now, battery=30.0, charging=False)  # unplugged
    await service.evaluate(None)
    assert status_of(db, docked) == "available"
