"""A fresh reading on demand (rental start and end), stored before it is used.

Rentals take their readings from the vehicle, not from a form: for a Smartcar car that
means one ``/batch`` read right now (through the connection service's TokenKeeper, so
tokens are refreshed and connection health updated as for any call), written through the
telemetry writer and awaited, so the latest state the rental reads IS that reading.
IoT devices push their state on their own; for them there is nothing to ask.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from app.integrations.smartcar.errors import SmartcarError
from app.services.connections.service import ConnectionService
from app.services.connections.tokens import ConnectionProblem
from app.services.telemetry.snapshot_readings import snapshot_readings
from app.services.telemetry.writer import TelemetryWriter

logger = logging.getLogger(__name__)


class ReadFailed(Exception):
    """The vehicle could not be read now; ``str(exc)`` is for the operator."""


class SmartcarReader:
    """``refresh(vehicle_id)``: read a Smartcar car now and store it; no-op for others."""

    def __init__(
        self,
        connections: ConnectionService,
        writer: TelemetryWriter | None,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._connections = connections
        self._writer = writer
        self._clock = clock

    async def refresh(self, vehicle_id: int) -> None:
        record = await self._connections.connection_for(vehicle_id)
        if record is None or not record.can_call:
            return
        writer = self._writer
        if writer is None:  # a console on a shared database: the collector reads
            raise ReadFailed("this console stores no telemetry itself")
        tokens = self._connections.tokens
        try:
            snapshot = await tokens.call(
                record.id, lambda car, token: tokens.client().read_snapshot(car, token)
            )
        except (ConnectionProblem, SmartcarError) as exc:
            raise ReadFailed(f"reading the car failed: {exc}") from exc
        readings = snapshot_readings(snapshot, vehicle_id, self._clock())
        await writer.store(readings)
        logger.debug("fresh read of vehicle %d stored (%d readings)", vehicle_id, len(readings))
