"""What a verified Smartcar webhook changes: telemetry, the connection's health, the cron.

The receiver (:mod:`app.integrations.smartcar.webhook_receiver`) has checked the signature
and the age; here each event is routed to its connection by vehicle and user id and:

* ``VEHICLE_STATE``: its signals become readings (the same parsers and the same writer as
  polls), stored together with the event id in one transaction; only then is it
  acknowledged. A good delivery clears an Error the connection was in, and tells the cron
  that this car needs no poll for a while;
* ``VEHICLE_ERROR``: the connection goes to Error with Smartcar's reason, and back to
  Active when every error is RESOLVED.

An event id already stored is acknowledged without storing it again (Smartcar retries,
and may deliver twice); the same *delivery* id again is a replay of a captured request
and is refused. An event for a car no connection of this console has (disconnected,
another application's) is acknowledged and ignored, with one warning per car.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime

from app.integrations.smartcar.v3_signals import present_kinds, snapshot_from_signals
from app.integrations.smartcar.webhook_receiver import Ack
from app.integrations.smartcar.webhooks import (
    OtherEvent,
    VehicleErrorEvent,
    VehicleStateEvent,
    VerifyEvent,
    WebhookEvent,
)
from app.listeners import Listeners
from app.models.connections import ConnectionRecord, ConnectionRepository
from app.models.database import Database
from app.models.enums import ConnectionStatus
from app.models.webhook_events import WebhookDelivery, seen
from app.services.connections.health import active_reason
from app.services.telemetry.snapshot_readings import snapshot_readings
from app.services.telemetry.writer import TelemetryWriter

logger = logging.getLogger(__name__)

#: Event ids remembered in memory (older ones are looked up in the database).
RECENT_EVENTS = 100_000
_POLLED = (ConnectionStatus.ACTIVE.value, ConnectionStatus.ERROR.value)


class WebhookIngest:
    """``await ingest(event)`` → the :class:`Ack` the receiver answers with."""

    def __init__(
        self,
        database: Database,
        repository: ConnectionRepository,
        writer: TelemetryWriter,
        *,
        changed: Callable[[int], None],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._db = database
        self._repo = repository
        self._writer = writer
        self._changed = changed
        #: Hear the connection id of every stored delivery (the cron pushes its gap fill
        #: back: a car that keeps pushing is never polled).
        self.deliveries: Listeners[[int]] = Listeners("webhook deliveries")
        self._clock = clock
        self._routes: dict[str, list[ConnectionRecord]] | None = None
        self._routes_load: asyncio.Future[dict[str, list[ConnectionRecord]]] | None = None
        self._routes_version = 0  # bumped by every change: a load begun before is stale
        self._recent: OrderedDict[str, str] = OrderedDict()  # event id -> delivery id
        self._inflight: dict[str, asyncio.Future[bool]] = {}  # True once stored
        self._warned: set[str] = set()
        self._lookups: dict[str, asyncio.Future[bool]] = {}
        self._lookup_tasks: set[asyncio.Future[None]] = set()  # held until done (not GC'd)

    def connections_changed(self, vehicle_id: int | None = None) -> None:
        """A connection changed somewhere: re-read the routes on the next event."""
        self._routes = None
        self._routes_load = None  # deliveries from now on wait for a read begun after this
        self._routes_version += 1

    async def __call__(self, event: WebhookEvent) -> Ack:
        if isinstance(event, VerifyEvent | OtherEvent):
            logger.info("Smartcar webhook %s ignored", event.envelope.event_type)
            return Ack(202, "ignored")
        envelope = event.envelope
        event_id = envelope.event_id
        known = self._recent.get(event_id)
        if known is not None and envelope.delivery_id and known == envelope.delivery_id:
            logger.warning("Smartcar webhook delivery %s replayed", envelope.delivery_id)
            return Ack(409, "replayed")
        if known is not None or (
            event_id not in self._inflight and await self._stored_before(event_id)
        ):
            logger.info("Smartcar webhook event %s already stored", event_id)
            return Ack(200, "duplicate")
        connection = await self._route(event.vehicle_id, event.user_id)
        if connection is None:
            return Ack(202, "ignored")
        # Only now, after the last await before the store: two deliveries of one event that
        # came together both passed the checks above while their lookup ran, and both
        # stored (the second then failed with a KeyError, a 503 for data it had stored).
        pending = self._inflight.get(event_id)
        if pending is not None:  # the other one's outcome is this one's
            if not await asyncio.shield(pending):
                logger.warning("Smartcar webhook event %s not stored (retried later)", event_id)
                return Ack(503, "store failed")
            return Ack(200, "duplicate")
        if event_id in self._recent:  # the other one finished while this one awaited
            return Ack(200, "duplicate")
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._inflight[event_id] = future
        stored = False
        try:
            if isinstance(event, VehicleStateEvent):
                await self._state(event, connection)
            else:
                await self._error(event, connection)
            stored = True
        finally:
            del self._inflight[event_id]
            future.set_result(stored)
        self._remember(event_id, envelope.delivery_id or "")
        return Ack(200, "stored")

    async def _stored_before(self, event_id: str) -> bool:
        """Whether the database has the event; one query at a time, for every delivery
        that arrived while the previous one ran (the database thread is the bottleneck).

        A query per loop turn was one per delivery under a steady (not bursty) load: on
        PostgreSQL each is a pool checkout and round trips (~1 ms of the one database
        thread), queued ahead of the writer's commits: at 1,000 deliveries/s offered the
        ACK p50 was ~230 ms (p99 ~320 ms), the thread mostly spent on one-id lookups.
        """
        future = self._lookups.get(event_id)
        if future is None:
            future = self._lookups[event_id] = asyncio.get_running_loop().create_future()
            if len(self._lookups) == 1 and not self._lookup_tasks:
                asyncio.get_running_loop().call_soon(self._look_up)
        return await asyncio.shield(future)

    def _look_up(self) -> None:
        batch, self._lookups = self._lookups, {}

        async def run() -> None:
            try:
                found = await self._db.run(seen, self._db, list(batch))
            except Exception as exc:
                for future in batch.values():
                    future.set_exception(exc)
                return
            for event_id, future in batch.items():
                future.set_result(event_id in found)

        task = asyncio.ensure_future(run())
        self._lookup_tasks.add(task)
        task.add_done_callback(self._looked_up)

    def _looked_up(self, task: asyncio.Future[None]) -> None:
        self._lookup_tasks.discard(task)
        if self._lookups:  # arrived while that query ran: the next one has them all
            self._look_up()

    async def _route(self, vehicle_id: str, user_id: str) -> ConnectionRecord | None:
        routes = self._routes
        if routes is None:
            routes = await self._read_routes()
        for record in routes.get(vehicle_id, ()):
            if record.smartcar_user_id == user_id:
                return record
        if vehicle_id not in self._warned:
            self._warned.add(vehicle_id)
            logger.warning(
                "Smartcar webhook for vehicle %s (user %s) ignored: no V3 connection here",
                vehicle_id,
                user_id,
            )
        return None

    async def _read_routes(self) -> dict[str, list[ConnectionRecord]]:
        """The routes, read once for every delivery that needs them at the same time.

        Each delivery reading them itself made a burst on a cold table (the first after
        start, or after any connection change) queue one full ``live_v3`` read per
        delivery in flight on the one database thread, ahead of every commit: 64 in
        flight held the first ACKs ~0.5 s, which alone was the benchmark's p99.
        """
        load = self._routes_load
        if load is None:
            load = self._routes_load = asyncio.ensure_future(self._load_routes())
        return await asyncio.shield(load)

    async def _load_routes(self) -> dict[str, list[ConnectionRecord]]:
        version = self._routes_version
        try:
            records = await self._db.run(self._repo.live_v3)
        finally:
            if version == self._routes_version:  # else connections_changed dropped it already
                self._routes_load = None
        routes: dict[str, list[ConnectionRecord]] = {}
        for record in records:
            routes.setdefault(record.smartcar_vehicle_id, []).append(record)
        if version == self._routes_version:  # not cached when a change came meanwhile
            self._routes = routes
        return routes

    async def _state(self, event: VehicleStateEvent, connection: ConnectionRecord) -> None:
        now = self._clock()
        snapshot = snapshot_from_signals(
            event.vehicle_id, event.signals, present_kinds(event.signals)
        )
        readings = snapshot_readings(snapshot, connection.vehicle_id, now)
        delivery = WebhookDelivery(
            event.envelope.event_id,
            event.envelope.delivery_id or "",
            "VEHICLE_STATE",
            event.vehicle_id,
            connection.id,
            now,
        )
        await self._writer.store([*readings, delivery])
        self.deliveries.notify(connection.id)
        if connection.status == ConnectionStatus.ERROR.value:
            await self._set(connection, ConnectionStatus.ACTIVE, "")

    async def _error(self, event: VehicleErrorEvent, connection: ConnectionRecord) -> None:
        now = self._clock()
        open_problems = [p for p in event.problems if p.state != "RESOLVED"]
        delivery = WebhookDelivery(
            event.envelope.event_id,
            event.envelope.delivery_id or "",
            "VEHICLE_ERROR",
            event.vehicle_id,
            None,
            now,
        )
        await self._writer.store([delivery])
        if open_problems:
            first = open_problems[0]
            label = f"{first.type}:{first.code}" if first.code else first.type
            await self._set(
                connection, ConnectionStatus.ERROR, f"Smartcar reports {label}: {first.message}"
            )
        elif connection.status == ConnectionStatus.ERROR.value:
            await self._set(connection, ConnectionStatus.ACTIVE, "")

    async def _set(
        self, connection: ConnectionRecord, status: ConnectionStatus, reason: str
    ) -> None:
        if connection.status not in _POLLED:
            return  # Expired or Disconnected changed elsewhere: not a webhook's to undo
        reason = reason or active_reason(connection.granted_scopes)
        await self._db.run(self._repo.set_status, connection.id, status.value, reason)
        self.connections_changed()
        logger.info("connection %d is %s (webhook): %s", connection.id, status.value, reason)
        self._changed(connection.vehicle_id)

    def _remember(self, event_id: str, delivery_id: str) -> None:
        self._recent[event_id] = delivery_id
        while len(self._recent) > RECENT_EVENTS:
            self._recent.popitem(last=False)
