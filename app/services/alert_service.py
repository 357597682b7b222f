"""Runs the alert rules: on every telemetry commit for the vehicles it touched, and in a
periodic sweep of the whole fleet (silence and expiry happen without any new data).

``vehicles_changed`` is the telemetry writer's observer (sync, cheap: it only queues ids);
``run`` (spawn once) evaluates queued vehicles as they come and sweeps every
``alerts.sweep_interval_s``. ``listeners`` hear ``()`` after alerts changed (the inbox).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from app.config import Settings
from app.models.database import Database
from app.services.alert_store import AlertRecord, AlertRepository
from app.services.alerts import AlertChanges, AlertTracker
from app.services.rental_states import OPEN
from app.services.waking import wait_woken

logger = logging.getLogger(__name__)

OPEN_RENTAL_STATES = tuple(s.value for s in OPEN)


class AlertService:
    def __init__(
        self,
        database: Database,
        settings: Settings,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._db = database
        self._settings = settings
        self._clock = clock
        self.repository = AlertRepository(database)
        self.tracker = AlertTracker(settings.alerts)
        self.listeners: list[Callable[[], None]] = []
        self._pending: set[int] = set()
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()

    def vehicles_changed(self, vehicle_ids: Iterable[int]) -> None:
        """Telemetry writer observer: evaluate these vehicles soon."""
        self._pending.update(vehicle_ids)
        self._wake.set()

    async def evaluate(self, vehicle_ids: Iterable[int] | None = None) -> AlertChanges:
        """Evaluate ``vehicle_ids`` (None = the whole fleet) and store the changes."""
        ids = None if vehicle_ids is None else sorted(set(vehicle_ids))
        async with self._lock:  # one evaluation at a time: the tracker's memory is shared
            now = self._clock()
            open_alerts = await self._db.run(self.repository.open_alerts, ids)
            facts = await self._db.run(
                self.repository.facts,
                ids,
                self._settings.telemetry.poll_interval_s,
                OPEN_RENTAL_STATES,
            )
            changes = self.tracker.step(facts, open_alerts, now)
            if changes:
                await self._db.run(self.repository.apply, changes, now)
        if changes.new or changes.cleared:
            logger.info("alerts: %d new, %d cleared", len(changes.new), len(changes.cleared))
        if changes:
            for listener in list(self.listeners):
                try:
                    listener()
                except Exception:
                    logger.exception("alert listener failed")
        return changes

    async def acknowledge(self, alert_ids: Iterable[int], who: str) -> int:
        count = await self._db.run(self.repository.acknowledge, list(alert_ids), who, self._clock())
        for listener in list(self.listeners):
            listener()
        return count

    async def inbox(self, **filters: object) -> list[AlertRecord]:
        return await self._db.run(lambda: self.repository.inbox(**filters))  # type: ignore[arg-type]

    async def run(self) -> None:
        """Evaluate changed vehicles as they come; sweep everything periodically."""
        interval = self._settings.alerts.sweep_interval_s
        loop = asyncio.get_running_loop()
        next_sweep = loop.time()
        while True:
            timeout = max(0.0, next_sweep - loop.time())
            await wait_woken(self._wake, timeout)  # not wait_for: it can lose a cancel
            self._wake.clear()
            try:
                if loop.time() >= next_sweep:
                    self._pending.clear()
                    await self.evaluate(None)
                    next_sweep = loop.time() + interval
                elif self._pending:
                    batch, self._pending = self._pending, set()
                    await self.evaluate(batch)
            except Exception:
                logger.exception("alert evaluation failed; will retry")
