"""Field tasks on the shared change feed: a dispatcher's console and the collector's rules
announce every task they write, on real PostgreSQL with the real grants and listener."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from app.config import Settings
from app.models.database import Database
from app.models.field_tasks import NewTask
from app.models.vehicles import VehicleFields, VehicleRepository
from app.paths import resolve_paths
from app.services.change_feed import Change, ChangeListener
from app.services.tasks import TaskOwner
from app.services.telemetry.writer import TelemetryReading
from app.services.wiring.bootstrap import open_context
from app.services.wiring.context import Role
from tests.helpers.waiting import until


def _task_notices(received: list[Change]) -> list[int | None]:
    return [c.vehicle_id for c in received if c.table == "field_task"]


def _scooter(url: str) -> int:
    """Added by the owner: neither a dispatcher nor the collector may add vehicles."""
    with Database(url) as db:
        return VehicleRepository(db).add(
            VehicleFields(name="S-1", fleet_number="S-1", kind="scooter")
        )


@pytest.mark.asyncio
async def test_a_dispatchers_task_writes_reach_the_other_consoles_feed(fleet, tmp_path):
    bob = fleet.person("dispatcher")
    context = open_context(
        Settings(), resolve_paths(tmp_path / "bob").ensure(), db_url=fleet.url_of(bob)
    )
    received: list[Change] = []
    listener = ChangeListener(fleet.url, received.append)
    tasks = TaskOwner()
    try:
        assert context.tasks is not None
        scooter = _scooter(fleet.url)
        tasks.spawn(listener.run(), "listener")
        await asyncio.wait_for(listener.listening.wait(), 10)
        task_id = await context.tasks.create(NewTask(scooter, "inspection"))
        await until(lambda: _task_notices(received) == [scooter], 5, "the create's notice")
        await context.tasks.edit(task_id, priority="high", due_at=None, assignee="", notes="x")
        await until(lambda: len(_task_notices(received)) == 2, 5, "the edit's notice")
        await context.tasks.move(task_id, "cancelled")
        await until(lambda: len(_task_notices(received)) == 3, 5, "the move's notice")
    finally:
        await tasks.shutdown()
        context.close()


@pytest.mark.asyncio
async def test_the_collectors_rules_announce_the_tasks_they_create(fleet, tmp_path):
    collector = open_context(
        Settings(),
        resolve_paths(tmp_path / "collector").ensure(),
        db_url=fleet.url_of(fleet.collector, "x"),
        role=Role.COLLECTOR,
    )
    received: list[Change] = []
    listener = ChangeListener(fleet.url, received.append)
    tasks = TaskOwner()
    try:
        assert collector.tasks is not None and collector.telemetry_writer is not None
        scooter = _scooter(fleet.url)
        tasks.spawn(listener.run(), "listener")
        tasks.spawn(collector.telemetry_writer.run(), "writer")
        await asyncio.wait_for(listener.listening.wait(), 10)
        now = datetime.now(UTC)
        committed = asyncio.Event()
        collector.telemetry_writer.commits.subscribe(lambda _ids: committed.set())
        collector.telemetry_writer.submit(
            TelemetryReading(scooter, "iot", now, now, lat=52.5, lon=13.4, battery=8.0)
        )
        await asyncio.wait_for(committed.wait(), 10)
        assert len(await collector.tasks.evaluate([scooter])) == 1
        await until(lambda: _task_notices(received) == [scooter], 5, "the rule's notice")
    finally:
        await tasks.shutdown()
        collector.close()
