"""Field tasks on PostgreSQL: two rule runs racing for one vehicle make one open task, and
the creator is the database login, whatever the client wrote."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from app.models.database import Database
from app.models.field_tasks import DuplicateOpenTask, NewTask, TaskRepository
from app.models.orm import FieldTask
from app.models.vehicles import VehicleFields, VehicleRepository
from tests.helpers.people import person
from tests.helpers.waiting import until

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def workstations(pg_url) -> Iterator[tuple[Database, Database]]:
    first, second = Database(pg_url), Database(pg_url)
    first.migrate()
    try:
        yield first, second
    finally:
        first.close()
        second.close()


def _scooter(db: Database) -> int:
    return VehicleRepository(db).add(VehicleFields(name="S-1", fleet_number="S-1", kind="scooter"))


@pytest.mark.asyncio
async def test_a_create_whose_check_passed_is_refused_by_the_index_and_named(workstations):
    """The other run's task is inserted but not committed while this one checks: only the
    partial unique index can stop the second open battery swap."""
    first, second = workstations
    scooter = _scooter(first)
    with first.session() as s:
        winner = FieldTask(
            vehicle_id=scooter,
            kind="battery_swap",
            state="open",
            priority="normal",
            assignee="",
            notes="",
            reason="",
            created_at=NOW,
            updated_at=NOW,
        )
        s.add(winner)
        s.flush()
        loser = asyncio.get_running_loop().run_in_executor(
            None, TaskRepository(second).create, NewTask(scooter, "battery_swap"), "rules", NOW
        )

        def blocked_on_the_index() -> bool:
            with s.connection().engine.connect() as probe:
                return bool(
                    probe.execute(
                        text(
                            "SELECT count(*) FROM pg_stat_activity "
                            "WHERE wait_event_type = 'Lock' AND datname = current_database()"
                        )
                    ).scalar()
                )

        await until(blocked_on_the_index, 10, "the second insert to wait for the first")
    with pytest.raises(DuplicateOpenTask) as info:
        await loser
    assert info.value.task_id == winner.id
    assert await first.run(TaskRepository(first).open_kinds) == {scooter: {"battery_swap"}}


def test_the_creator_is_the_database_login(postgres, db, db_url):
    scooter = _scooter(db)
    with person(postgres, db_url, "dispatcher") as (login, url):
        as_dispatcher = Database(url)
        try:
            task_id = TaskRepository(as_dispatcher).create(
                NewTask(scooter, "collect"), "someone else", NOW
            )
            [task] = TaskRepository(as_dispatcher).tasks()
        finally:
            as_dispatcher.close()
    assert task.id == task_id and task.created_by == login
