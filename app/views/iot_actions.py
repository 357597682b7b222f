"""Puts the IoT views into the main window: device panel and the "Unknown devices" view.

Kept out of main_window.py (the window builds one ``IotActions`` with its parts). IoT telemetry
reaches the list, the panel and the map like any telemetry: the writer's observer feeds
``LiveUpdates`` (main.py); only a claim, which commits no telemetry, refreshes its row here.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence
from qasync import asyncSlot

from app.services.access import Capability
from app.services.iot.runtime import IotRuntime
from app.services.wiring.context import Mode
from app.views.iot_device_panel import IotDevicePanel
from app.views.iot_unknown_dialog import UnknownDevicesDialog
from app.views.window_parts import WindowParts

logger = logging.getLogger(__name__)

UNKNOWN_DEVICES_SHORTCUT = "Ctrl+Shift+U"


class IotActions(QObject):
    """Owns the IoT parts of one main window."""

    def __init__(self, parts: WindowParts) -> None:
        super().__init__(parts.owner)
        self._parts = parts
        self.context = parts.context
        self.panel = IotDevicePanel(
            self.runtime,
            self.context.iot,
            parts.confirm,
            read_only=self.context.read_only,
            refusal=self.context.access.refusal(Capability.COMMAND),
            through_collector=self.context.mode is Mode.SHARED,
        )
        self.panel.preconditions = self._command_refusal
        parts.detail.set_iot_panel(self.panel)
        self.dialog: UnknownDevicesDialog | None = None

        self.unknown_action = QAction("Unknown &Devices…", parts.owner)
        self.unknown_action.setObjectName("unknownDevicesAction")
        self.unknown_action.setShortcut(QKeySequence(UNKNOWN_DEVICES_SHORTCUT))
        self.unknown_action.setToolTip(
            f"Devices that reported but belong to no vehicle ({UNKNOWN_DEVICES_SHORTCUT})"
        )
        self.unknown_action.triggered.connect(lambda _c=False: self.show_unknown_devices())
        parts.toolbar.addAction(self.unknown_action)
        parts.owner.addAction(self.unknown_action)

    async def _command_refusal(self, vehicle_id: int, action: str, reason: str) -> str | None:
        return await self.context.rentals.command_refusal(vehicle_id, action, reason)

    def runtime(self) -> IotRuntime | None:
        return self.context.iot.current

    def show_unknown_devices(self) -> UnknownDevicesDialog:
        if self.dialog is None:
            self.dialog = UnknownDevicesDialog(self.context, self.runtime, self._parts.owner)
            self.dialog.claimed.connect(self.refresh_row)
        self.dialog.show()
        self.dialog.raise_()
        self.dialog.reload()
        return self.dialog

    @asyncSlot(int)
    async def refresh_row(self, vehicle_id: int) -> None:
        """Show a vehicle a device was just claimed into (its connection changed)."""
        try:
            row = await self.context.vehicles.row(vehicle_id)
        except Exception:
            logger.exception("re-reading vehicle %s failed", vehicle_id)
            return
        if row is not None:
            self._parts.fleet.refresh_vehicle(row)
