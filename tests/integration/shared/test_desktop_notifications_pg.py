"""Shared mode: the alerts the collector raises pop up on every console's desktop.

Real parts throughout: a PostgreSQL database after ``roles init``, the collector's
context (its alert rules, dispatcher and NOTIFY publisher) signed in as the collector, and
consoles signed in as people, built by the bootstrap and run by ``start_workers`` as the
console does; only the tray is a stand-in (tests.helpers.desktop).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
import pytest_asyncio

from app.config import AlertSettings, DesktopSettings, NotificationSettings, Settings
from app.models.notifications import SENT, NotificationRecord
from app.models.telemetry_reading import TelemetryReading
from app.models.telemetry_store import TelemetryStore
from app.models.vehicles import VehicleFields, VehicleRepository
from app.paths import resolve_paths
from app.services.notifications.channels import workstation
from app.services.tasks import TaskOwner
from app.services.wiring.bootstrap import open_context
from app.services.wiring.context import AppContext, Role
from app.services.wiring.workers import start_workers
from tests.helpers.desktop import Desktop
from tests.helpers.waiting import until
from tests.integration.shared.people import Fleet

pytestmark = pytest.mark.asyncio


@dataclass
class Console:
    login: str
    context: AppContext
    desktop: Desktop

    async def rows(self) -> list[NotificationRecord]:
        """This console's desktop rows, oldest first."""
        assert self.context.notifications is not None
        rows = await self.context.notifications.recent()
        return [r for r in reversed(rows) if r.recipient == self.desktop.recipient]


class Shared:
    """The collector and the consoles of one database, and the tasks they run."""

    def __init__(self, fleet: Fleet, tmp_path: Path) -> None:
        self.fleet = fleet
        self.tmp_path = tmp_path
        self.tasks = TaskOwner()
        self.owners = [self.tasks]
        self.contexts: list[AppContext] = []
        self.collector = self._open(
            "collector",
            fleet.url_of(fleet.collector, "x"),
            Settings(alerts=AlertSettings(unlocked_grace_s=0)),
            Role.COLLECTOR,
        )
        assert self.collector.publisher is not None and self.collector.notifications is not None
        self.tasks.spawn(self.collector.publisher.run, "change-publisher")
        self.tasks.spawn(self.collector.notifications.run, "collector-notifications")

    def _open(self, name: str, url: str, settings: Settings, role: Role) -> AppContext:
        paths = resolve_paths(self.tmp_path / name).ensure()
        context = open_context(settings, paths, db_url=url, role=role)
        self.contexts.append(context)
        return context

    async def console(self, role: str, settings: Settings | None = None) -> Console:
        """A console signed in as a new person with ``role``, its workers running, its
        desktop attached as the window does, listening for the collector's notices."""
        login = self.fleet.person(role)
        context = self._open(login, self.fleet.url_of(login), settings or Settings(), Role.CONSOLE)
        assert context.notifications is not None and context.alert_feed is not None
        desktop = Desktop(workstation(login))
        context.notifications.attach(desktop)
        tasks = TaskOwner()  # the console's own, as in main.py
        self.owners.append(tasks)
        assert start_workers(context, tasks).names == ["collector-alerts", "notifications"]
        feed = context.alert_feed
        await until(lambda: feed.last_seen is not None, what=f"{login}'s first read")
        await until_listening(self.fleet, login)
        return Console(login, context, desktop)

    def vehicle(self, name: str, kind: str = "car") -> int:
        return VehicleRepository(self.collector.database).add(
            VehicleFields(name=name, fleet_number=name.upper(), kind=kind)
        )

    def report(self, vehicle_id: int, ago_s: float = 0.0, **values: object) -> None:
        at = datetime.now(UTC) - timedelta(seconds=ago_s)
        reading = TelemetryReading(
            vehicle_id=vehicle_id, source="smartcar", recorded_at=at, received_at=at, **values
        )
        TelemetryStore(self.collector.database).write_batch([reading])

    async def close(self) -> None:
        for tasks in reversed(self.owners):
            await tasks.shutdown()
        for context in self.contexts:
            context.close()


def superuser(fleet: Fleet) -> psycopg.Connection:
    return psycopg.connect(fleet.server.dsn(fleet.url.rpartition("/")[2]), autocommit=True)


async def until_listening(fleet: Fleet, login: str) -> None:
    """Until ``login`` has a LISTEN session (the alert feed's), so no notice is missed."""
    with superuser(fleet) as conn:

        def listening() -> bool:
            query = "SELECT count(*) FROM pg_stat_activity WHERE usename = %s AND query LIKE %s"
            row = conn.execute(query, (login, "LISTEN%")).fetchone()
            return row is not None and row[0] > 0

        await until(listening, what=f"{login} listening")


def quiet_now() -> str:
    """Quiet hours around the present moment, local time."""
    now = datetime.now().astimezone()
    return f"{now - timedelta(hours=1):%H:%M}-{now + timedelta(hours=1):%H:%M}"


@pytest_asyncio.fixture
async def shared(fleet: Fleet, tmp_path: Path) -> AsyncIterator[Shared]:
    made = Shared(fleet, tmp_path)
    try:
        yield made
    finally:
        await made.close()


async def test_each_console_shows_and_records_the_collectors_new_alerts(shared: Shared):
    collector = shared.collector
    old = shared.vehicle("Old")
    shared.report(old, fuel=5.0)
    await collector.alerts.evaluate([old])  # raised before any console started

    # A viewer who wants fuel and lock alerts; a dispatcher in quiet hours.
    wanted = NotificationSettings(desktop=DesktopSettings(kinds=("low_fuel", "unlocked_no_rental")))
    viewer = await shared.console("viewer", Settings(notifications=wanted))
    quiet = NotificationSettings(quiet_hours=quiet_now())
    dispatcher = await shared.console("dispatcher", Settings(notifications=quiet))

    fuel, lock, charge = shared.vehicle("Fuel"), shared.vehicle("Lock"), shared.vehicle("Charge")
    shared.report(fuel, fuel=8.0)  # low fuel: warning
    shared.report(lock, ago_s=600, locked=True)
    shared.report(lock, locked=False)  # unlocked outside a rental: critical
    shared.report(charge, battery=5.0)  # low charge: warning, not a kind the viewer wants
    raised = await collector.alerts.evaluate([fuel, lock, charge])
    assert {a.kind for a in raised.new} == {"low_fuel", "unlocked_no_rental", "low_charge"}
    ids = {a.kind: a.id for a in raised.new}

    async def sent(console: Console, count: int) -> bool:
        rows = await console.rows()
        return len(rows) == count and all(r.state == SENT for r in rows)

    await until_async(lambda: sent(viewer, 2), "the viewer's two rows sent")
    await until_async(lambda: sent(dispatcher, 1), "the dispatcher's critical row sent")
    here = workstation(viewer.login)
    assert here == f"{viewer.login}@{here.rpartition('@')[2]}"
    assert [(r.alert_id, r.channel) for r in await viewer.rows()] == [
        (ids["low_fuel"], "desktop"),
        (ids["unlocked_no_rental"], "desktop"),
    ]
    assert viewer.desktop.shown == [
        (here, "[Fleet Console] Warning: Low fuel - Fuel [FUEL]"),
        (here, "[Fleet Console] Critical: Unlocked outside a rental - Lock [LOCK]"),
    ]
    # Quiet hours on the dispatcher's workstation: only the critical one, in its own row.
    [row] = await dispatcher.rows()
    assert row.alert_id == ids["unlocked_no_rental"]
    assert dispatcher.desktop.shown == [(workstation(dispatcher.login), row.subject)]
    # Nothing else was recorded (not the old alert, no e-mail, no desktop row of the
    # collector's); the collector's dispatcher left the consoles' rows alone.
    everything = await viewer.context.notifications.recent()  # type: ignore[union-attr]
    assert len(everything) == 3 and all(r.state == SENT for r in everything)
    viewer_state = viewer.context.notifications.channel_states()  # type: ignore[union-attr]
    assert [(s.name, s.problem, s.waiting) for s in viewer_state] == [("desktop", None, 0)]


async def test_a_login_that_may_not_record_still_sees_the_message(shared: Shared, caplog):
    # A database whose grants predate this version: people may not write the table.
    with superuser(shared.fleet) as conn:
        conn.execute("REVOKE INSERT ON notification FROM fleet_viewer")
    console = await shared.console("viewer")
    caplog.set_level(logging.INFO, "app.services.notifications.dispatcher")
    for name in ("One", "Two"):
        vehicle = shared.vehicle(name)
        shared.report(vehicle, fuel=8.0)
        await shared.collector.alerts.evaluate([vehicle])
        await until(lambda n=name: any(n in s for _r, s in console.desktop.shown), what=name)
    assert await console.rows() == []
    said = [r for r in caplog.records if "shown but not recorded" in r.getMessage()]
    assert len(said) == 1 and said[0].levelno == logging.INFO
    assert "permission denied for table notification" in said[0].getMessage()


async def until_async(check, what: str, timeout: float = 10.0) -> None:
    """``until`` for a check that reads the database (awaited each round)."""

    async def poll() -> None:
        while not await check():
            await asyncio.sleep(0.02)

    try:
        await asyncio.wait_for(poll(), timeout)
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout} s waiting for {what}") from None
