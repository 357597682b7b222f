"""Demo mode: the seeded fleet's cars have service plans, and the task rules' first sweep
makes repair tasks for the two that are overdue (no telemetry needed)."""

from __future__ import annotations

import pytest

from app.config import DemoSettings, Settings
from app.paths import resolve_paths
from app.services.wiring.bootstrap import open_context


@pytest.mark.asyncio
async def test_a_fresh_demo_shows_due_and_overdue_service(tmp_path):
    settings = Settings(demo=DemoSettings(cars=6, micromobility=4))
    context = open_context(settings, resolve_paths(tmp_path / "data").ensure())
    try:
        tasks = context.tasks
        assert tasks is not None
        cars = [r.id for r in await context.vehicles.rows() if r.kind == "car"]
        lines = [await tasks.maintenance(car) for car in cars]
        assert [line.text for line in lines[:3]] == [
            "overdue by 10 days",
            "overdue by 2 days",
            "due in 5 days",
        ]
        assert all(line is not None and not line.due for line in lines[3:])
        await tasks.evaluate(None)
        repairs = await tasks.tasks(kind="repair")
        assert sorted(t.vehicle_id for t in repairs) == cars[:2]
        assert {t.reason for t in repairs} == {
            "maintenance overdue by 10 days",
            "maintenance overdue by 2 days",
        }
        assert len(await tasks.tasks()) == 2  # nothing else: no telemetry yet
    finally:
        context.close()
