"""The telemetry cron: polls every active Smartcar connection on its own schedule.

One ``POST /batch`` per vehicle per poll (location, fuel, battery, odometer, lock and
doors, tires, oil), at most ``telemetry.max_concurrent_requests`` in flight (that many
worker tasks), results handed to the :class:`TelemetryWriter` without waiting. When to
poll next is decided per vehicle by :mod:`app.services.poll_policy` (interval,
Retry-After, backoff with jitter, asleep cars left alone, monthly budget pacing). This
module holds the scheduling, the queue and the workers; one vehicle's poll and the booking
of its outcome are in :mod:`app.services.telemetry.poll`, the per-vehicle records and
their status snapshot in :mod:`app.services.telemetry.targets`.

Tokens are only ever obtained through the injected ``ensure_fresh_token`` callable::

    async def ensure_fresh_token(connection_id: int, *, rejected: str | None = None)
        -> str | None

It returns a usable access token, or None when the connection cannot be refreshed
(then the cron calls ``mark_expired(connection_id, reason)`` and stops polling it).
After a 401 the cron calls it once more with ``rejected=<the refused token>``: the
implementation must then refresh even if the token has not expired by its clock.
Exceptions from it count as a transient failure (retried with backoff).

API for the UI (names are stable):

* ``poll_now(vehicle_id)`` — "Refresh now": polls at once, ahead of scheduled polls;
  returns a future with the vehicle's :class:`VehiclePollStatus` after the poll (None if
  the vehicle has no active connection). May spend the 10 % budget reserve, never more.
* ``connection_added(connection_id)`` — a car was just connected: load it, sync at once.
* ``connected(vehicle_id)`` — Connect just linked this vehicle: its first full read is
  sent right away (budget permitting), not one interval after the link.
* ``status()`` -> :class:`CronStatus`; ``vehicle_status(vehicle_id)``.
* ``changes.subscribe(callback)`` — ``callback(vehicle_id)`` when the vehicle's stored state
  (after the writer committed) or its polling state changed.
* ``set_interval(vehicle_id, seconds)`` — per-vehicle schedule (None = the setting).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import time
from collections.abc import Callable

from app.config import TelemetrySettings
from app.integrations.smartcar.client import SmartcarClient, snapshot_kinds
from app.listeners import Listeners
from app.models.database import Database
from app.models.telemetry_connections import PollTarget, load_poll_targets
from app.services import poll_policy as policy
from app.services.telemetry.poll import (
    EnsureFreshToken,
    MarkExpired,
    ReportHealth,
    VehiclePoller,
)
from app.services.telemetry.status import CronStatus, PollState, VehiclePollStatus
from app.services.telemetry.targets import (
    PollCycle,
    VehicleTarget,
    as_datetime,
    poll_status,
    roll_month,
)
from app.services.telemetry.writer import TelemetryWriter
from app.services.waking import wait_woken

logger = logging.getLogger(__name__)

MANUAL, SCHEDULED = 0, 1
# Scheduling work is split into chunks of this many connections, yielding to the event
# loop between chunks: a dispatcher's window must not freeze while a big fleet is planned.
YIELD_EVERY = 100
#: A car just subscribed to webhooks gets all its signals in the FIRST_DELIVERY; it is read
#: by poll only when that has not arrived this long after the link (a proxy that does not
#: reach the receiver, say), not at once: that read would be billed for nothing.
FIRST_DELIVERY_GRACE_S = 120.0


class TelemetryCron:
    """See the module docstring; spawn :meth:`run` once."""

    def __init__(
        self,
        client: SmartcarClient,
        writer: TelemetryWriter,
        database: Database,
        *,
        ensure_fresh_token: EnsureFreshToken,
        mark_expired: MarkExpired,
        settings: TelemetrySettings,
        report_health: ReportHealth | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        request_timeout_s: float = 330.0,
        reload_every_s: float = 60.0,
        gap_fill_s: float | None = None,
    ) -> None:
        self._writer = writer
        self._gap_fill_s = gap_fill_s
        self._db = database
        self._settings = settings
        self._clock = clock
        self._reload_every = reload_every_s
        self._poller = VehiclePoller(
            client,
            writer,
            ensure_fresh_token=ensure_fresh_token,
            mark_expired=mark_expired,
            set_state=self._set_state,
            settings=settings,
            clock=clock,
            rng=rng or random.Random(),
            request_timeout_s=request_timeout_s,
            report_health=report_health,
        )
        self._targets: dict[int, VehicleTarget] = {}
        self._by_vehicle: dict[int, VehicleTarget] = {}
        self._queue: asyncio.PriorityQueue[tuple[int, int, int, int]] = asyncio.PriorityQueue()
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self._reload_due = True
        self._read_first: set[int] = set()  # vehicle ids just connected: read at once
        self._loaded_at = -float("inf")
        #: Hear the vehicle id whenever its stored state or its poll status changed.
        self.changes: Listeners[[int]] = Listeners("telemetry cron changes")
        self._running = False
        self._polls = self._errors = 0
        self._last_cycle: tuple[float, float, int, int] | None = None
        writer.commits.subscribe(self._committed)

    # -- API -------------------------------------------------------------------------------

    def poll_now(self, vehicle_id: int) -> asyncio.Future[VehiclePollStatus | None]:
        future: asyncio.Future[VehiclePollStatus | None] = (
            asyncio.get_running_loop().create_future()
        )
        target = self._by_vehicle.get(vehicle_id)
        if target is None or target.state is PollState.EXPIRED:
            future.set_result(None if target is None else poll_status(target, self._settings))
            return future
        cost = len(target.kinds)
        if not target.running and not policy.manual_allowed(self._budget, target.used, cost):
            target.last_error = "monthly request budget used up; not polled"
            future.set_result(poll_status(target, self._settings))
            return future
        target.waiters.append(future)
        if not target.running:
            self._enqueue(target, MANUAL)
        return future

    def connection_added(self, connection_id: int) -> None:
        """Pick up a new (or re-made) connection and poll it at once."""
        self._poller.expired.discard(connection_id)
        self._reload_due = True
        self._wake.set()

    def connected(self, vehicle_id: int) -> None:
        """Connect linked this vehicle: read it at once instead of one interval later (the
        link itself counts as a sync, so the schedule alone would wait a whole interval)."""
        self._read_first.add(vehicle_id)
        self.vehicle_connection_changed(vehicle_id)

    def vehicle_connection_changed(self, vehicle_id: int) -> None:
        """Something changed about a vehicle's connection (e.g. it was reconnected): forget
        an expiry the cron recorded for it and re-read the connections."""
        for cid, target in list(self._targets.items()):
            if target.vehicle_id == vehicle_id and target.state is PollState.EXPIRED:
                self._poller.expired.discard(cid)
                del self._targets[cid]
                if self._by_vehicle.get(vehicle_id) is target:
                    del self._by_vehicle[vehicle_id]
        self._reload_due = True
        self._wake.set()

    def delivered(self, connection_id: int) -> None:
        """A webhook delivery for this connection was stored: its next poll (gap fill)
        moves to ``gap_fill_s`` from now, so a car that keeps pushing is never polled."""
        target = self._targets.get(connection_id)
        if target is None or self._gap_fill_s is None:
            return
        target.gap_fill_s = self._gap_fill_s
        if not (target.queued or target.running):
            target.next_due = max(target.next_due, self._clock() + self._gap_fill_s)

    def set_interval(self, vehicle_id: int, seconds: float | None) -> None:
        target = self._by_vehicle.get(vehicle_id)
        if target is not None:
            target.interval_s = seconds
            self._wake.set()

    def wake(self) -> None:
        """Re-check what is due now (after a settings change, or a test moving its clock)."""
        self._wake.set()

    def vehicle_status(self, vehicle_id: int) -> VehiclePollStatus | None:
        target = self._by_vehicle.get(vehicle_id)
        return None if target is None else poll_status(target, self._settings)

    def status(self) -> CronStatus:
        live = [t for t in self._targets.values() if t.state is not PollState.EXPIRED]
        due = [t.next_due for t in live if not (t.queued or t.running)]
        paused = self._poller.paused_until()
        next_run = max(min(due), paused or 0.0) if due else None
        cycle_at, duration, vehicles, errors = self._last_cycle or (None, None, 0, 0)
        return CronStatus(
            running=self._running,
            vehicles_active=len(live),
            vehicles_expired=len(self._targets) - len(live),
            last_cycle_at=as_datetime(cycle_at),
            last_cycle_duration_s=duration,
            last_cycle_vehicles=vehicles,
            last_cycle_errors=errors,
            next_run_at=as_datetime(next_run),
            in_flight=sum(t.running for t in self._targets.values()),
            queued=sum(t.queued for t in self._targets.values()),
            paused_until=as_datetime(paused),
            polls_total=self._polls,
            errors_total=self._errors,
            requests_this_month=sum(t.used for t in self._targets.values()),
            writer_error=self._writer.status().error,
        )

    # -- the tasks -------------------------------------------------------------------------

    async def run(self) -> None:
        self._running = True
        workers = [
            asyncio.create_task(self._worker(), name=f"telemetry-poll-{i}")
            for i in range(self._settings.max_concurrent_requests)
        ]
        try:
            while True:
                self._wake.clear()
                now = self._clock()
                if self._reload_due or now - self._loaded_at >= self._reload_every:
                    await self._reload(now)
                await self._schedule_due(self._clock())
                waiting = [t.next_due for t in self._idle_targets()]
                if (paused := self._poller.paused_until()) is not None:
                    waiting = [max(due, paused) for due in waiting]
                delay = min([*waiting, now + self._reload_every]) - self._clock()
                await wait_woken(self._wake, delay)  # not wait_for: it can lose a cancel
        finally:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            self._running = False

    def _idle_targets(self) -> list[VehicleTarget]:
        return [
            t
            for t in self._targets.values()
            if not (t.queued or t.running) and t.state is not PollState.EXPIRED
        ]

    async def _reload(self, now: float) -> None:
        try:
            rows = await self._db.run(load_poll_targets, self._db)
        except Exception:
            logger.exception("telemetry: could not load the Smartcar connections")
            return
        self._reload_due = False
        self._loaded_at = now
        seen = set()
        for index, row in enumerate(rows):
            if index % YIELD_EVERY == YIELD_EVERY - 1:
                await asyncio.sleep(0)  # 1,000 connections must not stall the UI loop
            seen.add(row.connection_id)
            if (
                row.connection_id not in self._targets
                and row.connection_id not in self._poller.expired
            ):
                self._add_target(row, now)
        for cid in [c for c, t in self._targets.items() if c not in seen and not t.running]:
            gone = self._targets.pop(cid)
            if self._by_vehicle.get(gone.vehicle_id) is gone:
                del self._by_vehicle[gone.vehicle_id]
        for vehicle_id in list(self._read_first):
            target = self._by_vehicle.get(vehicle_id)
            if target is None:
                continue  # not loaded yet (its row may still be committing): next reload
            self._read_first.discard(vehicle_id)
            if not (target.queued or target.running):
                first = now if target.gap_fill_s is None else now + FIRST_DELIVERY_GRACE_S
                target.next_due = min(target.next_due, first)

    def _add_target(self, row: PollTarget, now: float) -> None:
        month = policy.month_key(now)
        used = row.requests_this_month if row.budget_month == month else 0
        interval = float(self._settings.poll_interval_s)
        last = row.last_sync_at.timestamp() if row.last_sync_at else None
        # Never polled (no budget month booked yet): linked on another console or before this
        # cron started; its "last sync" is the link itself, so read it now, not an interval on.
        never_polled = not row.budget_month
        due = now if last is None or never_polled else min(now + interval, last + interval)
        gap = self._gap_fill_s if row.webhook_subscribed else None
        if gap is not None:
            pushed = row.last_delivery_at
            due = max(due, pushed.timestamp() + gap if pushed else now + FIRST_DELIVERY_GRACE_S)
        target = VehicleTarget(
            row.connection_id,
            row.vehicle_id,
            row.smartcar_vehicle_id,
            month,
            used,
            due,
            kinds=list(snapshot_kinds(row.powertrain, row.granted_scopes)),
            gap_fill_s=gap,
        )
        self._targets[row.connection_id] = target
        previous = self._by_vehicle.get(row.vehicle_id)
        if previous is None or previous.connection_id < row.connection_id:
            self._by_vehicle[row.vehicle_id] = target

    @property
    def _budget(self) -> int:
        return self._settings.monthly_request_budget

    async def _schedule_due(self, now: float) -> None:
        if self._poller.paused_until() is not None:
            return  # the application-wide rate limit: nothing goes out until it ends
        due = [t for t in self._idle_targets() if t.next_due <= now]
        if not due:
            return
        cycle = PollCycle(now)
        for index, target in enumerate(due):
            if index % YIELD_EVERY == YIELD_EVERY - 1:
                await asyncio.sleep(0)  # let the UI loop breathe between chunks
            roll_month(target, now)
            if policy.paced_interval_s(self._budget, target.used, len(target.kinds), now) is None:
                self._set_state(target, PollState.BUDGET_PAUSED)
                target.next_due = policy.next_month_start(now)
                continue
            cycle.size += 1
            cycle.pending += 1
            target.cycle = cycle
            self._enqueue(target, SCHEDULED)

    def _enqueue(self, target: VehicleTarget, priority: int) -> None:
        target.ticket += 1
        target.queued = True
        self._queue.put_nowait((priority, next(self._seq), target.connection_id, target.ticket))

    async def _worker(self) -> None:
        while True:
            _, _, connection_id, ticket = await self._queue.get()
            target = self._targets.get(connection_id)
            if target is None or ticket != target.ticket or target.running:
                continue
            target.queued, target.running = False, True
            cycle, target.cycle = target.cycle, None
            ok = False
            try:
                ok = await self._poller.poll(target)
            except Exception:
                logger.exception("telemetry: poll of vehicle %s crashed", target.vehicle_id)
                target.next_due = self._clock() + policy.BACKOFF_CAP_S
            finally:
                target.running = False
                self._finish(target, cycle, ok)

    def _finish(self, target: VehicleTarget, cycle: PollCycle | None, ok: bool) -> None:
        self._polls += 1
        self._errors += not ok
        snapshot = poll_status(target, self._settings)
        for waiter in target.waiters:
            if not waiter.done():
                waiter.set_result(snapshot)
        target.waiters.clear()
        if cycle is not None:
            cycle.pending -= 1
            cycle.errors += not ok
            if cycle.pending == 0:
                end = self._clock()
                self._last_cycle = (end, end - cycle.started, cycle.size, cycle.errors)
        self._notify(target.vehicle_id)
        self._wake.set()

    # -- helpers ---------------------------------------------------------------------------

    def _set_state(self, target: VehicleTarget, state: PollState) -> None:
        if target.state is not state:
            target.state = state
            self._notify(target.vehicle_id)

    def _committed(self, vehicle_ids: frozenset[int]) -> None:
        for vehicle_id in vehicle_ids:
            self._notify(vehicle_id)

    def _notify(self, vehicle_id: int) -> None:
        self.changes.notify(vehicle_id)
