"""Ownership of long-lived background tasks, so shutdown can cancel every one of them.

A task created without an owner is a task nobody cancels; every worker (pollers, the
gateway, simulators in demo mode) is started through a TaskOwner instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

logger = logging.getLogger(__name__)


class TaskOwner:
    """Starts named tasks, logs their crashes, and cancels them all on ``shutdown``."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("background task %s crashed", task.get_name(), exc_info=task.exception())

    @property
    def running(self) -> list[str]:
        return sorted(t.get_name() for t in self._tasks)

    async def shutdown(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
