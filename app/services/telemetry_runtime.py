"""Starts the telemetry writer and cron for one console, on the connection service's tokens.

The cron only ever sees tokens through ``ensure_fresh_token``; here that is the
connection service's ``TokenKeeper`` (encrypted tokens, single-flight refresh), whose
"reconnect needed" answers become None so the cron stops polling the connection.
"""

from __future__ import annotations

import logging

from app.models.database import Database
from app.models.enums import ConnectionStatus
from app.services.connection_health import RECONNECT_NEEDED
from app.services.connection_tokens import NotConnected, ReconnectNeeded, TokenKeeper
from app.services.connections import ConnectionService
from app.services.runtime import AppContext
from app.services.tasks import TaskOwner
from app.services.telemetry_cron import TelemetryCron
from app.services.telemetry_writer import TelemetryWriter

logger = logging.getLogger(__name__)


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
        for listener in list(self._connections.listeners):
            listener(record.vehicle_id)


def start_telemetry(context: AppContext, tasks: TaskOwner) -> None:
    """Writer always (the IoT gateway feeds it too); cron when Smartcar is available."""
    writer = TelemetryWriter(context.database)
    tasks.spawn(writer.run, "telemetry-writer", restart=True, drain=writer.flush)
    context.telemetry_writer = writer
    client = context.backends.smartcar
    if client is None:
        logger.info("telemetry cron not started: Smartcar is not available")
        return
    connections = context.connections
    tokens = KeeperTokens(context.database, connections, connections.tokens)
    cron = TelemetryCron(
        client,
        writer,
        context.database,
        ensure_fresh_token=tokens.ensure_fresh_token,
        mark_expired=tokens.mark_expired,
        settings=context.settings.telemetry,
    )
    # A car connected, reconnected or disconnected: the cron re-reads the connections and
    # syncs a new one at once.
    connections.listeners.append(cron.vehicle_connection_changed)
    tasks.spawn(cron.run, "telemetry-cron", restart=True)
    context.telemetry_cron = cron
