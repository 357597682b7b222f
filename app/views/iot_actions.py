"""Puts the IoT views into the main window: device panel and the "Unknown devices" view.

Kept out of main_window.py (the window calls ``IotActions(self)`` once). IoT telemetry
reaches the list, the panel and the map like any telemetry: the writer's observer feeds
``LiveUpdates`` (main.py); only a claim, which commits no telemetry, refreshes its row here.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QToolBar
from qasync import asyncSlot

from app.services.iot.runtime import IotRuntime
from app.views.iot_device_panel import IotDevicePanel
from app.views.iot_unknown_dialog import UnknownDevicesDialog

if TYPE_CHECKING:
    from app.views.main_window import MainWindow

logger = logging.getLogger(__name__)

UNKNOWN_DEVICES_SHORTCUT = "Ctrl+Shift+U"


class IotActions(QObject):
    """Owns the IoT parts of one main window."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.context = window.context
        self.panel = IotDevicePanel(self.runtime, self.context.database, window.confirm)
        self.panel.preconditions = self._command_refusal
        window.detail.set_iot_panel(self.panel)
        self.dialog: UnknownDevicesDialog | None = None

        self.unknown_action = QAction("Unknown &Devices…", window)
        self.unknown_action.setObjectName("unknownDevicesAction")
        self.unknown_action.setShortcut(QKeySequence(UNKNOWN_DEVICES_SHORTCUT))
        self.unknown_action.setToolTip(
            f"Devices that reported but belong to no vehicle ({UNKNOWN_DEVICES_SHORTCUT})"
        )
        self.unknown_action.triggered.connect(lambda _c=False: self.show_unknown_devices())
        toolbar = window.findChild(QToolBar, "vehicleToolbar")
        if toolbar is not None:
            toolbar.addAction(self.unknown_action)
        window.addAction(self.unknown_action)

    async def _command_refusal(self, vehicle_id: int, action: str, reason: str) -> str | None:
        return await self.context.rentals.command_refusal(vehicle_id, action, reason)

    def runtime(self) -> IotRuntime | None:
        return self.context.iot.current

    def show_unknown_devices(self) -> UnknownDevicesDialog:
        if self.dialog is None:
            self.dialog = UnknownDevicesDialog(self.context, self.runtime, self.window)
            self.dialog.claimed.connect(self.refresh_row)
        self.dialog.show()
        self.dialog.raise_()
        self.dialog.reload()
        return self.dialog

    @asyncSlot(int)
    async def refresh_row(self, vehicle_id: int) -> None:
        """Show a vehicle a device was just claimed into (its connection changed)."""
        try:
            row = await self.context.database.run(self.context.vehicles.repository.row, vehicle_id)
        except Exception:
            logger.exception("re-reading vehicle %s failed", vehicle_id)
            return
        if row is not None:
            self.window.refresh_vehicle(row)
