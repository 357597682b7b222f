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

from app.views.connection_panel import ConnectionPanel
from app.views.connections_view import ConnectionsView
from app.views.window_parts import WindowParts

logger = logging.getLogger(__name__)

CONNECTIONS_SHORTCUT = "Ctrl+Shift+C"


class ConnectionActions(QObject):
    """Owns the panel and the view; ``panel.refresh_requested(int)`` is the poll hook."""

    def __init__(self, parts: WindowParts) -> None:
        super().__init__(parts.owner)
        self._parts = parts
        self.service = parts.context.connections
        read_only = parts.context.read_only
        self.panel = ConnectionPanel(self.service, parts.confirm, read_only=read_only)
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
