"""The detail panel's maintenance line and the small dialog that edits the plan.

"Maintenance: due in 1,200 km / 3 weeks", "due", "overdue by 300 km" — read from the
task service (the plan and the latest odometer and oil life) whenever the selected
vehicle is shown or refreshed, and after a plan is saved. "Plan…" edits the plan: every
N km and/or every M months from the last service (odometer and date), and oil life below
a level; zero switches a criterion off. "Serviced now" sets the last service to the latest
odometer reading and today. Editing needs the fleet manager's role (Capability.VEHICLES).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from PySide6.QtCore import QDate
from PySide6.QtWidgets import (
    QCheckBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QWidget,
)
from qasync import asyncSlot

from app.models.errors import DatabaseClosed, DatabaseError
from app.models.field_tasks import Plan
from app.models.vehicles import VehicleRow
from app.services.field_tasks.service import TaskService
from app.views.dialogs import run_dialog
from app.views.lifetime import gone

logger = logging.getLogger(__name__)

NO_PLAN = "no plan"


class MaintenancePlanDialog(QDialog):
    def __init__(
        self, parent: QWidget | None, title: str, plan: Plan | None, odometer_km: float | None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("maintenancePlanDialog")
        self.setWindowTitle(f"Maintenance plan — {title}")
        plan = plan or Plan(0)
        self._odometer = odometer_km
        self.every_km = QSpinBox()
        self.every_km.setObjectName("planEveryKm")
        self.every_km.setRange(0, 1_000_000)
        self.every_km.setSingleStep(1000)
        self.every_km.setSpecialValueText("off")
        self.every_km.setSuffix(" km")
        self.every_km.setValue(int(plan.every_km or 0))
        self.every_months = QSpinBox()
        self.every_months.setObjectName("planEveryMonths")
        self.every_months.setRange(0, 120)
        self.every_months.setSpecialValueText("off")
        self.every_months.setSuffix(" months")
        self.every_months.setValue(plan.every_months or 0)
        self.last_km = QDoubleSpinBox()
        self.last_km.setObjectName("planLastKm")
        self.last_km.setRange(0, 10_000_000)
        self.last_km.setDecimals(0)
        self.last_km.setSuffix(" km")
        self.last_km.setValue(plan.last_service_km or 0)
        self.has_date = QCheckBox("on")
        self.has_date.setObjectName("planHasDate")
        self.last_date = QDateEdit()
        self.last_date.setObjectName("planLastDate")
        self.last_date.setCalendarPopup(True)
        self.last_date.setDisplayFormat("yyyy-MM-dd")
        when = plan.last_service_at
        self.last_date.setDate(
            QDate(when.year, when.month, when.day) if when else QDate.currentDate()
        )
        self.has_date.setChecked(when is not None)
        self.last_date.setEnabled(when is not None)
        self.has_date.toggled.connect(self.last_date.setEnabled)
        self.oil_below = QDoubleSpinBox()
        self.oil_below.setObjectName("planOilBelow")
        self.oil_below.setRange(0, 100)
        self.oil_below.setDecimals(0)
        self.oil_below.setSpecialValueText("off")
        self.oil_below.setSuffix(" %")
        self.oil_below.setValue(plan.oil_below_pct or 0)
        self.serviced_now = QPushButton("Serviced now")
        self.serviced_now.setObjectName("planServicedNow")
        self.serviced_now.clicked.connect(self._serviced_now)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        date_row = QHBoxLayout()
        date_row.addWidget(self.has_date)
        date_row.addWidget(self.last_date, 1)
        form = QFormLayout(self)
        form.addRow("Every", self.every_km)
        form.addRow("and/or every", self.every_months)
        form.addRow("Last service at", self.last_km)
        form.addRow("Last service on", date_row)
        form.addRow("Oil life below", self.oil_below)
        form.addRow(self.serviced_now)
        form.addRow(buttons)

    def _serviced_now(self) -> None:
        if self._odometer is not None:
            self.last_km.setValue(self._odometer)
        self.has_date.setChecked(True)
        self.last_date.setDate(QDate.currentDate())

    def plan(self, vehicle_id: int) -> Plan:
        every_km, months, oil = (
            self.every_km.value(),
            self.every_months.value(),
            self.oil_below.value(),
        )
        date = self.last_date.date()
        last_at = None
        if self.has_date.isChecked():  # noon UTC: that calendar day from UTC-11 to UTC+11
            last_at = datetime(date.year(), date.month(), date.day(), 12, tzinfo=UTC)
        return Plan(
            vehicle_id,
            every_km=float(every_km) or None,
            every_months=months or None,
            last_service_km=self.last_km.value() if every_km else None,
            last_service_at=last_at,
            oil_below_pct=oil or None,
        )


class MaintenancePanel(QWidget):
    """One line in the detail panel's Vehicle group, and the Plan… button."""

    def __init__(self, tasks: TaskService, *, refusal: str | None = None) -> None:
        super().__init__()
        self.setObjectName("maintenancePanel")
        self._tasks = tasks
        self._row: VehicleRow | None = None
        self.line = QLabel("")
        self.line.setObjectName("detail_maintenance")
        self.plan_button = QPushButton("Plan…")
        self.plan_button.setObjectName("maintenancePlanButton")
        self.plan_button.setEnabled(refusal is None)
        self.plan_button.setToolTip(refusal or "Service every N km or months, or by oil life")
        self.plan_button.clicked.connect(lambda: self.edit_plan())
        self.loaded = 0  # completed reads, for tests
        self._task: asyncio.Task[None] | None = None
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.line, 1)
        layout.addWidget(self.plan_button)
        tasks.changes.subscribe(self._reload)

    def show_vehicle(self, row: VehicleRow | None) -> None:
        self._row = row
        self.setVisible(row is not None)
        if row is not None:
            self._reload()

    def _reload(self) -> None:
        """Read the line on the app's loop (a panel shown outside it reads nothing)."""
        if self._row is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._task = loop.create_task(self._load(self._row), name="maintenance line")

    async def _load(self, row: VehicleRow) -> None:
        try:
            due = await self._tasks.maintenance(row.id)
        except DatabaseClosed:  # the console is quitting
            return
        except Exception:
            logger.exception("reading the maintenance plan of vehicle %d failed", row.id)
            return
        if gone(self) or self._row is None or self._row.id != row.id:
            return
        self.line.setText(f"Maintenance: {due.text if due else NO_PLAN}")
        colour = "#c0392b" if due and due.overdue else "#d68910" if due and due.due else ""
        self.line.setStyleSheet(f"color: {colour}; font-weight: 600" if colour else "")
        self.loaded += 1

    @asyncSlot()
    async def edit_plan(self) -> None:
        row = self._row
        if row is None or not self.plan_button.isEnabled():
            return
        plan = await self._tasks.plan(row.id)
        dialog = MaintenancePlanDialog(self, row.name, plan, row.odometer_km)
        accepted = await run_dialog(dialog) == QDialog.DialogCode.Accepted
        chosen = dialog.plan(row.id)
        dialog.deleteLater()
        if not accepted:
            return
        try:
            await self._tasks.save_plan(chosen)
        except DatabaseError as exc:
            self.line.setText(f"Plan not saved: {exc}")
