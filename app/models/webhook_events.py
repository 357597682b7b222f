"""Smartcar webhook deliveries already stored, so one event is never stored twice.

A :class:`WebhookDelivery` travels with its readings through the telemetry writer and is
written in the same transaction (:func:`record_deliveries`): once the event id is in
``webhook_event`` its data is in too, and a crash in between loses both, so Smartcar's
retry stores it then. The delivery also stamps the connection's ``last_delivery_at``
(the telemetry cron polls a subscribed car only when deliveries stop).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, CursorResult, bindparam, delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.models.database import Database
from app.models.orm import SmartcarConnection, WebhookEvent

#: Smartcar advises remembering event ids for at least seven days.
KEEP_DAYS = 8


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    event_id: str
    delivery_id: str
    event_type: str
    smartcar_vehicle_id: str
    connection_id: int | None
    received_at: datetime


def seen(database: Database, event_ids: Sequence[str]) -> set[str]:
    """Which of these events were stored already (blocking; via ``Database.run``). One
    query for many: the receiver looks up every delivery that arrives at once together."""
    table = WebhookEvent.__table__
    with database.engine.connect() as connection:
        rows = connection.execute(
            select(table.c.event_id).where(table.c.event_id.in_(list(event_ids)))
        )
        return {row[0] for row in rows}


def record_deliveries(connection: Connection, deliveries: Sequence[WebhookDelivery]) -> None:
    """Insert the event ids (a duplicate is skipped) and stamp each connection's last
    delivery, inside the caller's transaction."""
    if not deliveries:
        return
    rows = [
        {
            "event_id": d.event_id,
            "delivery_id": d.delivery_id,
            "event_type": d.event_type,
            "smartcar_vehicle_id": d.smartcar_vehicle_id,
            "received_at": d.received_at,
        }
        for d in deliveries
    ]
    table = WebhookEvent.__table__
    if connection.dialect.name == "postgresql":
        connection.execute(pg_insert(table).on_conflict_do_nothing(), rows)
    elif connection.dialect.name == "sqlite":
        connection.execute(sqlite_insert(table).on_conflict_do_nothing(), rows)
    else:  # pragma: no cover - only the two dialects above are supported
        connection.execute(insert(table), rows)
    latest: dict[int, datetime] = {}
    for d in deliveries:
        if d.connection_id is not None:
            latest[d.connection_id] = max(latest.get(d.connection_id, d.received_at), d.received_at)
    if latest:
        c = SmartcarConnection.__table__
        connection.execute(
            update(c)
            .where(c.c.id == bindparam("p_id"))
            .values(
                last_delivery_at=bindparam("p_at", type_=c.c.last_delivery_at.type),
                last_sync_at=bindparam("p_at", type_=c.c.last_sync_at.type),
            ),
            [{"p_id": cid, "p_at": at} for cid, at in latest.items()],
        )


def prune(database: Database, before: datetime) -> int:
    """Forget event ids received before ``before``; returns how many."""
    with database.session() as session:
        result = session.execute(delete(WebhookEvent).where(WebhookEvent.received_at < before))
        return cast(CursorResult[Any], result).rowcount or 0
