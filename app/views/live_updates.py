"""Keeps the list, the detail panel and the map current while telemetry arrives.

The telemetry writer (Smartcar polls and IoT frames alike) reports which vehicles it just
committed; the cron reports polling-state changes. Both only name vehicle ids. Ids are
collected for a quarter of a second, then their rows are read in one query on the
database thread and handed to ``MainWindow.refresh_vehicle``: 10,000 scooters reporting
at once become a few list updates per second, never a flood of repaints.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from PySide6.QtCore import QObject, QTimer

from app.models.errors import DatabaseClosed
from app.services.vehicles.service import VehicleService
from app.views.window_parts import FleetList

logger = logging.getLogger(__name__)

COALESCE_MS = 250


class LiveUpdates(QObject):
    """Collects changed vehicle ids and refreshes their rows in the window, coalesced."""

    def __init__(self, fleet: FleetList, vehicles: VehicleService) -> None:
        super().__init__()
        self._fleet = fleet
        self._vehicles = vehicles
        self._pending: set[int] = set()
        self._task: asyncio.Task[None] | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(COALESCE_MS)
        self._timer.timeout.connect(self._flush)
        self.refreshed = 0  # rows refreshed so far (for tests and the status bar)

    def vehicles_changed(self, vehicle_ids: Iterable[int]) -> None:
        """Called from the loop thread by the writer, the cron, or a change feed."""
        self._pending.update(vehicle_ids)
        if self._pending and not self._timer.isActive():
            self._timer.start()

    def vehicle_changed(self, vehicle_id: int) -> None:
        self.vehicles_changed((vehicle_id,))

    def _flush(self) -> None:
        if self._task is not None and not self._task.done():
            self._timer.start()  # the previous read is still running: try again shortly
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # the timer fired after the loop stopped (quitting): no refresh,
            return  # and no coroutine left "never awaited"
        ids, self._pending = self._pending, set()
        self._task = loop.create_task(self._refresh(ids), name="live updates")

    async def _refresh(self, ids: set[int]) -> None:
        try:
            rows = await self._vehicles.rows_by_id(ids)
        except DatabaseClosed:
            return  # quitting (or a test's teardown): nothing is left to show
        except Exception:
            logger.exception(
                "reading %d changed vehicles failed; they refresh on next change", len(ids)
            )
            return
        for row in rows:
            if row.archived and not self._fleet.show_archived():
                continue
            self._fleet.refresh_vehicle(row)
        self.refreshed += len(rows)
