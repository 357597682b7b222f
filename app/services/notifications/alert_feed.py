"""A shared-mode console's new alerts: the ones the collector raised, for the desktop.

On a shared database the alert rules run in the collector, so a console's dispatcher
never hears ``AlertService.raised``. The collector publishes an ``alert`` change after
the alerts it raised are committed; :class:`AlertFeed` reads the alerts newer than the
last one it saw on each such notice, after the listener reconnected (notices sent
meanwhile are lost) and every ``SWEEP_S`` anyway, and hands them to the dispatcher as if
they had been raised here. Its first read only takes the newest id: a console that starts
shows what is raised from then on, not the whole history. Ids come in commit order (one
collector leads, and its evaluations write one after the other), so nothing is skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from app.models.alerts import AlertRepository, OpenAlert
from app.models.database import Database
from app.services.change_feed import sweep_on_notice

logger = logging.getLogger(__name__)

#: The change the collector publishes after it stored new alerts (one per vehicle).
CHANGE_TABLE = "alert"
#: A read this often even without a notice (a cheap indexed query when nothing is new).
SWEEP_S = 60.0


class AlertFeed:
    """Spawn :meth:`run` once; ``raised`` hears each batch of new alerts, oldest first."""

    def __init__(
        self,
        database: Database,
        raised: Callable[[list[OpenAlert]], None],
        *,
        sweep_s: float = SWEEP_S,
    ) -> None:
        self._db = database
        self._raised = raised
        self._sweep_s = sweep_s
        self._repository = AlertRepository(database)
        #: The newest alert seen (None until the first read); kept across restarts of
        #: ``run`` so a restarted worker neither replays nor skips.
        self.last_seen: int | None = None

    async def run(self) -> None:
        await sweep_on_notice(
            self._db.url,
            lambda change: change.table == CHANGE_TABLE,
            self.read_new,
            self._sweep_s,
            "collector alerts",
        )

    async def read_new(self) -> list[OpenAlert]:
        """Hand the alerts raised since the last read to ``raised``; the first read only
        notes where the history ends."""
        if self.last_seen is None:
            self.last_seen = await self._db.run(self._repository.latest_id)
            logger.info("collector alerts: notifying those after alert %d", self.last_seen)
            return []
        new = await self._db.run(self._repository.raised_after, self.last_seen)
        if new:
            self.last_seen = max(a.id or 0 for a in new)
            self._raised(new)
        return new
