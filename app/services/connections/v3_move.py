"""Moving v2.0 connections to API V3 without the owner reconnecting.

Smartcar's migration guide: V3 lists every existing connection (``GET /v3/connections``)
with its user id and vehicle id, the same ids v2.0 used; a V3 call needs only those, so a
v2.0 connection becomes a V3 one by storing the user id and dropping its token pair. A car
V3 does not list (its owner revoked access, or the application was not upgraded in the
Smartcar Dashboard) cannot be served by a V3 application: it is marked Expired and must be
reconnected. Runs once at start in the process that polls, when the application is V3.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from app.integrations.smartcar.errors import SmartcarError
from app.models.database import Database
from app.models.enums import ConnectionStatus
from app.services.connections.health import RECONNECT_NEEDED
from app.services.connections.service import ConnectionService

logger = logging.getLogger(__name__)

NOT_IN_V3 = "Smartcar API V3 does not list this car's connection; reconnect it."


@dataclass(frozen=True)
class MoveReport:
    moved: int = 0
    not_found: int = 0
    problem: str | None = None  # Smartcar could not be asked: nothing changed


async def move_to_v3(service: ConnectionService, db: Database) -> MoveReport:
    """Move every live v2.0 connection that V3 lists; see the module docstring."""
    client = service.tokens.client()
    if client.api_version != "3":
        return MoveReport()
    statuses = (
        ConnectionStatus.ACTIVE.value,
        ConnectionStatus.ERROR.value,
        ConnectionStatus.EXPIRED.value,
    )
    legacy = [r for r in await service.connections_with_tokens(statuses) if not r.v3]
    if not legacy:
        return MoveReport()
    try:
        listed = {c.vehicle_id: c for c in await client.v3.connections()}
    except SmartcarError as exc:
        logger.warning("moving connections to V3 failed: %s", exc)
        return MoveReport(problem=str(exc))
    moved = missing = 0
    repo = service.repository
    for record in legacy:
        found = listed.get(record.smartcar_vehicle_id)
        if found is None or (record.smartcar_user_id not in (None, found.user_id)):
            missing += 1
            await db.run(
                repo.set_status,
                record.id,
                ConnectionStatus.EXPIRED.value,
                RECONNECT_NEEDED,
                error=NOT_IN_V3,
            )
        else:
            moved += 1
            await db.run(repo.move_to_v3, record.id, found.user_id, list(found.permissions))
        service.changes.notify(record.vehicle_id)
    logger.info("moved %d Smartcar connection(s) to V3; %d not listed by V3", moved, missing)
    return MoveReport(moved, missing)
