"""The lists a dispatcher works from: one click each above the fleet list, with counts.

"Low battery (12)", "Offline (3)", "With open tasks (5)", "Outside zone (0)": a checked
button narrows the list to those vehicles (the other filters still apply); clicking it
again shows everything. At most one is checked. Low battery (below ``[tasks]
battery_swap_below_pct``) and Offline come from the list's own rows, so they follow live
updates; open tasks and outside-zone vehicles (open ``outside_service_area`` alerts, from
the zones) are read from the task service after the fleet is loaded, when tasks or
alerts change (coalesced; on a shared console also on another console's or the
collector's ``field_task`` notice), and every 30 s in case a notice was lost. "Map: open
tasks only" shows only the vehicles with open tasks on the fleet map.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QPushButton, QWidget

from app.models.enums import VehicleStatus
from app.models.errors import DatabaseClosed
from app.services.alerts.service import AlertService
from app.services.field_tasks.service import TaskService
from app.views.item_models.vehicle_table_model import VehicleTableModel
from app.views.lifetime import gone

logger = logging.getLogger(__name__)

COALESCE_MS = 300
SAFETY_REFRESH_MS = 30_000
LISTS = {
    "low_battery": "Low battery",
    "offline": "Offline",
    "open_tasks": "With open tasks",
    "outside_zone": "Outside zone",
}


class QuickLists(QObject):
    """Owns the buttons; ``changed`` fires when the list to show changed (the window then
    re-applies its filter with :meth:`ids`); ``refreshed`` counts completed reads."""

    changed = Signal()
    map_only_changed = Signal(object)  # frozenset[int] | None

    def __init__(
        self,
        model: VehicleTableModel,
        tasks: TaskService | None,
        alerts: AlertService,
        low_battery_pct: float,
        parent: QWidget,
    ) -> None:
        super().__init__(parent)
        self._model = model
        self._tasks = tasks
        self._low_pct = low_battery_pct
        self._sets: dict[str, frozenset[int]] = {key: frozenset() for key in LISTS}
        self.refreshed = 0
        self._task: asyncio.Task[None] | None = None
        self.widget = QWidget(parent)
        bar = QHBoxLayout(self.widget)
        bar.setContentsMargins(0, 0, 0, 0)
        self.buttons: dict[str, QPushButton] = {}
        for key, label in LISTS.items():
            button = QPushButton(label)
            button.setObjectName(f"quick_{key}")
            button.setCheckable(True)
            button.setFlat(True)
            button.clicked.connect(lambda on, k=key: self._clicked(k, on))
            bar.addWidget(button)
            self.buttons[key] = button
        self.map_open_tasks = QCheckBox("Map: open tasks only")
        self.map_open_tasks.setObjectName("mapOpenTasksOnly")
        self.map_open_tasks.toggled.connect(lambda _on: self._emit_map())
        bar.addWidget(self.map_open_tasks)
        bar.addStretch(1)
        if tasks is None:  # review mode: no task service to ask
            for key in ("open_tasks", "outside_zone"):
                self.buttons[key].setEnabled(False)
            self.map_open_tasks.setEnabled(False)
        self._recount = QTimer(self)
        self._recount.setSingleShot(True)
        self._recount.setInterval(COALESCE_MS)
        self._recount.timeout.connect(self._count_rows)
        self._soon = QTimer(self)
        self._soon.setSingleShot(True)
        self._soon.setInterval(COALESCE_MS)
        self._soon.timeout.connect(self.refresh)
        self._safety = QTimer(self)
        self._safety.setInterval(SAFETY_REFRESH_MS)
        self._safety.timeout.connect(self.refresh)
        self._safety.start()
        for signal in (model.modelReset, model.rowsInserted, model.dataChanged):
            signal.connect(lambda *_: self._recount.start())
        unsubscribe: list[Callable[[], None]] = [alerts.changes.subscribe(self._soon.start)]
        if tasks is not None:
            unsubscribe.append(tasks.changes.subscribe(self._soon.start))

        def forget(*_: object) -> None:
            for undo in unsubscribe:
                undo()

        self.widget.destroyed.connect(forget)
        self._count_rows()

    def ids(self) -> frozenset[int] | None:
        """The vehicles the checked list shows, or None when none is checked."""
        for key, button in self.buttons.items():
            if button.isChecked():
                return self._sets[key]
        return None

    def count(self, key: str) -> int:
        return len(self._sets[key])

    def _clicked(self, key: str, on: bool) -> None:
        if on:
            for other, button in self.buttons.items():
                if other != key:
                    button.setChecked(False)
        self.changed.emit()

    def _update(self, key: str, ids: frozenset[int]) -> None:
        before = self._sets[key]
        self._sets[key] = ids
        self.buttons[key].setText(f"{LISTS[key]} ({len(ids):,})")
        if ids != before and self.buttons[key].isChecked():
            self.changed.emit()
        if key == "open_tasks" and ids != before:
            self._emit_map()

    def _emit_map(self) -> None:
        on = self.map_open_tasks.isChecked()
        self.map_only_changed.emit(self._sets["open_tasks"] if on else None)

    def _count_rows(self) -> None:
        low, offline = self._low_pct, VehicleStatus.OFFLINE.value
        rows = self._model.rows
        self._update(
            "low_battery",
            frozenset(r.id for r in rows if r.battery_pct is not None and r.battery_pct < low),
        )
        self._update("offline", frozenset(r.id for r in rows if r.status == offline))

    def refresh(self) -> asyncio.Task[None] | None:
        """Re-read the vehicles with open tasks and those outside the service area (on
        the app's loop; a window shown outside it, in a plain widget test, reads nothing)."""
        if self._tasks is None:
            return None
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return None
        self._task = loop.create_task(self._refresh(self._tasks), name="quick lists")
        return self._task

    async def _refresh(self, tasks: TaskService) -> None:
        try:
            with_tasks, outside = await tasks.quick_lists()
        except DatabaseClosed:  # the console is quitting
            return
        except Exception:
            logger.exception("reading the quick lists failed")
            return
        if gone(self.widget):
            return
        self._update("open_tasks", frozenset(with_tasks))
        self._update("outside_zone", frozenset(outside))
        self.refreshed += 1
