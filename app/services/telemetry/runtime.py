"""The telemetry cron of one process, built on the connection service's tokens.

The cron only ever sees tokens through ``ensure_fresh_token``; here that is the
connection service's ``TokenKeeper`` (encrypted tokens, single-flight refresh), whose
"reconnect needed" answers become None so the cron stops polling the connection. What the
polls say about a connection's health is stored by :class:`PollHealthStore`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from app.config import TelemetrySettings
from app.integrations.smartcar.client import SmartcarClient
from app.listeners import Listeners
from app.models.connections import ConnectionRepository
from app.models.database import Database
from app.models.enums import ConnectionStatus
from app.services.connections.health import RECONNECT_NEEDED, PollHealth, active_reason
from app.services.connections.service import ConnectionService
from app.services.connections.tokens import NotConnected, ReconnectNeeded, TokenKeeper
from app.services.telemetry.cron import TelemetryCron
from app.services.telemetry.writer import TelemetryWriter

POLLED_STATUSES = (ConnectionStatus.ACTIVE.value, ConnectionStatus.ERROR.value)


class KeeperTokens:
    """``ensure_fresh_token`` / ``mark_expired`` as the cron wants them."""

    def __init__(
        self, database: Database, connections: ConnectionService, keeper: TokenKeeper
    ) -> None:
        self._db = database
        self._connections = connections
        self._keeper = keeper

    async def ensure_fresh_token(
        self, connection_id: int, *, rejected: str | None = None
    ) -> str | None:
        try:
            return await self._keeper.access_token(connection_id, stale=rejected)
        except (ReconnectNeeded, NotConnected):
            return None  # the keeper has already recorded why

    async def mark_expired(self, connection_id: int, reason: str) -> None:
        repo = self._connections.repository
        record = await self._db.run(repo.get, connection_id)
        if record is None or record.status == ConnectionStatus.EXPIRED.value:
            return
        await self._db.run(
            repo.set_status,
            connection_id,
            ConnectionStatus.EXPIRED.value,
            RECONNECT_NEEDED,
            error=reason,
        )
        self._connections.changes.notify(record.vehicle_id)


class PollHealthStore:
    """``report_health`` for the cron: what the polls say (Active, or Error with why) onto
    the connection's status, written only when it differs from what is stored.

    Only Active and Error are the polls' to set: an Expired or Disconnected connection
    changed under a running poll and stays as it is.
    """

    def __init__(
        self,
        database: Database,
        repository: ConnectionRepository,
        changes: Listeners[[int]],
    ) -> None:
        self._db = database
        self._repo = repository
        self._changes = changes

    async def __call__(self, connection_id: int, health: PollHealth) -> None:
        record = await self._db.run(self._repo.get, connection_id)
        if record is None or record.status not in POLLED_STATUSES:
            return
        reason = health.reason or active_reason(record.granted_scopes)
        if (record.status, record.status_reason) == (health.status.value, reason):
            return
        await self._db.run(self._repo.set_status, connection_id, health.status.value, reason)
        self._changes.notify(record.vehicle_id)


def build_cron(
    database: Database,
    settings: TelemetrySettings,
    client: SmartcarClient,
    writer: TelemetryWriter,
    connections: ConnectionService,
    *,
    gap_fill_s: float | None = None,
    clock: Callable[[], float] = time.time,
) -> TelemetryCron:
    """The poll cron on the connection service's tokens, told of every connection change
    (a car connected, reconnected or disconnected: it re-reads the connections and reads
    a new one at once). Built once; :mod:`app.services.wiring.workers` spawns its run.
    ``gap_fill_s``: webhooks arrive, so a subscribed car is polled only after that long
    without a delivery (None: every car is polled on the schedule)."""
    tokens = KeeperTokens(database, connections, connections.tokens)
    cron = TelemetryCron(
        client,
        writer,
        database,
        ensure_fresh_token=tokens.ensure_fresh_token,
        mark_expired=tokens.mark_expired,
        settings=settings,
        report_health=PollHealthStore(database, connections.repository, connections.changes),
        gap_fill_s=gap_fill_s,
        clock=clock,
    )
    connections.changes.subscribe(cron.vehicle_connection_changed)
    connections.connects.subscribe(cron.connected)
    return cron
