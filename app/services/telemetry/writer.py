"""The one writer task every telemetry source feeds (Smartcar cron, IoT gateway).

Producers call :meth:`TelemetryWriter.submit` / :meth:`submit_many` (never blocks, never
touches the database) or ``await`` :meth:`TelemetryWriter.store` when they must know the
data is durable (the IoT gateway acknowledges a device only then). :meth:`run`, spawned
once, drains the queue in batches of up to ``max_batch`` items; each batch is ONE
transaction on the database thread (``database.run``), so the UI loop never waits on
SQLite and the database never sees two writers.

When the database refuses a batch (full disk, locked file, server gone) the batch is kept
and retried with a growing delay; new readings keep queueing up to ``max_pending`` items,
beyond which the oldest are dropped (counted, logged, and any ``store`` waiters failed
with :class:`TelemetryBacklogError` so a device keeps its buffer). Nothing a producer was
told is stored is ever lost: ``store`` returns only after the commit. The failure is
logged when it starts, then once a minute, and :attr:`health` tells the status bar,
Qt-free, what is wrong and how much is waiting.

API used by other parts (names are stable):

* ``TelemetryReading`` — the input shape (re-exported from ``app.models.telemetry_reading``)
* ``submit(reading)``, ``submit_many(readings)``, ``await store(readings)``
* ``record_poll(update)`` — Smartcar poll bookkeeping, written in the same transaction
  (a ``WebhookDelivery`` passed to ``store`` likewise)
* ``await flush()`` — everything submitted so far is written (or definitively dropped)
* ``commits.subscribe(callback)`` — ``callback(frozenset_of_vehicle_ids)`` after each commit
* ``status()`` — a :class:`WriterStatus` snapshot
* ``health`` — a :class:`StorageHealth` snapshot (problem, pending, retry, dropped)
"""

from __future__ import annotations

import asyncio
import errno
import logging
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.exc import SQLAlchemyError

from app.listeners import Listeners
from app.logging_setup import RecurringProblem
from app.models.database import Database
from app.models.telemetry_connections import ConnectionPollUpdate
from app.models.telemetry_reading import TelemetryReading
from app.models.telemetry_store import BatchOutcome, TelemetryStore
from app.models.webhook_events import WebhookDelivery

logger = logging.getLogger(__name__)

__all__ = [
    "StorageHealth",
    "TelemetryBacklogError",
    "TelemetryReading",
    "TelemetryWriter",
    "WriterStatus",
]

_Item = TelemetryReading | ConnectionPollUpdate | WebhookDelivery
_BOOKKEEPING = (ConnectionPollUpdate, WebhookDelivery)  # a tuple: no union built per item


class TelemetryBacklogError(Exception):
    """Readings were dropped because the database stayed unavailable too long."""


@dataclass(frozen=True, slots=True)
class WriterStatus:
    """A snapshot for the status bar; ``error`` is None while writes succeed."""

    running: bool
    pending: int
    samples_written: int
    duplicates_skipped: int
    readings_dropped: int
    fields_dropped: int
    overflow_dropped: int
    batches: int
    last_batch_at: datetime | None
    error: str | None
    failing_since: datetime | None


@dataclass(frozen=True, slots=True)
class StorageHealth:
    """Whether telemetry reaches the database, for the operator (the status bar).

    ``problem`` is None while writes succeed; otherwise "disk full" or the error in a few
    words. ``pending`` readings wait in memory (kept, retried); ``dropped`` were given up
    because the backlog reached its bound (their devices were not acknowledged).
    """

    problem: str | None
    pending: int
    failing_since: datetime | None
    retry_in_s: float | None
    dropped: int
    attempts: int = 0  # failed writes since the problem began

    @property
    def ok(self) -> bool:
        return self.problem is None


def _problem_text(exc: BaseException) -> str:
    text = str(exc)
    full = isinstance(exc, OSError) and exc.errno == errno.ENOSPC
    if full or "database or disk is full" in text or "No space left" in text:
        return "disk full"
    return f"{type(exc).__name__}: {text.splitlines()[0][:120] if text else ''}"


class TelemetryWriter:
    """Queue + one draining task; see the module docstring."""

    def __init__(
        self,
        database: Database,
        *,
        store: TelemetryStore | None = None,
        max_batch: int = 5000,
        max_pending: int = 200_000,
        retry_initial_s: float = 0.5,
        retry_max_s: float = 30.0,
    ) -> None:
        self._db = database
        self._store = store or TelemetryStore(database)
        self._max_batch = max_batch
        self._max_pending = max_pending
        self._retry_initial_s = retry_initial_s
        self._retry_max_s = retry_max_s
        self._pending: deque[_Item] = deque()
        self._wake = asyncio.Event()
        self._submitted = 0
        self._processed = 0
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()
        #: Hear the ids of the vehicles whose data a commit stored.
        self.commits: Listeners[[frozenset[int]]] = Listeners("telemetry commits")
        self._running = False
        self._samples = self._duplicates = self._dropped = self._fields = 0
        self._overflow = self._batches = 0
        self._last_batch_at: datetime | None = None
        self._error: str | None = None
        self._failing_since: datetime | None = None
        self._problem = RecurringProblem(logger, "storing telemetry")
        self._health: tuple[str | None, float | None] = (None, None)  # problem, retry in
        self._backlog = RecurringProblem(logger, "keeping the telemetry backlog")

    # -- producers -------------------------------------------------------------------------

    def submit(self, reading: TelemetryReading) -> None:
        self._enqueue((reading,))

    def submit_many(self, readings: Iterable[TelemetryReading]) -> None:
        self._enqueue(readings)

    def record_poll(self, update: ConnectionPollUpdate) -> None:
        self._enqueue((update,))

    async def store(self, readings: Iterable[TelemetryReading | WebhookDelivery]) -> None:
        """Submit and wait until committed; raises TelemetryBacklogError if dropped. A
        :class:`WebhookDelivery` among them is recorded in the same transaction."""
        self._enqueue(readings)
        await self._wait_for(self._submitted)

    async def flush(self) -> None:
        """Wait until everything submitted before this call is processed."""
        await self._wait_for(self._submitted)

    @property
    def health(self) -> StorageHealth:
        """Storage health now (the status bar reads it every second: the count moves)."""
        problem, retry_in_s = self._health
        pending = self._submitted - self._processed
        return StorageHealth(
            problem,
            pending,
            self._failing_since,
            retry_in_s,
            self._overflow,
            self._problem.failures,
        )

    def status(self) -> WriterStatus:
        return WriterStatus(
            self._running,
            self._submitted - self._processed,
            self._samples,
            self._duplicates,
            self._dropped,
            self._fields,
            self._overflow,
            self._batches,
            self._last_batch_at,
            self._error,
            self._failing_since,
        )

    def _enqueue(self, items: Iterable[_Item]) -> None:
        before = len(self._pending)
        self._pending.extend(items)
        self._submitted += len(self._pending) - before
        overflow = len(self._pending) - self._max_pending
        if overflow > 0:
            for _ in range(overflow):
                self._pending.popleft()
            self._overflow += overflow
            self._processed += overflow
            self._backlog.failed(
                TelemetryBacklogError(
                    f"backlog full ({self._max_pending:,} items, database unavailable): "
                    f"{self._overflow:,} oldest dropped so far, their devices not acknowledged"
                )
            )
            self._fail_waiters()
        self._wake.set()

    async def _wait_for(self, target: int) -> None:
        if self._processed >= target:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((target, future))
        await future

    def _fail_waiters(self) -> None:
        while self._waiters:
            _, future = self._waiters.popleft()
            if not future.done():
                future.set_exception(TelemetryBacklogError("telemetry dropped: backlog full"))

    def _release_waiters(self) -> None:
        while self._waiters and self._waiters[0][0] <= self._processed:
            _, future = self._waiters.popleft()
            if not future.done():
                future.set_result(None)

    # -- the writer task -------------------------------------------------------------------

    async def run(self) -> None:
        """Drain forever (spawn once; cancel to stop: an unfinished batch is retried by
        nobody, so call ``flush`` first for a clean shutdown)."""
        self._running = True
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._pending:
                    await self._write_next()
        finally:
            self._running = False

    async def _write_next(self) -> None:
        count = min(len(self._pending), self._max_batch)
        items = [self._pending.popleft() for _ in range(count)]
        # Anything that is not bookkeeping goes to the store, which checks and logs it.
        readings = [i for i in items if not isinstance(i, _BOOKKEEPING)]
        updates = [i for i in items if isinstance(i, ConnectionPollUpdate)]
        deliveries = [i for i in items if isinstance(i, WebhookDelivery)]
        delay = self._retry_initial_s
        while True:
            try:
                outcome = await self._db.run(self._store.write_batch, readings, updates, deliveries)
                break
            except (SQLAlchemyError, OSError) as exc:
                self._note_failure(exc, delay)
                await asyncio.sleep(delay)
                delay = min(self._retry_max_s, delay * 2)
            except Exception:
                # A bug, not an outage: retrying would fail forever and block everything
                # behind this batch, so it is dropped (loudly) and the writer goes on.
                logger.exception("telemetry batch of %d items dropped", len(items))
                outcome = BatchOutcome(dropped_readings=len(readings))
                break
        self._note_success(outcome, len(items))

    def _note_failure(self, exc: BaseException, retry_in_s: float) -> None:
        self._error = f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:200]}"
        if self._failing_since is None:
            self._failing_since = datetime.now(UTC)
        self._problem.failed(exc)
        self._health = (_problem_text(exc), retry_in_s)

    def _note_success(self, outcome: BatchOutcome, size: int) -> None:
        self._problem.recovered()
        if len(self._pending) < self._max_pending:
            self._backlog.recovered()
        self._error = self._failing_since = None
        self._processed += size
        self._batches += 1
        self._last_batch_at = datetime.now(UTC)
        self._samples += outcome.stored
        self._duplicates += outcome.duplicates
        self._dropped += outcome.dropped_readings
        self._fields += outcome.dropped_fields
        self._release_waiters()
        self._health = (None, None)
        if outcome.vehicles:
            self.commits.notify(outcome.vehicles)
