"""The fleet list's "Alerts first" toggle: vehicles with open alerts at the top.

The set of vehicles with open alerts is read on the database thread when the toggle is
switched on and again whenever the alert service reports a change (coalesced: a burst of
changes costs one query), plus a slow safety re-read for changes made by another console
on the same database. The proxy applies it as a stable partition of its sorted order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QAbstractButton
from qasync import asyncSlot

from app.services.alerts.service import AlertService
from app.views.window_parts import FleetList

logger = logging.getLogger(__name__)

SAFETY_REFRESH_MS = 30_000
COALESCE_MS = 200


class AlertsFirst(QObject):
    """Owns the toggle's behaviour; ``refreshed`` counts completed reads (for tests)."""

    def __init__(self, fleet: FleetList, alerts: AlertService, toggle: QAbstractButton) -> None:
        super().__init__(toggle)
        self._fleet = fleet
        self._alerts = alerts
        self._toggle = toggle
        self._unsubscribe: Callable[[], None] | None = None
        self.refreshed = 0
        self._soon = QTimer(self)
        self._soon.setSingleShot(True)
        self._soon.setInterval(COALESCE_MS)
        self._soon.timeout.connect(self.refresh)
        self._safety = QTimer(self)
        self._safety.setInterval(SAFETY_REFRESH_MS)
        self._safety.timeout.connect(self.refresh)
        toggle.toggled.connect(self._toggled)

    @property
    def on(self) -> bool:
        return self._toggle.isChecked()

    def _toggled(self, on: bool) -> None:
        if on:
            if self._unsubscribe is None:
                self._unsubscribe = self._alerts.changes.subscribe(self._alerts_changed)
            self._safety.start()
            self.refresh()
            return
        self._safety.stop()
        self._soon.stop()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._show({})

    def _alerts_changed(self) -> None:
        if self.on:
            self._soon.start()

    @asyncSlot()
    async def refresh(self) -> None:
        """Re-read which vehicles have open alerts and re-partition the list."""
        try:
            worst = await self._alerts.worst_open()
        except Exception:
            logger.exception("reading the vehicles with open alerts failed")
            return
        if self.on:  # the operator may have switched it off meanwhile
            self._show(worst)
        self.refreshed += 1

    def _show(self, worst: dict[int, str]) -> None:
        fleet = self._fleet
        selected = fleet.current_vehicle_id()
        fleet.model.set_alerts(worst)
        fleet.proxy.set_priority_ids(set(worst))
        if selected is not None:
            fleet.select_vehicle(selected)
