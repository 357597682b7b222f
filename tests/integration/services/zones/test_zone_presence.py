"""Enter and exit events from positions stored by the real telemetry writer on SQLite, the
zone alerts they raise and clear once, and presence kept over a restart."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from sqlalchemy import select

from app.config import AlertSettings, Settings
from app.models.database import Database
from app.models.enums import RentalState
from app.models.orm import Alert, ZoneEvent
from app.models.rentals import RentalRepository
from app.models.telemetry_reading import TelemetryReading
from app.models.vehicles import VehicleFields, VehicleRepository
from app.models.zones import ZoneShape
from app.services.alerts.service import AlertService
from app.services.rentals.service import OPEN_STATES
from app.services.telemetry.writer import TelemetryWriter
from app.services.zones.index import metres_per_degree
from app.services.zones.service import ZoneService
from tests.helpers.waiting import until

pytestmark = pytest.mark.asyncio

LAT = 52.52
PER_LON, PER_LAT = metres_per_degree(LAT)
WEST = 13.40  # the service area's west edge
SETTINGS = Settings(alerts=AlertSettings(clear_after_s=0, unlocked_grace_s=0))


def east(metres: float) -> float:
    return WEST + metres / PER_LON


def north(metres: float) -> float:
    return LAT + metres / PER_LAT


def rect(name: str, kind: str, x0: float, y0: float, x1: float, y1: float) -> ZoneShape:
    """A rectangle in metres from (WEST, LAT)."""
    ring = [
        (east(x0), north(y0)),
        (east(x1), north(y0)),
        (east(x1), north(y1)),
        (east(x0), north(y1)),
    ]
    return ZoneShape(None, name, kind, ring)


@dataclass
class Rig:
    db: Database
    writer: TelemetryWriter
    zones: ZoneService
    alerts: AlertService
    scooter: int
    heard: list[frozenset[int]]
    #: One entry per finished zone check (the worker's own path, observed).
    checked: list[int] = field(default_factory=list)
    t: datetime = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    async def report(self, x_m: float, y_m: float, speed: float = 0.0) -> None:
        """The scooter reports a position ``x_m`` east, ``y_m`` north of (WEST, LAT) and
        the zone worker has checked it (the writer's commit reached it)."""
        self.t += timedelta(seconds=30)
        before = len(self.checked)
        await self.writer.store(
            [
                TelemetryReading(
                    vehicle_id=self.scooter,
                    source="iot",
                    recorded_at=self.t,
                    received_at=self.t,
                    lat=north(y_m),
                    lon=east(x_m),
                    speed=speed,
                )
            ]
        )
        await until(lambda: len(self.checked) > before, what="the zone check")

    def events(self) -> list[tuple[str, str]]:
        names = {z.id: z.name for z in self.zones._index.zones.values()}
        with self.db.session() as s:
            rows = s.scalars(select(ZoneEvent).order_by(ZoneEvent.id)).all()
            return [(e.event, names[e.zone_id]) for e in rows]

    def open_alerts(self) -> list[tuple[str, int]]:
        with self.db.session() as s:
            rows = s.scalars(select(Alert).where(Alert.cleared_at.is_(None))).all()
            return sorted((a.kind, a.count) for a in rows)

    def all_alerts(self) -> list[str]:
        with self.db.session() as s:
            return sorted(a.kind for a in s.scalars(select(Alert)))


async def start(db: Database, scooter: int) -> tuple[Rig, list[asyncio.Task]]:
    """Writer, zones and alerts wired as app.services.wiring.bootstrap wires them."""
    writer = TelemetryWriter(db, retry_initial_s=0.01)
    zones = ZoneService(db, SETTINGS)
    alerts = AlertService(db, SETTINGS)
    heard: list[frozenset[int]] = []
    rig = Rig(db, writer, zones, alerts, scooter, heard)
    writer.commits.subscribe(alerts.vehicles_changed)
    writer.commits.subscribe(zones.vehicles_changed)
    zones.presence_changes.subscribe(alerts.vehicles_changed)
    zones.presence_changes.subscribe(heard.append)
    original = zones.evaluate

    async def evaluate(ids=None):  # observe each finished check, the worker's own path
        result = await original(ids)
        rig.checked.append(1)
        return result

    zones.evaluate = evaluate  # type: ignore[method-assign]
    loop = asyncio.get_running_loop()
    tasks = [loop.create_task(writer.run()), loop.create_task(zones.run())]
    await until(lambda: rig.checked, what="the zone worker's first pass")
    return rig, tasks


async def stop(tasks: list[asyncio.Task]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


@pytest_asyncio.fixture
async def scooter(db: Database) -> AsyncIterator[int]:
    [vehicle_id] = VehicleRepository(db).add_many(
        [VehicleFields(name="Scooter", fleet_number="S-014", kind="scooter")]
    )
    zones = ZoneService(db, SETTINGS)
    await zones.add(rect("Mitte", "service_area", 0, 0, 2000, 2000))
    await zones.add(rect("Lustgarten", "no_parking", 500, 500, 700, 700))
    yield vehicle_id


async def test_enter_exit_alerts_and_jitter_through_the_real_writer(db, scooter):
    rig, tasks = await start(db, scooter)
    try:
        await rig.report(100, 100)
        assert rig.events() == [("enter", "Mitte")]
        await rig.alerts.evaluate([scooter])
        assert rig.open_alerts() == []

        for x in (5, -5, 8, -12, 3, -9):  # jitter across the west edge, under the margin
            await rig.report(x, 100)
        await rig.alerts.evaluate([scooter])
        assert rig.events() == [("enter", "Mitte")] and rig.open_alerts() == []

        await rig.report(-40, 100)  # clearly out
        assert rig.events()[-1] == ("exit", "Mitte")
        await rig.alerts.evaluate([scooter])
        await rig.alerts.evaluate([scooter])
        assert rig.open_alerts() == [("outside_service_area", 1)]  # once, not twice
        for x in (-30, -8, 5, -10):  # jitter back at the edge: still out, nothing new
            await rig.report(x, 100)
        await rig.alerts.evaluate([scooter])
        assert rig.open_alerts() == [("outside_service_area", 1)]
        assert rig.events()[-1] == ("exit", "Mitte")

        await rig.report(600, 600)  # back in, parked in the no-parking zone
        assert rig.events()[-2:] == [("enter", "Mitte"), ("enter", "Lustgarten")]
        await rig.alerts.evaluate([scooter])
        assert rig.open_alerts() == [("in_no_parking_zone", 1)]
        await rig.report(610, 600, speed=15.0)  # riding through: not parked
        await rig.alerts.evaluate([scooter])
        assert rig.open_alerts() == []
        assert rig.all_alerts() == ["in_no_parking_zone", "outside_service_area"]
    finally:
        await stop(tasks)


async def test_a_restart_keeps_presence_and_raises_nothing_again(db, scooter):
    rig, tasks = await start(db, scooter)
    try:
        await rig.report(600, 600)
        assert rig.events() == [("enter", "Mitte"), ("enter", "Lustgarten")]
    finally:
        await stop(tasks)
    again, tasks = await start(db, scooter)  # a new process: nothing in memory
    try:
        again.t = rig.t
        await again.report(605, 600)
        assert again.events() == [("enter", "Mitte"), ("enter", "Lustgarten")]
        assert again.heard == []
        await again.report(800, 600)
        assert again.events()[-1] == ("exit", "Lustgarten") and again.heard == [{scooter}]
    finally:
        await stop(tasks)


async def test_a_new_zone_applies_to_vehicles_already_standing_in_it(db, scooter):
    rig, tasks = await start(db, scooter)
    try:
        await rig.report(1500, 1500)
        parking = await rig.zones.add(rect("Hof", "parking", 1400, 1400, 1600, 1600))
        await until(lambda: ("enter", "Hof") in rig.events(), what="the re-check")
        await rig.zones.delete(parking.id)
        assert ("enter", "Hof") not in rig.events()  # its events go with it
    finally:
        await stop(tasks)


async def test_leaving_the_service_area_during_a_rental_is_a_critical_alert(db, scooter):
    rig, tasks = await start(db, scooter)
    try:
        await db.run(
            lambda: RentalRepository(db).open(
                scooter,
                state=RentalState.RENTAL_ACTIVE.value,
                open_states=OPEN_STATES,
                operator="tester",
                customer_ref="booking 9",
                now=rig.t,
                deadline=None,
            )
        )
        await rig.report(-100, 100, speed=18.0)
        await rig.alerts.evaluate([scooter])
        [alert] = await rig.alerts.inbox()
        assert (alert.kind, alert.severity) == ("outside_service_area", "critical")
        assert alert.message == "Outside every service area during a rental"
    finally:
        await stop(tasks)
