"""The headless collector of shared mode: leader election, the workers, a clean stop.

Several collectors may run against one database (a standby on a second machine); the one
holding the leader lock (:mod:`app.services.wiring.leader`) runs the pollers, token refresher and
gateway through :func:`app.services.wiring.workers.start_workers`; the others wait and take over
within ``poll_s`` seconds of its death. A leader that loses its lock connection stops its
workers at once and goes back to the election, since another collector may lead by then.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable

from app.services.tasks import TaskOwner
from app.services.waking import wait_woken
from app.services.wiring.context import AppContext
from app.services.wiring.leader import LeaderLock, LeaderLost
from app.services.wiring.quitting import stop_background_work
from app.services.wiring.workers import start_workers

logger = logging.getLogger(__name__)


def qt_modules() -> list[str]:
    """Qt modules loaded in this process (the collector must have none)."""
    return sorted(m for m in sys.modules if m.split(".")[0] in ("PySide6", "shiboken6"))


async def _until_stop(stop: asyncio.Event, work: Awaitable[None]) -> bool:
    """Await ``work`` unless ``stop`` is set first; True when ``work`` finished."""
    job = asyncio.ensure_future(work)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait((job, stopper), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (job, stopper):
            task.cancel()
        await asyncio.gather(job, stopper, return_exceptions=True)
    if job.done() and not job.cancelled() and (error := job.exception()) is not None:
        raise error
    return job.done() and not job.cancelled()


class Collector:
    """``await run(stop)`` until ``stop`` is set (SIGTERM in the CLI)."""

    def __init__(self, context: AppContext, *, poll_s: float = 1.0, health_s: float = 2.0) -> None:
        self._context = context
        self._lock = LeaderLock(context.database.url, poll_s=poll_s)
        self._health_s = health_s
        self.leading = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            logger.info("collector: seeking leadership")
            if not await _until_stop(stop, self._lock.acquire()):
                break
            try:
                await self._lead(stop)
            except LeaderLost as exc:
                logger.warning("collector: lost the leader lock (%s); stopping workers", exc)
            finally:
                await self._lock.release()
        logger.info("collector: stopped")

    async def _lead(self, stop: asyncio.Event) -> None:
        tasks = TaskOwner()
        try:
            workers = start_workers(self._context, tasks)
            self.leading.set()
            logger.info(
                "collector: LEADER, workers: %s; Qt modules loaded: %s",
                ", ".join(workers.names) or "none",
                ", ".join(qt_modules()) or "none",
            )
            while not await wait_woken(stop, self._health_s):
                await self._lock.check()
        finally:
            self.leading.clear()
            await self._stop_workers(tasks)

    async def _stop_workers(self, tasks: TaskOwner) -> None:
        """The console's Quit path: producers stop, the writer drains, all within 5 s."""
        await stop_background_work(tasks)
