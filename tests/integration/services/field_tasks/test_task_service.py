"""Field tasks on a real SQLite database: rules fed by the real telemetry writer, the
one-open-task-per-kind rule in the database itself, moves and the CSV export."""

from __future__ import annotations

import asyncio
import csv
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from app.config import Settings, TaskSettings
from app.models.field_tasks import DuplicateOpenTask, NewTask, Plan
from app.models.orm import FieldTask
from app.models.telemetry_reading import TelemetryReading
from app.models.vehicles import VehicleFields, VehicleRepository
from app.services.field_tasks.service import TaskService
from app.services.field_tasks.states import IllegalTaskTransition
from app.services.telemetry.exports import TASK_HEADER
from app.services.telemetry.writer import TelemetryWriter
from tests.helpers.waiting import until

T0 = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def _vehicles(db, *kinds: str) -> list[int]:
    return VehicleRepository(db).add_many(
        [VehicleFields(name=f"V{i}", fleet_number=f"V-{i}", kind=k) for i, k in enumerate(kinds)]
    )


def _reading(vehicle_id: int, at: datetime, **values) -> TelemetryReading:
    return TelemetryReading(
        vehicle_id=vehicle_id, source="iot", recorded_at=at, received_at=at, **values
    )


@pytest.mark.asyncio
async def test_rules_create_tasks_from_telemetry_through_the_writer_once(db):
    scooter, bike, car = _vehicles(db, "scooter", "e-bike", "car")
    clock = Clock()
    settings = Settings(tasks=TaskSettings(battery_swap_below_pct=20, silent_after_min=30))
    service = TaskService(db, settings, who="ops@desk", clock=clock)
    writer = TelemetryWriter(db)
    writer.commits.subscribe(service.vehicles_changed)
    await db.run(
        service.repository.save_plan,
        Plan(car, every_km=15_000, last_service_km=1_000),
        T0,
    )
    heard: list[int] = []
    service.changes.subscribe(lambda: heard.append(1))
    runner = asyncio.create_task(service.run())
    draining = asyncio.create_task(writer.run())
    try:
        await until(lambda: service._queue.queued == 0, what="the first sweep")
        writer.submit_many(
            [
                _reading(scooter, T0, battery=12.0, lat=52.5, lon=13.4),
                _reading(bike, T0, battery=55.0),
                _reading(car, T0, odometer=16_250.0, battery=9.0),
            ]
        )
        await writer.flush()

        await until(lambda: heard, what="the rules to hear the commit")

        async def kinds() -> dict[int, set[str]]:
            return await db.run(service.repository.open_kinds)

        assert await kinds() == {scooter: {"battery_swap"}, car: {"repair"}}
        [swap] = await service.tasks(kind="battery_swap")
        assert (swap.priority, swap.reason, swap.created_by) == (
            "normal",
            "battery at 12 % (below 20 %)",
            "rules",
        )
        [repair] = await service.tasks(kind="repair")
        assert repair.reason == "maintenance overdue by 250 km" and repair.priority == "high"
        # The same facts again (a new reading, still low): no second open battery swap.
        heard.clear()
        writer.submit(_reading(scooter, T0 + timedelta(seconds=30), battery=11.0))
        await writer.flush()
        assert await service.evaluate([scooter]) == []
        runner.cancel()  # from here the test drives the evaluations itself
        await asyncio.gather(runner, return_exceptions=True)
        assert not heard
        # Time passes without a report: the sweep finds the silent vehicles.
        clock.now = T0 + timedelta(minutes=31)
        created = await service.evaluate(None)
        assert len(created) == 3
        assert await kinds() == {
            scooter: {"battery_swap", "inspection"},
            bike: {"inspection"},
            car: {"repair", "inspection"},
        }
        assert heard
    finally:
        runner.cancel()
        draining.cancel()
        await asyncio.gather(runner, draining, return_exceptions=True)


@pytest.mark.asyncio
async def test_the_database_refuses_a_second_open_task_of_a_kind(db):
    [scooter] = _vehicles(db, "scooter")
    service = TaskService(db, Settings(), who="ops@desk", clock=Clock())
    first = await service.create(NewTask(scooter, "battery_swap", notes="by hand"))
    with pytest.raises(DuplicateOpenTask, match=rf"open battery swap task \(#{first}\)"):
        await service.create(NewTask(scooter, "battery_swap"))
    row = {
        "vehicle_id": scooter,
        "kind": "battery_swap",
        "state": "assigned",
        "priority": "normal",
        "assignee": "",
        "notes": "",
        "reason": "",
        "created_at": T0,
        "updated_at": T0,
    }
    with pytest.raises(IntegrityError), db.session() as s:  # past the repository's check
        s.execute(insert(FieldTask).values(**row))
    await service.create(NewTask(scooter, "rebalance"))  # another kind is fine
    await service.move(first, "cancelled")
    again = await service.create(NewTask(scooter, "battery_swap"))  # the old one is closed
    assert again != first


@pytest.mark.asyncio
async def test_moves_follow_the_machine_and_stamp_the_finish(db):
    [car] = _vehicles(db, "car")
    clock = Clock()
    service = TaskService(db, Settings(), who="ops@desk", clock=clock)
    task_id = await service.create(NewTask(car, "inspection", priority="urgent"))
    with pytest.raises(IllegalTaskTransition, match="name the assignee"):
        await service.move(task_id, "assigned")
    await service.edit(task_id, priority="high", due_at=T0, assignee="kim", notes="north gate")
    assert await service.move(task_id, "assigned") == "assigned"
    assert await service.move(task_id, "in_progress") == "in_progress"
    clock.now = T0 + timedelta(hours=1)
    assert await service.move(task_id, "done") == "done"
    [task] = await service.tasks()
    assert (task.state, task.assignee, task.finished_at, task.created_by) == (
        "done",
        "kim",
        clock.now,
        "ops@desk",
    )
    with pytest.raises(IllegalTaskTransition, match="the task is done"):
        await service.move(task_id, "cancelled")
    assert await service.assignee_suggestions() == ["kim"]


@pytest.mark.asyncio
async def test_the_csv_export_lists_the_tasks_as_shown(db, tmp_path):
    a, b = _vehicles(db, "scooter", "car")
    service = TaskService(db, Settings(), who="ops@desk", clock=Clock())
    low = await service.create(NewTask(a, "collect", priority="low", notes="=cmd()"))
    urgent = await service.create(
        NewTask(b, "repair", priority="urgent", due_at=T0, assignee="kim", reason="brakes")
    )
    await service.move(low, "cancelled")
    shown = await service.tasks()
    assert [t.id for t in shown] == [urgent, low]  # open first
    path = tmp_path / "tasks.csv"
    assert await service.export_csv(path, shown) == 2
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == TASK_HEADER
    assert rows[1][:9] == [
        str(urgent),
        "V1",
        "V-1",
        "repair",
        "open",
        "urgent",
        "2026-06-15T12:00:00+00:00",
        "kim",
        "brakes",
    ]
    assert rows[2][3:5] == ["collect", "cancelled"] and rows[2][9] == "'=cmd()"
    assert rows[2][13] != ""  # finished_at of the cancelled task
