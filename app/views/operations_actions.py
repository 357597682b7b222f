"""Main-window parts of issue 7: start rental, rentals board, alert inbox, audit trail,
telemetry export, the detail panel's remote commands and the list's "Alerts first".

Each view opens its own window (kept, re-shown on the next use). Shortcuts: Ctrl+Shift+R
start a rental for the selected vehicle, Ctrl+Shift+B rentals board, Ctrl+Shift+A alerts,
Ctrl+Shift+T audit trail, Ctrl+Shift+E export the selected vehicle's telemetry,
Ctrl+Shift+M the Administration window (shared mode, administrators), Ctrl+Shift+K the
field tasks, Ctrl+Shift+N the Notifications window (where this process sends them; the
desktop channel is attached here) (issue #19).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar, cast

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import QAbstractButton, QDialog, QMenu, QWidget
from qasync import asyncSlot

from app.services.access import Capability
from app.services.commands.senders import CommandOutcome
from app.services.notifications.channels import workstation
from app.services.wiring.context import Mode
from app.views.administration import AdministrationWindow
from app.views.alert_inbox import AlertInbox
from app.views.alerts_first import AlertsFirst
from app.views.audit_view import AuditView
from app.views.lifetime import gone
from app.views.maintenance_panel import MaintenancePanel
from app.views.notification_tray import TrayChannel
from app.views.notifications_window import NotificationsWindow
from app.views.rental_views import RentalsBoard, RentalStartDialog
from app.views.tasks_window import TasksWindow
from app.views.telemetry_export_dialog import TelemetryExportDialog
from app.views.vehicle_commands_panel import VehicleCommandsPanel
from app.views.window_parts import WindowParts
from app.views.window_state import window_state

logger = logging.getLogger(__name__)

#: The window-state group where each operations window (Tasks, Alerts, ...) is remembered.
WINDOWS_GROUP = "windows"
#: Closes an operations window (Ctrl+W everywhere: the platform's own "Close" differs).
CLOSE_WINDOW = "Ctrl+W"

View = TypeVar("View", bound=QWidget)


class OperationsActions:
    def __init__(self, parts: WindowParts, menu: QMenu, alerts_first: QAbstractButton) -> None:
        """``menu`` is the window's Operations menu, ``alerts_first`` its list toggle."""
        self._parts = parts
        self._views: dict[str, QWidget] = {}
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
            ("administration", "Ad&ministration…", "Ctrl+Shift+M", self.show_administration),
            ("tasks", "Field Tas&ks", "Ctrl+Shift+K", self.show_tasks),
            ("notifications", "&Notifications", "Ctrl+Shift+N", self.show_notifications),
        )
        self.actions: dict[str, QAction] = {}
        for key, text, shortcut, slot in specs:
            action = QAction(text, parts.owner)
            action.setShortcut(QKeySequence(shortcut))
            action.triggered.connect(lambda _checked=False, s=slot: s())
            menu.addAction(action)
            self.actions[key] = action
        ctx = parts.context
        admin_refusal = self._administration_refusal()
        self.actions["administration"].setEnabled(admin_refusal is None)
        self.actions["administration"].setToolTip(admin_refusal or "")
        notifications_refusal = self._notifications_refusal()
        self.actions["notifications"].setEnabled(notifications_refusal is None)
        self.actions["notifications"].setToolTip(notifications_refusal or "")
        if ctx.notifications is not None:  # alerts as tray messages on this workstation
            signed_in = ctx.access.signed_in
            here = workstation(None if signed_in is None else signed_in.login)
            detach = ctx.notifications.attach(TrayChannel(parts.owner, here))
            parts.owner.destroyed.connect(lambda _obj=None: detach())
        rental_refusal = ctx.access.refusal(Capability.RENTAL)
        self.actions["start_rental"].setEnabled(rental_refusal is None)
        self.actions["start_rental"].setToolTip(rental_refusal or "")
        self.commands_panel = VehicleCommandsPanel(
            lambda: ctx.rentals,
            parts.confirm,
            finished=self.refresh_row,
            read_only=ctx.read_only,
            refusal=ctx.access.refusal(Capability.COMMAND),
            iot_through_collector=ctx.mode is Mode.SHARED,
        )
        parts.detail.set_commands_panel(self.commands_panel)
        if ctx.tasks is not None:
            self.maintenance_panel = MaintenancePanel(
                ctx.tasks, refusal=ctx.access.refusal(Capability.VEHICLES)
            )
            parts.detail.set_maintenance_panel(self.maintenance_panel)
        self.alerts_first = AlertsFirst(parts.fleet, ctx.alerts, alerts_first)

    def _show(self, key: str, build: Callable[[], View]) -> View:
        view = self._views.get(key)
        if view is None or gone(view):  # never opened, or closed and deleted since
            view = self._views[key] = build()
            # A separate window, but owned by the main window: it goes when the console goes.
            view.setParent(self._parts.owner, Qt.WindowType.Window)
            saved = window_state(self._parts.context.paths).value(f"{WINDOWS_GROUP}/{key}")
            if saved is None or not view.restoreGeometry(saved):
                view.resize(1000, 600)
            QShortcut(QKeySequence(CLOSE_WINDOW), view, view.close)
        view.show()
        view.raise_()
        view.reload()  # type: ignore[attr-defined]
        return cast(View, view)  # each key is only ever built by the one ``build`` it comes with

    def save_state(self, settings: QSettings) -> None:
        """Where each window opened in this session was, for the next start (with the main
        window's own state, when the console quits)."""
        for key, view in self._views.items():
            if not gone(view) and view.isWindow() and not isinstance(view, QDialog):
                settings.setValue(f"{WINDOWS_GROUP}/{key}", view.saveGeometry())

    def start_rental(self) -> RentalStartDialog | None:
        if not self.actions["start_rental"].isEnabled():  # review mode, or the role lacks it
            return None
        row = self._parts.fleet.current_row()
        if row is None:
            self._parts.show_message("Select a vehicle to rent first.")
            return None
        dialog = RentalStartDialog(self._parts.context.rentals, row.id, row.name, self._parts.owner)
        self._views["start_rental"] = dialog
        dialog.show()
        dialog.check()
        return dialog

    def show_board(self) -> RentalsBoard:
        ctx = self._parts.context
        return self._show("board", lambda: RentalsBoard(ctx.rentals, ctx.exports))

    def show_alerts(self) -> AlertInbox:
        ctx = self._parts.context
        who = ctx.rentals.operator
        refusal = ctx.access.refusal(Capability.ACKNOWLEDGE)
        return self._show("alerts", lambda: AlertInbox(ctx.alerts, who, refusal=refusal))

    def _administration_refusal(self) -> str | None:
        people = self._parts.context.people
        if people is None or not people.available:
            return "A single-user database has no people to manage (shared mode only)"
        return self._parts.context.access.refusal(Capability.PEOPLE)

    def show_administration(self) -> AdministrationWindow | None:
        people = self._parts.context.people
        if people is None or self._administration_refusal() is not None:
            return None
        confirm = self._parts.confirm
        return self._show("administration", lambda: AdministrationWindow(people, confirm))

    def show_tasks(self) -> TasksWindow | None:
        ctx = self._parts.context
        tasks = ctx.tasks
        if tasks is None:
            return None
        fleet = self._parts.fleet
        refusal = ctx.access.refusal(Capability.TASKS)

        def vehicles() -> list[tuple[int, str]]:
            return [(r.id, f"{r.name} [{r.fleet_number}]") for r in fleet.model.rows]

        return self._show(
            "tasks",
            lambda: TasksWindow(
                tasks,
                vehicles,
                current_vehicle=fleet.current_vehicle_id,
                refusal=refusal,
                confirm=self._parts.confirm,
            ),
        )

    def _notifications_refusal(self) -> str | None:
        ctx = self._parts.context
        if ctx.notifications is not None:
            return None
        return "Review mode sends no notifications"  # every other mode has a dispatcher

    def show_notifications(self) -> NotificationsWindow | None:
        ctx = self._parts.context
        dispatcher = ctx.notifications
        if dispatcher is None:
            return None
        refusal = ctx.access.refusal(Capability.NOTIFICATIONS)
        return self._show("notifications", lambda: NotificationsWindow(dispatcher, refusal=refusal))

    def show_audit(self) -> AuditView:
        ctx = self._parts.context
        return self._show("audit", lambda: AuditView(ctx.audit, ctx.exports))

    def export_telemetry(self) -> TelemetryExportDialog | None:
        row = self._parts.fleet.current_row()
        if row is None:
            self._parts.show_message("Select a vehicle to export first.")
            return None
        dialog = TelemetryExportDialog(
            self._parts.context.exports,
            row.id,
            f"{row.name} [{row.fleet_number}]",
            self._parts.owner,
        )
        self._views["export_telemetry"] = dialog
        dialog.show()
        return dialog

    @asyncSlot(int, object)
    async def refresh_row(self, vehicle_id: int, outcome: CommandOutcome) -> None:
        """Show the vehicle's row again after a command; the lock state read back from the
        car is newer than the stored one until the telemetry writer has committed it."""
        ctx = self._parts.context
        try:
            row = await ctx.vehicles.row(vehicle_id)
        except Exception:
            logger.exception("re-reading vehicle %d after a command failed", vehicle_id)
            return
        if row is None:
            return
        if outcome.lock is not None and outcome.lock.locked is not None:
            row = row._replace(locked=outcome.lock.locked)
        self._parts.fleet.refresh_vehicle(row)
