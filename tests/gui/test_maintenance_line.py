"""The detail panel's maintenance line on a demo database: no plan, due in, overdue as
the odometer moves, and a plan made in the Plan… dialog that creates its repair task."""

from __future__ import annotations

from datetime import UTC, datetime

from PySide6.QtWidgets import QApplication, QDialogButtonBox

from app.models.field_tasks import Plan
from app.views.maintenance_panel import MaintenancePlanDialog
from tests.gui.test_rentals_views import report
from tests.helpers.waiting import until


def line(window) -> str:
    return window.operations.maintenance_panel.line.text()


async def test_the_line_counts_down_and_turns_overdue(window, context):
    car = next(r.id for r in window.model.rows if r.kind == "scooter")  # demo cars have plans
    report(context, car, odometer=23_800.0)
    window.refresh_vehicle(await context.vehicles.row(car))
    assert window.select_vehicle(car)
    await until(lambda: line(window) == "Maintenance: no plan", what="no plan")
    await context.tasks.save_plan(Plan(car, every_km=15_000, last_service_km=10_000))
    await until(lambda: line(window) == "Maintenance: due in 1,200 km", what="due in")
    report(context, car, odometer=25_300.0)
    row = await context.vehicles.row(car)
    window.refresh_vehicle(row)  # what live updates do for a new reading
    await until(lambda: line(window) == "Maintenance: overdue by 300 km", what="overdue")


async def test_a_plan_from_the_dialog_is_stored_and_a_due_one_makes_a_task(window, context):
    car = next(r for r in window.model.rows if r.kind == "e-bike")  # no plan yet
    report(context, car.id, odometer=40_000.0)
    window.refresh_vehicle(await context.vehicles.row(car.id))
    assert window.select_vehicle(car.id)
    panel = window.operations.maintenance_panel
    assert panel.plan_button.isEnabled()
    panel.plan_button.click()

    def dialog() -> MaintenancePlanDialog | None:
        found = [w for w in QApplication.topLevelWidgets() if isinstance(w, MaintenancePlanDialog)]
        return next((d for d in found if d.isVisible()), None)

    await until(dialog, what="the plan dialog")
    d = dialog()
    d.every_km.setValue(15_000)
    d.every_months.setValue(12)
    d.has_date.setChecked(True)
    d.last_km.setValue(25_000)
    d.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok).click()
    await until(lambda: "due" in line(window), what="the line after saving")
    plan = await context.tasks.plan(car.id)
    assert (plan.every_km, plan.every_months, plan.last_service_km) == (15_000, 12, 25_000)
    today = datetime.now(UTC).date()
    assert plan.last_service_at is not None and plan.last_service_at.date() == today
    assert line(window) == "Maintenance: due"  # 25,000 + 15,000 = 40,000: exactly due
    await context.tasks.evaluate([car.id])  # what the rules' run does after the save
    [task] = await context.tasks.tasks(kind="repair")
    assert task.vehicle_id == car.id and task.reason == "maintenance due"
