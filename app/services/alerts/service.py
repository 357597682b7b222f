"""Runs the alert rules: on every telemetry commit for the vehicles it touched, and in a
periodic sweep of the whole fleet (silence and expiry happen without any new data).

``vehicles_changed`` is the telemetry writer's observer (sync, cheap: it only queues ids);
the rental service calls it too when a rental starts or ends. ``run`` (spawn once)
evaluates queued vehicles as they come and sweeps every ``alerts.sweep_interval_s``.
``changes`` hear ``()`` after alerts changed (the inbox); ``raised`` hear the new alerts
themselves, with their ids, after they are stored (notifications outside the console).

Each evaluation first brings the vehicles' status up to date (app.services.vehicles.status,
from the same facts, so alerts see the new status): only changed statuses are written,
one UPDATE per change, and ``status_changes`` hear their vehicle ids (the fleet list
and the map, through the window's live updates).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime

from app.config import Settings
from app.integrations.smartcar.client import snapshot_kinds
from app.listeners import Listeners
from app.models.alerts import (
    AlertChanges,
    AlertRecord,
    AlertRepository,
    OpenAlert,
    VehicleFacts,
)
from app.models.database import Database
from app.models.vehicles import VehicleRepository
from app.services.alerts.rules import AlertTracker
from app.services.rentals.states import OPEN
from app.services.vehicles import status as vehicle_status
from app.services.waking import VehicleQueue

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
        self.changes: Listeners[[]] = Listeners("alert changes")
        self.raised: Listeners[[list[OpenAlert]]] = Listeners("alerts raised")
        self.status_changes: Listeners[[Iterable[int]]] = Listeners("vehicle statuses")
        self._vehicles = VehicleRepository(database)
        self._watched_since = clock()  # silence is counted from here at the earliest
        self._seen_locked: set[int] = set()
        self._lock_history_read: set[int] = set()
        self._queue = VehicleQueue()
        self._lock = asyncio.Lock()

    def vehicles_changed(self, vehicle_ids: Iterable[int]) -> None:
        """Telemetry writer observer: evaluate these vehicles soon."""
        self._queue.add(vehicle_ids)

    async def evaluate(self, vehicle_ids: Iterable[int] | None = None) -> AlertChanges:
        """Evaluate ``vehicle_ids`` (None = the whole fleet) and store the changes."""
        ids = None if vehicle_ids is None else sorted(set(vehicle_ids))
        async with self._lock:  # one evaluation at a time: the tracker's memory is shared
            now = self._clock()
            open_alerts = await self._db.run(self.repository.open_alerts, ids)
            facts = await self._db.run(
                self.repository.facts, ids, self._smartcar_interval, OPEN_RENTAL_STATES
            )
            facts = [replace(f, watched_since=self._watched_since) for f in facts]
            facts = await self._update_statuses(facts, now)
            facts = await self._with_lock_history(facts)
            changes = self.tracker.step(facts, open_alerts, now)
            if changes:
                await self._db.run(self.repository.apply, changes, now)
        if changes.new or changes.cleared:
            logger.info("alerts: %d new, %d cleared", len(changes.new), len(changes.cleared))
        if changes.new:
            self.raised.notify(changes.new)
        if changes:
            self.changes.notify()
        return changes

    async def _update_statuses(
        self, facts: list[VehicleFacts], now: datetime
    ) -> list[VehicleFacts]:
        """Write the statuses that changed; the facts with the status now stored."""
        wanted = vehicle_status.changes(
            {f.vehicle_id: _status_facts(f) for f in facts},
            self._settings.status.discharged_below_pct,
            now,
        )
        if not wanted:
            return facts
        written = await self._db.run(self._vehicles.set_statuses, wanted)
        if written:
            logger.info("vehicle status changed for %d vehicle(s)", len(written))
            self.status_changes.notify(written)
        return [
            replace(f, status=wanted[f.vehicle_id][1]) if f.vehicle_id in written else f
            for f in facts
        ]

    async def _with_lock_history(self, facts: list[VehicleFacts]) -> list[VehicleFacts]:
        """Mark the vehicles ever seen locked; the stored history is read once per vehicle,
        after that each evaluation's readings keep the memory current."""
        self._seen_locked.update(f.vehicle_id for f in facts if f.locked)
        unread = [
            f.vehicle_id
            for f in facts
            if f.locked is False
            and not f.in_rental
            and f.vehicle_id not in self._seen_locked
            and f.vehicle_id not in self._lock_history_read
        ]
        if unread:
            self._seen_locked |= await self._db.run(self.repository.ever_locked, unread)
            self._lock_history_read.update(unread)
        return [replace(f, ever_locked=f.vehicle_id in self._seen_locked) for f in facts]

    def _smartcar_interval(
        self,
        used: int,
        month: str,
        heard: datetime | None,
        powertrain: str | None,
        scopes: tuple[str, ...],
    ) -> float:
        """A Smartcar car's expected report interval: its poll interval as the cron paces it."""
        kinds = len(snapshot_kinds(powertrain, scopes))
        return vehicle_status.smartcar_interval_s(
            self._settings.telemetry, used, month, heard, kinds
        )

    async def worst_open(self) -> dict[int, str]:
        """vehicle id -> its most severe open alert's severity (the fleet list's sort key)."""
        return await self._db.run(self.repository.vehicles_with_open_alerts)

    async def acknowledge(self, alert_ids: Iterable[int], who: str) -> int:
        count = await self._db.run(self.repository.acknowledge, list(alert_ids), who, self._clock())
        self.changes.notify()
        return count

    async def inbox(
        self,
        *,
        include_cleared: bool = False,
        include_acknowledged: bool = True,
        kind: str | None = None,
    ) -> list[AlertRecord]:
        """Alerts for the inbox: most severe, then most recent first."""
        return await self._db.run(
            lambda: self.repository.inbox(
                include_cleared=include_cleared,
                include_acknowledged=include_acknowledged,
                kind=kind,
            )
        )

    async def run(self) -> None:
        """Evaluate changed vehicles as they come; sweep everything periodically."""
        await self._queue.run(
            self.evaluate, self._settings.alerts.sweep_interval_s, "alert evaluation"
        )


def _status_facts(f: VehicleFacts) -> vehicle_status.StatusFacts:
    level = f.fuel_pct if f.fuel_pct is not None else f.battery_pct
    return vehicle_status.StatusFacts(
        current=f.status,
        in_rental=f.in_rental,
        last_heard_at=f.last_heard_at,
        expected_interval_s=f.expected_interval_s,
        watched_since=f.watched_since,
        charging=f.charging,
        charging_at=f.charging_at,
        level_pct=level,
    )
