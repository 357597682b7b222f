"""The retention sweep: history tables pruned where the background work runs.

Zone enter/exit events, sent notifications and finished connect requests grow for as long
as the fleet runs, and nothing else ever deletes them. Wherever the alert rules run (a
standalone console, or the collector of a shared database, whose role may delete), this
sweep removes the rows older than ``[retention]`` allows, at start and every
``sweep_interval_s``. Work still in flight is never removed (app.models.retention).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from app.config import RetentionSettings
from app.models.database import Database
from app.models.retention import Cutoffs, prune
from app.services.connections.handoff import FINAL as FINISHED_REQUESTS

logger = logging.getLogger(__name__)


class Retention:
    """Spawn :meth:`run` once (a supervised worker); ``clock`` lets tests pick "now"."""

    def __init__(
        self,
        database: Database,
        settings: RetentionSettings,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._db = database
        self._settings = settings
        self._clock = clock

    def cutoffs(self) -> Cutoffs:
        """Now minus each table's days (0 days: kept for ever)."""
        now = self._clock()

        def before(days: int) -> datetime | None:
            return now - timedelta(days=days) if days > 0 else None

        s = self._settings
        return Cutoffs(
            zone_events=before(s.zone_event_days),
            notifications=before(s.notification_days),
            connect_requests=before(s.connect_request_days),
        )

    async def prune_now(self) -> dict[str, int]:
        """One sweep; how many rows each table lost (logged when any did)."""
        removed = await self._db.run(prune, self._db, self.cutoffs(), FINISHED_REQUESTS)
        if any(removed.values()):
            counts = ", ".join(f"{table} {n}" for table, n in removed.items() if n)
            logger.info("retention: pruned %s", counts)
        return removed

    async def run(self) -> None:
        """Sweep now and every ``sweep_interval_s``; a failed sweep is logged and retried."""
        while True:
            try:
                await self.prune_now()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("retention sweep failed; will retry")
            await asyncio.sleep(self._settings.sweep_interval_s)
