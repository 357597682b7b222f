"""The Tasks window on a demo database: buttons that follow the state machine, assign
with a name, cancel only after a yes, a new task through the dialog, filters, export."""

from __future__ import annotations

import csv

from PySide6.QtWidgets import QApplication, QDialogButtonBox

from app.models.field_tasks import NewTask
from app.services.field_tasks.states import TaskState
from app.views.tasks_window import TaskDialog, TasksWindow
from tests.helpers.dialog_fakes import answering
from tests.helpers.waiting import until

S = TaskState


def enabled(win: TasksWindow) -> set[TaskState]:
    return {s for s, b in win.move_buttons.items() if b.isEnabled()}


async def select(win: TasksWindow, task_id: int) -> None:
    await until(lambda: any(t.id == task_id for t in win.rows), what=f"task #{task_id} listed")
    win.table.selectRow(next(i for i, t in enumerate(win.rows) if t.id == task_id))


async def test_moves_follow_the_state_machine(window, context, confirmations):
    scooter = next(r.id for r in window.model.rows if r.kind == "scooter")
    task_id = await context.tasks.create(NewTask(scooter, "battery_swap", priority="high"))
    win = window.operations.show_tasks()
    asked: list[str] = []
    win._prompt = answering("kim", asked)
    await select(win, task_id)
    assert enabled(win) == {S.ASSIGNED, S.IN_PROGRESS, S.CANCELLED}

    win.move_buttons[S.ASSIGNED].click()  # no assignee yet: the window asks for one
    await until(lambda: win.selected() and win.selected().state == "assigned", what="assigned")
    assert asked and win.selected().assignee == "kim"
    assert enabled(win) == {S.OPEN, S.IN_PROGRESS, S.CANCELLED}
    win.move_buttons[S.IN_PROGRESS].click()
    await until(lambda: win.selected().state == "in_progress", what="in progress")
    assert enabled(win) == {S.DONE, S.CANCELLED}

    confirmations.answer = False  # cancelling asks, and "Cancel" keeps the task
    win.move_buttons[S.CANCELLED].click()
    await until(lambda: confirmations.asked, what="the question")
    assert "Cancel task #" in confirmations.asked[-1] and win.selected().state == "in_progress"
    win.move_buttons[S.DONE].click()
    await until(lambda: task_id not in [t.id for t in win.rows], what="done leaves the open list")
    win.state.setCurrentIndex(win.state.findData("done"))
    await select(win, task_id)
    assert enabled(win) == set() and not win.edit_button.isEnabled()
    assert "is done" in win.message.text()


async def test_cancel_after_yes_new_task_dialog_filters_and_export(
    window, context, confirmations, tmp_path
):
    car = next(r for r in window.model.rows if r.kind == "car")
    assert window.select_vehicle(car.id)
    win = window.operations.show_tasks()
    win.new_task()

    def dialog() -> TaskDialog | None:
        found = [w for w in QApplication.topLevelWidgets() if isinstance(w, TaskDialog)]
        return next((d for d in found if d.isVisible()), None)

    await until(dialog, what="the new-task dialog")
    d = dialog()
    assert d.vehicle.currentData() == car.id  # the list's selection is preselected
    d.kind.setCurrentIndex(d.kind.findData("repair"))
    d.priority.setCurrentIndex(d.priority.findData("urgent"))
    d.assignee.setText("workshop")
    d.notes.setPlainText("brakes squeal")
    d.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok).click()
    await until(lambda: any(t.kind == "repair" for t in win.rows), what="the new task")
    [repair] = [t for t in win.rows if t.kind == "repair"]
    assert (repair.priority, repair.assignee, repair.notes) == (
        "urgent",
        "workshop",
        "brakes squeal",
    )
    assert win.rows[0].id == repair.id  # urgent first

    await select(win, repair.id)
    confirmations.answer = True
    win.move_buttons[S.CANCELLED].click()
    await until(lambda: all(t.id != repair.id for t in win.rows), what="cancelled")

    other = await context.tasks.create(NewTask(car.id, "inspection", assignee="Kim"))
    win.kind.setCurrentIndex(win.kind.findData("inspection"))
    await until(lambda: [t.id for t in win.rows] == [other], what="the kind filter")
    win.assignee.setText("nobody")
    win.assignee.editingFinished.emit()
    await until(lambda: win.rows == [], what="the assignee filter")
    win.assignee.setText("kim")
    win.assignee.editingFinished.emit()
    await until(lambda: [t.id for t in win.rows] == [other], what="case-insensitive")

    path = tmp_path / "tasks.csv"
    await win.export_csv(path)
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert [r[0] for r in rows[1:]] == [str(other)] and rows[1][3] == "inspection"
    assert "1 task(s) exported" in win.message.text()


async def test_a_viewer_sees_tasks_but_cannot_change_them(window, context):
    scooter = next(r.id for r in window.model.rows if r.kind == "scooter")
    task_id = await context.tasks.create(NewTask(scooter, "collect"))
    refusal = "ann is signed in as Viewer: working on field tasks needs the Dispatcher role"
    win = TasksWindow(context.tasks, lambda: [], refusal=refusal)
    win.reload()
    await select(win, task_id)
    assert enabled(win) == set() and not win.new_button.isEnabled()
    assert win.message.text() == refusal
    win.close()
    win.deleteLater()
