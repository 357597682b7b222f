"""Zones for the console and the workers: edit them, keep each vehicle's presence, and
answer the rental rule (issue #19).

Editing (``add``, ``update``, ``delete``) validates first (:class:`ZoneInvalid` with the
reason, nothing stored) and ``changes`` hear ``()`` afterwards (the map redraws).

Presence follows the telemetry path as the alert rules do: ``vehicles_changed`` is the
telemetry writer's observer (sync, cheap: it only queues ids) and ``run`` (spawn once,
where telemetry is stored) checks the queued vehicles' latest positions against the
:class:`ZoneIndex`, stores which zones each is in (``zone_presence``) and every enter and
exit (``zone_event``) in one transaction, then ``presence_changes`` hear the vehicles
whose zones changed (the alert rules re-evaluate them: outside the service area, parked
in a no-parking zone). Presence is stored, so a restart raises nothing again.

The index is rebuilt whenever the zone table's fingerprint changes, which this process's
edits do at once and another workstation's edits do at the next batch or sweep; after a
change every vehicle with a position is checked again (a new zone applies to vehicles
already standing in it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from app.config import Settings
from app.listeners import Listeners
from app.models.database import Database
from app.models.zones import (
    ZoneKind,
    ZoneRepository,
    ZoneShape,
    ZoneTransition,
    validated,
)
from app.services.waking import wait_woken
from app.services.zones.index import ZoneIndex

logger = logging.getLogger(__name__)


class ZoneService:
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
        self.repository = ZoneRepository(database)
        #: Hear ``()`` after a zone was added, changed or deleted in this process.
        self.changes: Listeners[[]] = Listeners("zone changes")
        #: Hear the vehicle ids whose zones changed (entered or left one).
        self.presence_changes: Listeners[[frozenset[int]]] = Listeners("zone presence")
        self._index = ZoneIndex((), settings.zones.gps_margin_m)
        self._fingerprint: object = None
        self._pending: set[int] = set()
        self._recheck_all = False
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()

    @property
    def margin_m(self) -> float:
        return self._settings.zones.gps_margin_m

    # -- editing -------------------------------------------------------------------------

    async def zones(self) -> list[ZoneShape]:
        return list((await self.index()).zones.values())

    async def add(self, shape: ZoneShape) -> ZoneShape:
        """Store a new zone; ZoneInvalid(reason) and nothing stored if it is not usable."""
        validated(shape)  # refuse before the database thread is even asked
        stored = await self._db.run(self.repository.add, shape, self._clock())
        await self._edited()
        return stored

    async def update(self, shape: ZoneShape) -> ZoneShape:
        validated(shape)
        stored = await self._db.run(self.repository.update, shape, self._clock())
        await self._edited()
        return stored

    async def delete(self, zone_id: int) -> bool:
        deleted = await self._db.run(self.repository.delete, zone_id)
        if deleted:
            await self._edited()
        return deleted

    async def _edited(self) -> None:
        await self.index()
        self._recheck_all = True
        self._wake.set()
        self.changes.notify()

    async def index(self) -> ZoneIndex:
        """The index of the zones stored now (rebuilt only when they changed)."""
        fingerprint = await self._db.run(self.repository.fingerprint)
        if fingerprint != self._fingerprint:
            zones = await self._db.run(self.repository.all)
            self._index = ZoneIndex(zones, self.margin_m)
            if self._fingerprint is not None:
                self._recheck_all = True
            self._fingerprint = fingerprint
        return self._index

    # -- the rental rule -----------------------------------------------------------------

    async def has_parking_zones(self) -> bool:
        """Whether the parking rule applies at all (no parking zone: no rule)."""
        return bool((await self.index()).of_kind(ZoneKind.PARKING))

    async def parking_refusal(self, vehicle: str, position: tuple[float, float] | None) -> str:
        """Why a rental of ``vehicle`` must not end at ``position`` (lon, lat), or "" when
        it may: no parking zone exists (no rule), or it stands in one (grown by the GPS
        margin: a rider at the zone's edge is not refused for GPS error)."""
        index = await self.index()
        if not index.of_kind(ZoneKind.PARKING):
            return ""
        if position is None:
            return f"{vehicle}'s position is not known, so it cannot be checked for a parking zone"
        lon, lat = position
        if index.containing(lon, lat, ZoneKind.PARKING):
            return ""
        nearest = index.nearest(lon, lat, ZoneKind.PARKING)
        where = f" (nearest: {nearest[0].name}, {nearest[1]:.0f} m)" if nearest else ""
        return f"{vehicle} is not in a parking zone{where}"

    # -- presence ------------------------------------------------------------------------

    def vehicles_changed(self, vehicle_ids: Iterable[int]) -> None:
        """Telemetry writer observer: check these vehicles' positions soon."""
        self._pending.update(vehicle_ids)
        self._wake.set()

    async def evaluate(self, vehicle_ids: Iterable[int] | None = None) -> list[ZoneTransition]:
        """Check ``vehicle_ids`` (None: every vehicle with a position) and store the result."""
        ids = None if vehicle_ids is None else sorted(set(vehicle_ids))
        async with self._lock:
            index = await self.index()
            positions = await self._db.run(self.repository.positions, ids)
            known = await self._db.run(self.repository.presence, ids)
            order = list(positions)
            after = index.step_many(
                [positions[v][0] for v in order],
                [positions[v][1] for v in order],
                [_existing(known.get(v), index) for v in order],
            )
            presence: dict[int, frozenset[int]] = {}
            transitions: list[ZoneTransition] = []
            for vehicle_id, now_in in zip(order, after, strict=True):
                was_in = known.get(vehicle_id)
                if was_in == now_in:
                    continue
                presence[vehicle_id] = now_in
                lon, lat = positions[vehicle_id]
                old = _existing(was_in, index) or frozenset()
                transitions += [
                    ZoneTransition(vehicle_id, z, "exit", lon, lat) for z in sorted(old - now_in)
                ]
                transitions += [
                    ZoneTransition(vehicle_id, z, "enter", lon, lat) for z in sorted(now_in - old)
                ]
            if presence:
                await self._db.run(
                    self.repository.record, presence, set(known), transitions, self._clock()
                )
        if transitions:
            logger.info("zones: %d enter/exit event(s)", len(transitions))
        if presence:
            self.presence_changes.notify(frozenset(presence))
        return transitions

    async def run(self) -> None:
        """Check queued vehicles as they come; everything after a zone changed, and look
        for zones edited elsewhere every ``zones.sweep_interval_s``."""
        interval = self._settings.zones.sweep_interval_s
        loop = asyncio.get_running_loop()
        self._recheck_all = True  # the first pass places every vehicle
        next_sweep = loop.time()
        while True:
            timeout = max(0.0, next_sweep - loop.time())
            await wait_woken(self._wake, timeout)  # not wait_for: it can lose a cancel
            self._wake.clear()
            try:
                if loop.time() >= next_sweep:
                    await self.index()  # another workstation's edit sets _recheck_all
                    next_sweep = loop.time() + interval
                if self._recheck_all:
                    self._recheck_all = False
                    self._pending.clear()
                    await self.evaluate(None)
                elif self._pending:
                    batch, self._pending = self._pending, set()
                    await self.evaluate(batch)
            except Exception:
                logger.exception("zone check failed; will retry")


def _existing(zone_ids: frozenset[int] | None, index: ZoneIndex) -> frozenset[int] | None:
    """Stored presence without zones deleted since (they are left without an event)."""
    if zone_ids is None:
        return None
    return frozenset(z for z in zone_ids if z in index.zones)
