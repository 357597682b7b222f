"""The fleet map's zone layer, kept in step with the zone service.

What the operator draws, moves or deletes on the map (``ZoneLayer`` signals) is stored
through :class:`~app.services.zones.service.ZoneService`; a shape the service refuses
(self-intersecting, degenerate, off the globe) is not stored and the reason is shown;
after any change, this process's or (through the service's refresh) another's, the map
is drawn again from the stored zones, so it never shows a zone that was not saved.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import replace
from typing import Any

from PySide6.QtCore import QObject

from app.models.errors import DatabaseError
from app.models.zones import ZoneInvalid, ZoneShape
from app.services.zones.service import ZoneService
from app.views.lifetime import gone
from app.views.map_zones import Ring, ZoneLayer

logger = logging.getLogger(__name__)


class ZoneEditing(QObject):
    def __init__(
        self,
        layer: ZoneLayer,
        zones: ZoneService,
        *,
        refusal: str | None,
        show_message: Callable[[str, int], None],
    ) -> None:
        """``refusal``: why this person may not edit zones (review mode, the role), or
        None; ``show_message`` puts a line in the status bar (text, milliseconds)."""
        super().__init__(layer)
        self._layer = layer
        self._zones = zones
        self._show = show_message
        self._tasks: set[asyncio.Task[None]] = set()
        layer.set_refusal(refusal)
        layer.zone_drawn.connect(lambda name, kind, ring: self._spawn(self._add(name, kind, ring)))
        layer.zone_edited.connect(lambda zone_id, ring: self._spawn(self._move(zone_id, ring)))
        layer.zone_deleted.connect(lambda zone_id: self._spawn(self._delete(zone_id)))
        zones.changes.subscribe(self.reload)
        self.reload()

    def reload(self) -> None:
        self._spawn(self._reload())

    async def _reload(self) -> None:
        try:
            shapes = await self._zones.zones()
        except DatabaseError as exc:
            self._show(f"Zones could not be read: {exc}", 10000)
            return
        if not gone(self._layer.page):
            self._layer.show_zones(shapes)

    async def _add(self, name: str, kind: str, ring: Ring) -> None:
        await self._store(
            f"Zone {name} saved", self._zones.add(ZoneShape(None, name, kind, list(ring)))
        )

    async def _move(self, zone_id: int, ring: Ring) -> None:
        shape = next((s for s in self._layer.shapes if s.id == zone_id), None)
        if shape is None:
            return
        await self._store(f"Zone {shape.name} saved", self._zones.update(replace(shape, ring=ring)))

    async def _delete(self, zone_id: int) -> None:
        name = next((s.name for s in self._layer.shapes if s.id == zone_id), f"zone {zone_id}")
        await self._store(f"Zone {name} deleted", self._zones.delete(zone_id))

    async def _store(self, done: str, change: Coroutine[Any, Any, object]) -> None:
        try:
            await change
        except (ZoneInvalid, DatabaseError) as exc:  # the shape, or the role, refused
            self._show(f"Zone not saved: {exc}", 15000)
            await self._reload()  # take back what the page shows of the refused edit
            return
        self._show(done, 5000)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work, name="zone editing")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
