"""Wires Smartcar connections into the main window: the detail panel, the Connections
view (menu action with a shortcut) and list rows that follow every connection change.

Kept apart from main_window.py so the window gains one line, and other features can grow
the window at the same time without touching this.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QAction, QKeySequence

from app.services.access import Capability
from app.services.wiring.context import AppContext
from app.views.connection_panel import ConnectionPanel
from app.views.connections_view import ConnectionsView
from app.views.window_parts import WindowParts

logger = logging.getLogger(__name__)

CONNECTIONS_SHORTCUT = "Ctrl+Shift+C"


def without_webhooks(context: AppContext) -> str:
    """Why this process runs no webhook receiver, and so where the cars' data comes from
    ("" when it runs one, or has no Smartcar at all)."""
    if context.webhooks is not None or not context.backends.smartcar_available:
        return ""
    if context.read_only:
        return "Review: nothing arrives; this is cached telemetry."
    if context.telemetry_writer is None:
        return "Webhooks are received by the collector of the shared database."
    polled = "cars are polled within the monthly budget"
    smartcar = context.settings.smartcar
    if smartcar.api_version != "3":
        return f"API v2.0: no webhooks; {polled}."
    if not smartcar.webhooks.enabled:
        return f"Webhooks are off (smartcar.webhooks.enabled); {polled}."
    return f"No management token (FLEET_SMARTCAR_MANAGEMENT_TOKEN): no webhooks; {polled}."


class ConnectionActions(QObject):
    """Owns the panel and the view; ``panel.refresh_requested(int)`` is the poll hook."""

    def __init__(self, parts: WindowParts) -> None:
        super().__init__(parts.owner)
        self._parts = parts
        self.service = parts.context.connections
        read_only = parts.context.read_only
        self.panel = ConnectionPanel(
            self.service,
            parts.confirm,
            read_only=read_only,
            refusal=parts.context.access.refusal(Capability.CONNECT),
        )
        parts.detail.set_connection_panel(self.panel)
        self.view: ConnectionsView | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.action = QAction("Smartcar &Connections…", parts.owner)
        self.action.setObjectName("connectionsAction")
        self.action.setShortcut(QKeySequence(CONNECTIONS_SHORTCUT))
        self.action.setToolTip(
            f"Every Smartcar connection, problems first ({CONNECTIONS_SHORTCUT})"
        )
        self.action.triggered.connect(lambda _checked=False: self.open_view())
        parts.toolbar.addAction(self.action)
        self._unsubscribe = self.service.changes.subscribe(self._changed)
        parts.owner.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """On the window's close: stop the panel's work and stop following the service."""
        if watched is self._parts.owner and event.type() == QEvent.Type.Close:
            self.panel.shutdown()
            self._unsubscribe()
            for task in list(self._tasks):
                task.cancel()
        return False

    def open_view(self) -> ConnectionsView:
        """Show (or raise) the Connections view and load it."""
        if self.view is None:
            context = self._parts.context
            self.view = ConnectionsView(
                self.service,
                read_only=context.read_only,
                monthly_budget=context.settings.telemetry.monthly_request_budget,
                webhooks=context.webhooks,
                without_webhooks=without_webhooks(context),
                parent=self._parts.owner,
            )
            self.view.vehicle_chosen.connect(self._parts.fleet.select_vehicle)
        self.view.show()
        self.view.raise_()
        self.view.reload()
        return self.view

    def _changed(self, vehicle_id: int) -> None:
        """A connection changed (Connect, Disconnect, refresh, background token job)."""
        task = asyncio.ensure_future(self._refresh_row(vehicle_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _refresh_row(self, vehicle_id: int) -> None:
        row = await self._parts.context.vehicles.row(vehicle_id)
        if row is not None:
            self._parts.fleet.refresh_vehicle(row)
