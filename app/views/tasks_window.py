"""The Tasks window (Operations → Tasks, Ctrl+Shift+K): field tasks for the street.

Open tasks first, most urgent and soonest due first; filters by state, kind and assignee.
New and Edit open a small dialog; the state buttons follow the state machine
(app.services.field_tasks.states) for the selected task, so only legal moves can be
clicked, and the service still refuses an illegal one with the reason (another
workstation may have moved the task meanwhile). Cancelling asks first. Export CSV writes
what the table lists. A dispatcher's role is needed to change anything (Capability.TASKS).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from PySide6.QtCore import QDateTime, QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QCompleter,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from qasync import asyncSlot

from app.models.errors import DatabaseError
from app.models.field_tasks import DuplicateOpenTask, NewTask, TaskRecord
from app.services.field_tasks.service import TaskService
from app.services.field_tasks.states import (
    KIND_LABELS,
    LABELS,
    OPEN_STATES,
    IllegalTaskTransition,
    TaskPriority,
    TaskState,
    next_states,
)
from app.views.dialogs import Confirm, Prompt, ask, ask_text, run_dialog
from app.views.lifetime import gone
from app.views.ops_tables import ask_csv_path, fill, make_table
from app.views.rental_views import _when

HEADERS = ["Priority", "Vehicle", "Task", "State", "Due", "Assignee", "Why", "Notes", "By"]
#: The button of each target state, in the order next_states gives them.
MOVE_LABELS = {
    TaskState.OPEN: "Back to Open",
    TaskState.ASSIGNED: "Assign",
    TaskState.IN_PROGRESS: "Start",
    TaskState.DONE: "Done",
    TaskState.CANCELLED: "Cancel Task…",
}
OPEN_FILTER = "__open__"
SAFETY_REFRESH_MS = 30_000
Vehicles = Callable[[], list[tuple[int, str]]]


def _label(value: str, labels: dict) -> str:
    return next((v for k, v in labels.items() if k.value == value), value)


class TaskDialog(QDialog):
    """A new task (vehicle and kind chosen) or an edit (priority, due, assignee, notes)."""

    def __init__(
        self,
        parent: QWidget | None,
        vehicles: list[tuple[int, str]],
        suggestions: list[str],
        *,
        task: TaskRecord | None = None,
        vehicle_id: int | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("taskDialog")
        self.setWindowTitle("New task" if task is None else f"Task #{task.id}")
        self.vehicle = QComboBox()
        self.vehicle.setObjectName("taskVehicle")
        for vid, label in vehicles:
            self.vehicle.addItem(label, vid)
        chosen = task.vehicle_id if task else vehicle_id
        if chosen is not None and self.vehicle.findData(chosen) >= 0:
            self.vehicle.setCurrentIndex(self.vehicle.findData(chosen))
        self.kind = QComboBox()
        self.kind.setObjectName("taskKind")
        for kind, label in KIND_LABELS.items():
            self.kind.addItem(label, kind.value)
        self.priority = QComboBox()
        self.priority.setObjectName("taskPriority")
        for p in TaskPriority:
            self.priority.addItem(p.value.capitalize(), p.value)
        self.priority.setCurrentIndex(self.priority.findData(TaskPriority.NORMAL.value))
        self.has_due = QCheckBox("Due by")
        self.has_due.setObjectName("taskHasDue")
        self.due = QDateTimeEdit(QDateTime.currentDateTime().addSecs(4 * 3600))
        self.due.setObjectName("taskDue")
        self.due.setCalendarPopup(True)
        self.due.setDisplayFormat("yyyy-MM-dd HH:mm")
        self.due.setEnabled(False)
        self.has_due.toggled.connect(self.due.setEnabled)
        self.assignee = QLineEdit()
        self.assignee.setObjectName("taskAssignee")
        self.assignee.setCompleter(QCompleter(suggestions, self))
        self.notes = QPlainTextEdit()
        self.notes.setObjectName("taskNotes")
        if task is not None:
            self.vehicle.setEnabled(False)
            self.kind.setCurrentIndex(self.kind.findData(task.kind))
            self.kind.setEnabled(False)
            self.priority.setCurrentIndex(max(0, self.priority.findData(task.priority)))
            if task.due_at is not None:
                self.has_due.setChecked(True)
                self.due.setDateTime(QDateTime.fromSecsSinceEpoch(int(task.due_at.timestamp())))
            self.assignee.setText(task.assignee)
            self.notes.setPlainText(task.notes)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        due_row = QHBoxLayout()
        due_row.addWidget(self.has_due)
        due_row.addWidget(self.due, 1)
        form = QFormLayout(self)
        form.addRow("Vehicle", self.vehicle)
        form.addRow("Task", self.kind)
        form.addRow("Priority", self.priority)
        form.addRow("Due", due_row)
        form.addRow("Assignee", self.assignee)
        form.addRow("Notes", self.notes)
        form.addRow(buttons)

    def due_at(self) -> datetime | None:
        if not self.has_due.isChecked():
            return None
        return datetime.fromtimestamp(self.due.dateTime().toSecsSinceEpoch(), UTC)

    def new_task(self) -> NewTask:
        return NewTask(
            vehicle_id=int(self.vehicle.currentData()),
            kind=str(self.kind.currentData()),
            priority=str(self.priority.currentData()),
            due_at=self.due_at(),
            assignee=self.assignee.text(),
            notes=self.notes.toPlainText(),
        )


class TasksWindow(QWidget):
    def __init__(
        self,
        tasks: TaskService,
        vehicles: Vehicles,
        *,
        current_vehicle: Callable[[], int | None] = lambda: None,
        refusal: str | None = None,
        confirm: Confirm = ask,
        prompt: Prompt = ask_text,
        parent: QWidget | None = None,
    ) -> None:
        """``vehicles()`` lists (id, label) for a new task; ``refusal`` says why the
        signed-in person may not change tasks (None: they may)."""
        super().__init__(parent)
        self.setObjectName("tasksWindow")
        self.setWindowTitle("Field tasks")
        self._tasks = tasks
        self._vehicles = vehicles
        self._current_vehicle = current_vehicle
        self._refusal = refusal
        self._confirm = confirm
        self._prompt = prompt
        self.rows: list[TaskRecord] = []
        self.state = QComboBox()
        self.state.setObjectName("taskStateFilter")
        self.state.addItem("Open tasks", OPEN_FILTER)
        self.state.addItem("All tasks", None)
        for s in TaskState:
            self.state.addItem(LABELS[s], s.value)
        self.kind = QComboBox()
        self.kind.setObjectName("taskKindFilter")
        self.kind.addItem("All kinds", None)
        for k, label in KIND_LABELS.items():
            self.kind.addItem(label, k.value)
        self.assignee = QLineEdit()
        self.assignee.setObjectName("taskAssigneeFilter")
        self.assignee.setPlaceholderText("Assignee")
        self.assignee.setClearButtonEnabled(True)
        self.new_button = QPushButton("New Task…")
        self.edit_button = QPushButton("Edit…")
        self.export_button = QPushButton("Export CSV…")
        self.move_buttons: dict[TaskState, QPushButton] = {}
        for target, text in MOVE_LABELS.items():
            button = QPushButton(text)
            button.setObjectName(f"move_{target.value}")
            button.clicked.connect(lambda _c=False, t=target: self.move(t))
            self.move_buttons[target] = button
        self.new_button.clicked.connect(lambda: self.new_task())
        self.edit_button.clicked.connect(lambda: self.edit_task())
        self.export_button.clicked.connect(lambda: self.export_csv(None))
        self.count = QLabel("")
        self.message = QLabel(refusal or "")
        self.message.setObjectName("tasksMessage")
        self.message.setWordWrap(True)
        self.table = make_table(HEADERS, "taskTable")
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.doubleClicked.connect(lambda _i: self.edit_task())
        self.state.currentIndexChanged.connect(lambda *_: self.reload())
        self.kind.currentIndexChanged.connect(lambda *_: self.reload())
        self.assignee.editingFinished.connect(lambda: self.reload())
        filters = QHBoxLayout()
        for w in (self.state, self.kind, self.assignee, self.count):
            filters.addWidget(w)
        filters.addStretch(1)
        filters.addWidget(self.export_button)
        actions = QHBoxLayout()
        actions.addWidget(self.new_button)
        actions.addWidget(self.edit_button)
        for button in self.move_buttons.values():
            actions.addWidget(button)
        actions.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addLayout(actions)
        layout.addWidget(self.table)
        layout.addWidget(self.message)
        tasks.changes.subscribe(self.reload)
        # Tasks another console (or the collector's rules) wrote arrive as change-feed
        # notices (shared_feed fires ``tasks.changes``); this re-read catches any lost one.
        self._safety = QTimer(self)
        self._safety.setInterval(SAFETY_REFRESH_MS)
        self._safety.timeout.connect(lambda: self.reload() if self.isVisible() else None)
        self._safety.start()
        self._update_buttons()

    def selected(self) -> TaskRecord | None:
        rows = self.table.selectionModel().selectedRows()
        return self.rows[rows[0].row()] if rows and rows[0].row() < len(self.rows) else None

    def _update_buttons(self) -> None:
        allowed = self._refusal is None
        task = self.selected()
        legal = set(next_states(task.state)) if task is not None else set()
        self.new_button.setEnabled(allowed)
        self.edit_button.setEnabled(allowed and task is not None and task.is_open)
        for target, button in self.move_buttons.items():
            button.setEnabled(allowed and target in legal)
            button.setToolTip(self._refusal or "")

    @asyncSlot()
    async def reload(self) -> None:
        chosen = self.state.currentData()
        states = [s.value for s in OPEN_STATES] if chosen == OPEN_FILTER else None
        if chosen not in (OPEN_FILTER, None):
            states = [chosen]
        selected = self.selected()
        try:
            records = await self._tasks.tasks(
                states=states, kind=self.kind.currentData(), assignee=self.assignee.text() or None
            )
        except DatabaseError as exc:
            self.message.setText(f"Cannot list tasks: {exc}")
            return
        if gone(self):
            return
        self.rows = records
        fill(
            self.table,
            [
                (
                    t.id,
                    [
                        t.priority.capitalize(),
                        f"{t.vehicle_name} [{t.fleet_number}]",
                        _label(t.kind, KIND_LABELS),
                        _label(t.state, LABELS),
                        _when(t.due_at),
                        t.assignee,
                        t.reason,
                        t.notes.splitlines()[0] if t.notes else "",
                        t.created_by or "",
                    ],
                )
                for t in records
            ],
        )
        if selected is not None:
            for i, t in enumerate(records):
                if t.id == selected.id:
                    self.table.selectRow(i)
        self.count.setText(f"{len(records)} task(s)")
        self._update_buttons()

    async def _dialog(self, task: TaskRecord | None) -> TaskDialog | None:
        suggestions = await self._tasks.assignee_suggestions()
        dialog = TaskDialog(
            self, self._vehicles(), suggestions, task=task, vehicle_id=self._current_vehicle()
        )
        accepted = await run_dialog(dialog) == QDialog.DialogCode.Accepted
        dialog.deleteLater()
        return dialog if accepted else None

    @asyncSlot()
    async def new_task(self) -> None:
        if not self.new_button.isEnabled():
            return
        dialog = await self._dialog(None)
        if dialog is None:
            return
        try:
            task_id = await self._tasks.create(dialog.new_task())
        except (DuplicateOpenTask, DatabaseError) as exc:
            self.message.setText(f"Not created: {exc}")
            return
        self.message.setText(f"Task #{task_id} created.")

    @asyncSlot()
    async def edit_task(self) -> None:
        task = self.selected()
        if task is None or not self.edit_button.isEnabled():
            return
        dialog = await self._dialog(task)
        if dialog is None:
            return
        try:
            await self._tasks.edit(
                task.id,
                priority=str(dialog.priority.currentData()),
                due_at=dialog.due_at(),
                assignee=dialog.assignee.text(),
                notes=dialog.notes.toPlainText(),
            )
        except DatabaseError as exc:
            self.message.setText(f"Not saved: {exc}")
            return
        self.message.setText(f"Task #{task.id} saved.")

    @asyncSlot(object)
    async def move(self, target: TaskState) -> None:
        task = self.selected()
        if task is None or not self.move_buttons[target].isEnabled():
            return
        what = f"{_label(task.kind, KIND_LABELS)} for {task.vehicle_name}"
        if target is TaskState.CANCELLED and not await self._confirm(
            self, "Cancel task", f"Cancel task #{task.id} ({what})? It cannot be reopened."
        ):
            return
        try:
            if target is TaskState.ASSIGNED and not task.assignee.strip():
                name = await self._prompt(self, "Assign task", f"Who takes {what}?")
                if not name or not name.strip():
                    return
                await self._tasks.edit(
                    task.id,
                    priority=task.priority,
                    due_at=task.due_at,
                    assignee=name,
                    notes=task.notes,
                )
            state = await self._tasks.move(task.id, target)
        except (IllegalTaskTransition, DatabaseError) as exc:
            self.message.setText(f"Not changed: {exc}")
            return
        self.message.setText(f"Task #{task.id} is {LABELS[state].lower()}.")

    @asyncSlot(object)
    async def export_csv(self, path: Path | None) -> None:
        path = path or await ask_csv_path(self, "tasks.csv")
        if path is None:
            return
        try:
            count = await self._tasks.export_csv(path, list(self.rows))
        except OSError as exc:
            self.message.setText(f"Not exported: {exc}")
            return
        self.message.setText(f"{count} task(s) exported to {path}.")
