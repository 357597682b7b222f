"""The fleet list's quick lists on a demo database: live counts, one click narrows the
list, a second click shows everything again (the map's filter: tests/gui/map)."""

from __future__ import annotations

from datetime import UTC, datetime

from app.models.field_tasks import OUTSIDE_SERVICE_AREA, NewTask
from app.models.orm import Alert
from tests.gui.test_rentals_views import report
from tests.helpers.waiting import until


def label(window, key: str) -> str:
    return window.quick_lists.buttons[key].text()


async def test_counts_follow_the_data_and_a_click_shows_that_list(window, context):
    quick = window.quick_lists
    await until(lambda: quick.refreshed >= 1, what="the first read")
    scooters = [r.id for r in window.model.rows if r.kind == "scooter"]
    before = quick.count("low_battery")
    assert label(window, "open_tasks") == "With open tasks (0)"
    assert label(window, "outside_zone") == "Outside zone (0)"

    def battery(vehicle_id: int) -> float | None:
        return window.model.rows[window.model.position_of(vehicle_id)].battery_pct

    low = [i for i in scooters if battery(i) is None or battery(i) >= 20][:2]
    assert len(low) == 2
    for vehicle_id in low:
        report(context, vehicle_id, battery=7.0)
    window.reload()  # the fleet list re-reads (live updates do this in the app)
    await until(lambda: quick.count("low_battery") == before + 2, what="two more low batteries")
    assert label(window, "low_battery") == f"Low battery ({before + 2})"

    quick.buttons["low_battery"].click()
    shown = set(window.proxy.visible_vehicle_ids())
    assert set(low) <= shown and len(shown) == before + 2
    assert all(battery(i) < 20 for i in shown)

    task_vehicle = scooters[-1]
    await context.tasks.create(NewTask(task_vehicle, "rebalance"))
    await until(lambda: quick.count("open_tasks") == 1, what="the open-task count")
    assert label(window, "open_tasks") == "With open tasks (1)"
    quick.buttons["open_tasks"].click()  # one list at a time
    assert not quick.buttons["low_battery"].isChecked()
    assert window.proxy.visible_vehicle_ids() == [task_vehicle]
    quick.buttons["open_tasks"].click()  # off again: everything
    assert len(window.proxy.visible_vehicle_ids()) == window.model.rowCount()

    now = datetime.now(UTC)  # the zones' alert kind, as the zones raise it
    with context.database.session() as s:
        s.add(
            Alert(vehicle_id=scooters[0], kind=OUTSIDE_SERVICE_AREA, first_seen=now, last_seen=now)
        )
    context.alerts.changes.notify()
    await until(lambda: quick.count("outside_zone") == 1, what="the outside-zone count")
    quick.buttons["outside_zone"].click()
    assert window.proxy.visible_vehicle_ids() == [scooters[0]]
    assert "1 of" in window.count_label.text()


async def test_offline_counts_the_listed_status(window, context):
    quick = window.quick_lists
    offline = [r.id for r in window.model.rows if r.status == "offline"]
    assert quick.count("offline") == len(offline)
    assert label(window, "offline") == f"Offline ({len(offline)})"
    quick.buttons["offline"].click()
    assert sorted(window.proxy.visible_vehicle_ids()) == sorted(offline)
