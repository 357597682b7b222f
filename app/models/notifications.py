"""The ``notification`` table: what was sent outside the console, to whom, and how it went.

Rows are written before the first attempt (state queued), so a crash or a failing channel
never loses one; the sender then marks each attempt. Blocking; call through ``Database.run``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update

from app.models.database import Database
from app.models.orm import Notification, Vehicle

QUEUED = "queued"
SENT = "sent"
FAILED = "failed"


@dataclass(frozen=True, slots=True)
class NewNotification:
    """One notification to record: which alert, channel and recipient, and its text."""

    alert_id: int | None
    channel: str
    recipient: str
    subject: str
    body: str


@dataclass(frozen=True, slots=True)
class NotificationRecord:
    id: int
    alert_id: int | None
    channel: str
    recipient: str
    subject: str
    body: str
    state: str
    attempts: int
    last_error: str
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None
    next_attempt_at: datetime | None


def _record(n: Notification) -> NotificationRecord:
    return NotificationRecord(
        n.id,
        n.alert_id,
        n.channel,
        n.recipient,
        n.subject,
        n.body,
        n.state,
        n.attempts,
        n.last_error,
        n.created_at,
        n.updated_at,
        n.sent_at,
        n.next_attempt_at,
    )


class NotificationRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    def vehicle_labels(self, vehicle_ids: Iterable[int]) -> dict[int, str]:
        """vehicle id -> "Name [fleet number]" for the notifications' text."""
        with self._db.session() as s:
            rows = s.execute(
                select(Vehicle.id, Vehicle.name, Vehicle.fleet_number).where(
                    Vehicle.id.in_(list(vehicle_ids))
                )
            )
            return {i: f"{name} [{number}]" for i, name, number in rows}

    def add(self, items: Iterable[NewNotification], now: datetime) -> list[NotificationRecord]:
        """Record ``items`` as queued (one transaction); returns them with their ids."""
        with self._db.session() as s:
            rows = [
                Notification(
                    alert_id=i.alert_id,
                    channel=i.channel,
                    recipient=i.recipient[:254],
                    subject=i.subject[:200],
                    body=i.body,
                    state=QUEUED,
                    attempts=0,
                    last_error="",
                    created_at=now,
                    updated_at=now,
                    next_attempt_at=now,
                )
                for i in items
            ]
            s.add_all(rows)
            s.flush()
            return [_record(r) for r in rows]

    def due(self, now: datetime) -> list[NotificationRecord]:
        """Queued and failed-to-be-retried rows whose next attempt is now or past, oldest
        first (also those left over by a console that quit before sending them)."""
        with self._db.session() as s:
            query = (
                select(Notification)
                .where(
                    Notification.state.in_((QUEUED, FAILED)),
                    Notification.next_attempt_at.is_not(None),
                    Notification.next_attempt_at <= now,
                )
                .order_by(Notification.id)
            )
            return [_record(n) for n in s.scalars(query)]

    def next_due(self, busy: Iterable[int] = ()) -> datetime | None:
        """When the earliest waiting row is due, leaving out the ``busy`` ones (being sent
        now); None: nothing waits."""
        query = (
            select(Notification.next_attempt_at)
            .where(
                Notification.state.in_((QUEUED, FAILED)),
                Notification.next_attempt_at.is_not(None),
            )
            .order_by(Notification.next_attempt_at)
            .limit(1)
        )
        busy = list(busy)
        if busy:
            query = query.where(Notification.id.not_in(busy))
        with self._db.session() as s:
            return s.scalar(query)

    def attempted(
        self,
        notification_id: int,
        now: datetime,
        *,
        error: str | None,
        retry_at: datetime | None = None,
    ) -> None:
        """One attempt done: sent (``error`` None), or failed and retried at ``retry_at``
        (None: no more attempts)."""
        values: dict[str, object] = {
            "attempts": Notification.attempts + 1,
            "updated_at": now,
        }
        if error is None:
            values.update(state=SENT, sent_at=now, last_error="", next_attempt_at=None)
        else:
            values.update(state=FAILED, last_error=error[:2000], next_attempt_at=retry_at)
        with self._db.session() as s:
            s.execute(update(Notification).where(Notification.id == notification_id).values(values))

    def recent(self, limit: int = 500, *, channel: str | None = None) -> list[NotificationRecord]:
        """The newest notifications first (the Notifications window)."""
        query = select(Notification).order_by(Notification.id.desc()).limit(limit)
        if channel is not None:
            query = query.where(Notification.channel == channel)
        with self._db.session() as s:
            return [_record(n) for n in s.scalars(query)]

    def waiting(self) -> dict[str, int]:
        """channel -> how many rows still wait to be sent (queued, or failed and retried)."""
        with self._db.session() as s:
            rows = s.execute(
                select(Notification.channel, func.count())
                .where(
                    Notification.state.in_((QUEUED, FAILED)),
                    Notification.next_attempt_at.is_not(None),
                )
                .group_by(Notification.channel)
            )
            return {channel: count for channel, count in rows}
