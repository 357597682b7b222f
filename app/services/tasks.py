"""The one supervisor of long-lived background tasks: start, watch, restart, stop.

A task created without an owner is a task nobody cancels, and a worker that dies
silently leaves the console showing stale data as if it were live (seen: IoT ingest
dead, scooters still "Online", nothing on screen). So every worker (pollers, the IoT
gateway and its helpers, simulators in demo mode) starts through a TaskOwner, which

- logs a task that ends unexpectedly (an exception, or returning when it should run
  forever) with its traceback;
- restarts it with exponential backoff when it was spawned from a factory with
  ``restart=True`` (a bare coroutine cannot be run twice);
- makes the state observable: ``running``, ``failures()``, ``restarts`` and
  ``subscribe`` (the status bar's worker indicator listens there);
- stops everything within one bounded ``shutdown``.

IoT runtime helpers get a :meth:`TaskOwner.child`: their own stop order (after the
gateway's in-flight stores), the parent's bookkeeping.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from app.listeners import Listeners

logger = logging.getLogger(__name__)

Work = Coroutine[Any, Any, Any]
Factory = Callable[[], Work]

SHUTDOWN_S = 5.0
"""Quit completes within this, however many tasks there are (issue #13 item 9)."""


@dataclass(frozen=True)
class RestartPolicy:
    """Backoff 1 s doubling to 60 s; back to 1 s after a run of ``healthy_s`` without failing."""

    first_s: float = 1.0
    max_s: float = 60.0
    healthy_s: float = 60.0

    def delay(self, previous_s: float | None) -> float:
        return self.first_s if previous_s is None else min(self.max_s, previous_s * 2)


@dataclass(frozen=True)
class Failure:
    """A task that is down: why, and (restartable ones) when it is started again."""

    reason: str
    retry_at: float | None  # on the owner's clock; None: it stays down


class TaskOwner:
    """Starts named tasks, supervises them, and cancels them all on ``shutdown``."""

    def __init__(
        self,
        *,
        policy: RestartPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        parent: TaskOwner | None = None,
    ) -> None:
        # Insertion-ordered (spawn order), each with its first coroutine: a task cancelled
        # before it ever ran closes it, so none is reported "never awaited".
        self._tasks: dict[asyncio.Task[Any], Work] = {}
        self._policy = policy or RestartPolicy()
        self._clock = clock
        self._sleep = sleep
        self._parent = parent
        self._children: list[TaskOwner] = []
        self._failures: dict[str, Failure] = {}
        self._drains: dict[asyncio.Task[Any], Callable[[], Awaitable[Any]]] = {}
        self._changes: Listeners[[]] = Listeners("task states")
        self._restarts = 0
        self._stopping = False

    # -- starting ---------------------------------------------------------------------

    def spawn(
        self,
        work: Work | Factory,
        name: str,
        *,
        restart: bool = False,
        drain: Callable[[], Awaitable[Any]] | None = None,
        outages: tuple[type[Exception], ...] = (),
    ) -> asyncio.Task[Any]:
        """Run ``work`` (a coroutine, or a factory of them) as task ``name``.

        With ``restart`` (factories only) a crash or an early return starts a fresh
        coroutine after the policy's backoff; otherwise the task is reported down.
        ``drain`` is awaited at shutdown before the task is cancelled (a writer's flush),
        once everything spawned after it has stopped feeding it. ``outages`` are the
        exceptions that mean "what I work on is gone for now" (an unplugged serial
        adapter): down and retried like any failure, but logged as a warning without a
        traceback, because there is no bug to read and it may last for hours.
        """
        if restart and asyncio.iscoroutine(work):
            work.close()
            raise TypeError(f"{name}: restart=True needs a coroutine factory, not a coroutine")
        factory: Factory | None = None
        if asyncio.iscoroutine(work):
            first: Work = work
        else:
            factory = work  # not a coroutine: its factory
            first = factory()
        coro = self._supervise(name, first, factory if restart else None, outages)
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks[task] = first
        if drain is not None:
            self._drains[task] = drain
        task.add_done_callback(self._finished)
        self._changed()
        return task

    def child(self) -> TaskOwner:
        """An owner whose tasks the caller stops itself, counted and reported here."""
        owner = TaskOwner(policy=self._policy, clock=self._clock, sleep=self._sleep, parent=self)
        self._children.append(owner)
        return owner

    async def _supervise(
        self,
        name: str,
        first: Work,
        factory: Factory | None,
        outages: tuple[type[Exception], ...],
    ) -> None:
        delay: float | None
        coro, delay = first, None
        while True:
            started = self._clock()
            try:
                await coro
                reason, error = "stopped without an error (it should run until quit)", None
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                reason, error = f"{type(exc).__name__}: {exc}".removesuffix(": "), exc
            if self._stopping:
                return  # ended while the console quits: nothing to report
            if isinstance(error, outages):
                logger.warning("background task %s stopped: %s", name, reason)
            else:
                logger.error(
                    "background task %s %s", name, "crashed" if error else reason, exc_info=error
                )
            if factory is None:
                self._set_failure(name, Failure(reason, None))
                return
            if self._clock() - started >= self._policy.healthy_s:
                delay = None  # it ran fine for a while: a new problem, retry soon
            delay = self._policy.delay(delay)
            self._set_failure(name, Failure(reason, self._clock() + delay))
            logger.warning("background task %s restarts in %.0f s", name, delay)
            await self._sleep(delay)
            coro = factory()
            self._count_restart()
            self._set_failure(name, None)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        first = self._tasks.pop(task, None)
        self._drains.pop(task, None)
        if first is not None:
            first.close()
        if task.cancelled():
            self._failures.pop(task.get_name(), None)
        self._changed()

    # -- observing --------------------------------------------------------------------

    @property
    def running(self) -> list[str]:
        """Names of the tasks up now (children's included); down ones are in failures()."""
        names = [t.get_name() for t in self._tasks if t.get_name() not in self._failures]
        for child in self._children:
            names.extend(child.running)
        return sorted(names)

    @property
    def restarts(self) -> int:
        """Restarts since this owner started (its children's included)."""
        return self._restarts

    def failures(self) -> dict[str, str]:
        """Tasks down or waiting to restart, with the reason they ended."""
        return {name: failure.reason for name, failure in self.failure_states().items()}

    def failure_states(self) -> dict[str, Failure]:
        merged = dict(self._failures)
        for child in self._children:
            merged.update(child.failure_states())
        return merged

    def retry_in(self, name: str) -> float | None:
        """Seconds until down task ``name`` is restarted; None when it is not coming back."""
        failure = self.failure_states().get(name)
        if failure is None or failure.retry_at is None:
            return None
        return max(0.0, failure.retry_at - self._clock())

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener()`` on every state change; returns the unsubscribe function."""
        return self._root()._changes.subscribe(listener)

    def _root(self) -> TaskOwner:
        return self if self._parent is None else self._parent._root()

    def _count_restart(self) -> None:
        owner: TaskOwner | None = self
        while owner is not None:
            owner._restarts += 1
            owner = owner._parent

    def _set_failure(self, name: str, failure: Failure | None) -> None:
        if failure is None:
            self._failures.pop(name, None)
        else:
            self._failures[name] = failure
        self._changed()

    def _changed(self) -> None:
        self._root()._changes.notify()  # a broken indicator never breaks supervision

    # -- stopping ---------------------------------------------------------------------

    async def shutdown(self, timeout_s: float = SHUTDOWN_S) -> None:
        """Cancel in reverse start order, each awaited, so a worker stops before what it feeds.

        The IoT gateway waits for its in-flight stores, which the telemetry writer (started
        earlier) must still be there to commit; the writer's ``drain`` (flush) then runs
        before it is cancelled. The whole shutdown takes at most ``timeout_s``: what has
        not stopped by then is cancelled, logged and left behind rather than hanging the
        exit.
        """
        self._stopping = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        pending = list(reversed(list(self._tasks)))
        for task in pending:
            drain = self._drains.get(task)
            if drain is not None and not task.done() and deadline > loop.time():
                await self._drain(task.get_name(), drain, deadline - loop.time())
            task.cancel()
            left = deadline - loop.time()
            if left <= 0:
                break
            await asyncio.wait({task}, timeout=left)
        for child in list(self._children):  # what a child's owner did not stop itself
            pending.extend(child._tasks)
        for task in pending:
            if not task.done():
                task.cancel()
                logger.error(
                    "background task %s did not stop within the %g s bound",
                    task.get_name(),
                    timeout_s,
                )
        if self._parent is not None and self in self._parent._children:
            self._parent._children.remove(self)
            self._parent._changed()

    @staticmethod
    async def _drain(name: str, drain: Callable[[], Awaitable[Any]], within_s: float) -> None:
        try:
            async with asyncio.timeout(within_s):
                await drain()
            logger.info("background task %s drained", name)
        except TimeoutError:
            logger.error("background task %s not drained within the quit bound", name)
        except Exception:
            logger.exception("draining background task %s failed", name)
