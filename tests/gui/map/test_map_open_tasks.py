"""The fleet map's "open tasks only" filter (the quick lists' checkbox) on a demo database."""

from __future__ import annotations

from app.models.field_tasks import NewTask
from tests.helpers.waiting import until


async def test_the_map_can_show_only_vehicles_with_open_tasks(window, context):
    views = window.telemetry_views
    fleet_map = views.ensure_map()
    scooter = next(r.id for r in window.model.rows if r.kind == "scooter")
    await context.tasks.create(NewTask(scooter, "collect"))
    quick = window.quick_lists
    await until(lambda: quick.count("open_tasks") == 1, what="the open-task count")
    quick.map_open_tasks.setChecked(True)
    assert fleet_map._only == frozenset({scooter})
    assert fleet_map._full is not None and set(fleet_map._full) == {scooter}
    quick.map_open_tasks.setChecked(False)
    assert fleet_map._only is None and len(fleet_map._full) == window.model.rowCount()
