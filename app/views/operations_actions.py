"""Main-window parts of issue 7: start rental, rentals board, alert inbox, audit trail,
telemetry export, the detail panel's remote commands and the list's "Alerts first".

Each view opens its own window (kept, re-shown on the next use). Shortcuts: Ctrl+Shift+R
start a rental for the selected vehicle, Ctrl+Shift+B rentals board, Ctrl+Shift+A alerts,
Ctrl+Shift+T audit trail, Ctrl+Shift+E export the selected vehicle's telemetry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QWidget
from qasync import asyncSlot

from app.services.commands.senders import CommandOutcome
from app.views.alert_inbox import AlertInbox
from app.views.alerts_first import AlertsFirst
from app.views.audit_view import AuditView
from app.views.rental_views import RentalsBoard, RentalStartDialog
from app.views.telemetry_export_dialog import TelemetryExportDialog
from app.views.vehicle_commands_panel import VehicleCommandsPanel

if TYPE_CHECKING:
    from app.views.main_window import MainWindow

logger = logging.getLogger(__name__)


class OperationsActions:
    def __init__(self, window: MainWindow) -> None:
        self._window = window
        self._views: dict[str, QWidget] = {}
        menu = window.menuBar().addMenu("&Operations")
        specs = (
            ("start_rental", "Start &Rental…", "Ctrl+Shift+R", self.start_rental),
            ("board", "Rentals &Board", "Ctrl+Shift+B", self.show_board),
            ("alerts", "&Alerts", "Ctrl+Shift+A", self.show_alerts),
            ("audit", "Audit &Trail", "Ctrl+Shift+T", self.show_audit),
            (
                "export_telemetry",
                "Export Vehicle &Telemetry…",
                "Ctrl+Shift+E",
                self.export_telemetry,
            ),
        )
        self.actions: dict[str, QAction] = {}
        for key, text, shortcut, slot in specs:
            action = QAction(text, window)
            action.setShortcut(QKeySequence(shortcut))
            action.triggered.connect(lambda _checked=False, s=slot: s())
            menu.addAction(action)
            self.actions[key] = action
        self.actions["start_rental"].setEnabled(not window.context.read_only)
        ctx = window.context
        self.commands_panel = VehicleCommandsPanel(
            lambda: ctx.rentals,
            window.confirm,
            finished=self.refresh_row,
            read_only=ctx.read_only,
        )
        window.detail.set_commands_panel(self.commands_panel)
        self.alerts_first = AlertsFirst(window, lambda: ctx.alerts)

    def _show(self, key: str, build: Callable[[], QWidget]) -> QWidget:
        view = self._views.get(key)
        if view is None:
            view = self._views[key] = build()
            # A separate window, but owned by the main window: it goes when the console goes.
            view.setParent(self._window, Qt.WindowType.Window)
            view.resize(1000, 600)
        view.show()
        view.raise_()
        view.reload()  # type: ignore[attr-defined]
        return view

    def start_rental(self) -> RentalStartDialog | None:
        row = self._window.current_row()
        if row is None:
            self._window.statusBar().showMessage("Select a vehicle to rent first.")
            return None
        dialog = RentalStartDialog(self._window.context.rentals, row.id, row.name, self._window)
        self._views["start_rental"] = dialog
        dialog.show()
        dialog.check()
        return dialog

    def show_board(self) -> RentalsBoard:
        ctx = self._window.context
        return self._show("board", lambda: RentalsBoard(ctx.rentals, ctx.database))

    def show_alerts(self) -> AlertInbox:
        ctx = self._window.context
        who = ctx.rentals.operator
        return self._show("alerts", lambda: AlertInbox(ctx.alerts, who))

    def show_audit(self) -> AuditView:
        return self._show("audit", lambda: AuditView(self._window.context.database))

    def export_telemetry(self) -> TelemetryExportDialog | None:
        row = self._window.current_row()
        if row is None:
            self._window.statusBar().showMessage("Select a vehicle to export first.")
            return None
        dialog = TelemetryExportDialog(
            self._window.context.database, row.id, f"{row.name} [{row.fleet_number}]", self._window
        )
        self._views["export_telemetry"] = dialog
        dialog.show()
        return dialog

    @asyncSlot(int, object)
    async def refresh_row(self, vehicle_id: int, outcome: CommandOutcome) -> None:
        """Show the vehicle's row again after a command; the lock state read back from the
        car is newer than the stored one until the telemetry writer has committed it."""
        ctx = self._window.context
        try:
            row = await ctx.database.run(ctx.vehicles.repository.row, vehicle_id)
        except Exception:
            logger.exception("re-reading vehicle %d after a command failed", vehicle_id)
            return
        if row is None:
            return
        if outcome.lock is not None and outcome.lock.locked is not None:
            row = row._replace(locked=outcome.lock.locked)
        self._window.refresh_vehicle(row)
