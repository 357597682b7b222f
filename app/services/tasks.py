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
        self._tasks: dict[asyncio.Task[Any], None] = {}  # insertion-ordered: spawn order

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks[task] = None
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.pop(task, None)
        if not task.cancelled() and task.exception() is not None:
            logger.error("background task %s crashed", task.get_name(), exc_info=task.exception())

    @property
    def running(self) -> list[str]:
        return sorted(t.get_name() for t in self._tasks)

    async def shutdown(self, timeout_s: float = 10.0) -> None:
        """Cancel in reverse start order, each awaited, so a worker stops before what it feeds.

        The IoT gateway waits for its in-flight stores, which the telemetry writer (started
        earlier) must still be there to commit. A task that ignores cancellation for
        ``timeout_s`` is logged and left behind rather than hanging the exit.
        """
        for task in reversed(list(self._tasks)):
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=timeout_s)
            if not done:
                logger.error(
                    "background task %s did not stop in %.0f s", task.get_name(), timeout_s
                )
