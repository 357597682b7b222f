"""Pruning of history that grows without bound: zone enter/exit events, sent
notifications and finished connect requests (the retention sweep, app.services.retention).

Blocking; call through ``Database.run``. Only rows that are over are removed: a
notification still queued or waiting for a retry, and a connect request the collector has
not finished, stay whatever their age, so pruning can never lose work.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Delete, and_, delete, or_
from sqlalchemy.orm import Session

from app.models.database import Database
from app.models.notifications import FAILED, SENT
from app.models.orm import ConnectRequest, Notification, ZoneEvent


@dataclass(frozen=True, slots=True)
class Cutoffs:
    """Rows older than these go (None: that table is kept for ever)."""

    zone_events: datetime | None = None
    notifications: datetime | None = None
    connect_requests: datetime | None = None


def prune(
    database: Database, cutoffs: Cutoffs, finished_requests: Collection[str]
) -> dict[str, int]:
    """Delete what ``cutoffs`` let go, in one transaction; how many rows per table.

    ``finished_requests``: the connect-request states that are final (the hand-off's).
    """
    statements: dict[str, Delete] = {}
    if cutoffs.zone_events is not None:
        statements[ZoneEvent.__tablename__] = delete(ZoneEvent).where(
            ZoneEvent.at < cutoffs.zone_events
        )
    if cutoffs.notifications is not None:
        statements[Notification.__tablename__] = delete(Notification).where(
            Notification.created_at < cutoffs.notifications,
            or_(
                Notification.state == SENT,
                # Given up: failed with no retry planned. A planned retry is still work.
                and_(Notification.state == FAILED, Notification.next_attempt_at.is_(None)),
            ),
        )
    if cutoffs.connect_requests is not None:
        statements[ConnectRequest.__tablename__] = delete(ConnectRequest).where(
            ConnectRequest.created_at < cutoffs.connect_requests,
            ConnectRequest.state.in_(sorted(finished_requests)),
        )
    with database.session() as session:
        return {table: _deleted(session, statement) for table, statement in statements.items()}


def _deleted(session: Session, statement: Delete) -> int:
    result = session.execute(statement, execution_options={"synchronize_session": False})
    return cast(CursorResult[Any], result).rowcount or 0
